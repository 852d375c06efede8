"""Dead letters of the scanner: a SQLite ``dead_letters`` row and an ``event`` on the price bus.

A frame the scanner cannot parse must not vanish (architecture: nothing is lost silently) and must
not stop the feed. Each one is kept byte for byte with the reason, and announced as
``Event(source="scanner", event_type="dead_letter")`` so a watcher sees it without polling SQLite.
A failure to store it is logged and counted, never raised: the feed outranks its audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from polybot.bus.messages import Event
from polybot.bus.nng import Publisher
from polybot.core.clock import wall_ms
from polybot.core.errors import BusError
from polybot.storage.journal import record_dead_letter

log = logging.getLogger(__name__)

CountFn = Callable[[str, int], None]
REASON_LIMIT = 2000  # characters of the reason carried on the bus (the row keeps all of it)


class DeadLetters:
    """Store and announce frames nobody could process."""

    def __init__(
        self,
        engine: Engine,
        *,
        service: str,
        publisher: Publisher | None = None,
        count: CountFn | None = None,
    ) -> None:
        self._engine = engine
        self._service = service
        self._publisher = publisher
        self._count = count or (lambda _name, _amount: None)
        self.stored = 0
        self.failed = 0

    def record(self, payload: bytes, reason: str, *, origin: str) -> int | None:
        """Keep one frame with why it was refused; return the row id (None if storing failed)."""
        self._count("dead_letters", 1)
        source = f"{self._service}:{origin}"
        letter_id: int | None = None
        try:
            with Session(self._engine) as session:
                letter = record_dead_letter(session, source=source, reason=reason, payload=payload)
                letter_id = letter.id
                session.commit()
            self.stored += 1
        except SQLAlchemyError:
            self.failed += 1
            self._count("dead_letter_store_errors", 1)
            log.exception("could not store a dead letter from %s (%s)", source, reason)
        log.warning("dead letter from %s: %s", source, reason[:200])
        if self._publisher is not None:
            event = Event(
                source=self._service,
                event_type="dead_letter",
                data={
                    "origin": origin,
                    "reason": reason[:REASON_LIMIT],
                    "bytes": len(payload),
                    "dead_letter_id": letter_id,
                },
                timestamp=wall_ms(),
            )
            try:
                self._publisher.publish(event)
            except BusError:
                log.warning("could not announce a dead letter on %s", self._publisher.address)
        return letter_id

"""Re-snapshot the runner's books from the scanner after a gap on ``prices.pub``.

A sequence gap (messages dropped) or a reset (the scanner restarted) means some book changes never
arrived, so books may be wrong. The runner asks the scanner's ``book.snapshot`` endpoint
(``bus.snapshots_req``) for every book; the answer carries the publisher's ``seq`` at the moment
the books were read. Book messages that arrived while the request was in flight and carry a
higher ``seq`` are applied again on top of the snapshot, so nothing is lost either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import msgspec
import pynng

from polybot.bus.endpoints import Requester, new_request_id
from polybot.bus.messages import BookDelta, BookSnapshot, Command, Message
from polybot.bus.nng import Gap
from polybot.core.clock import wall_ms
from polybot.core.errors import BusError
from polybot.runner.host import StrategyRunner

log = logging.getLogger(__name__)

SNAPSHOT_COMMAND = "book.snapshot"  # the scanner's endpoint (polybot.marketdata.snapshots)
RETRY_S = 1.0


class SnapshotRecovery:
    """Request books after a gap and hand them to the runner, at most one request at a time."""

    def __init__(
        self,
        requester: Requester,
        runner: StrategyRunner,
        *,
        count: Callable[[str], None],
        timeout_s: float = 5.0,
        attempts: int = 3,
    ) -> None:
        self._requester = requester
        self._runner = runner
        self._count = count
        self._timeout_s = timeout_s
        self._attempts = attempts
        self._needed = False
        self._buffer: list[BookSnapshot | BookDelta] | None = None
        self._task: asyncio.Task[None] | None = None

    def on_gap(self, gap: Gap) -> None:
        """Schedule a re-snapshot (the subscriber's gap callback; runs on the loop)."""
        self._count("price_gaps")
        log.warning("prices.pub %s: re-snapshotting books", "reset" if gap.reset else "gap")
        self._needed = True
        if self._buffer is None:
            self._buffer = []  # from now on: the message that revealed the gap comes next
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._recover())

    def observe(self, message: Message) -> None:
        """Remember book messages that arrive while a snapshot is being fetched."""
        if self._buffer is not None and isinstance(message, BookSnapshot | BookDelta):
            self._buffer.append(message)

    async def _recover(self) -> None:
        try:
            while self._needed:
                self._needed = False
                books, seq = await self._fetch()
                later = [m for m in self._buffer or [] if m.seq > seq]
                self._buffer = [] if self._needed else None
                if books is not None:
                    self._runner.resync(books, later)
                    self._count("resnapshots")
        finally:
            self._buffer = None
            self._task = None

    async def _fetch(self) -> tuple[list[BookSnapshot] | None, int]:
        for attempt in range(1, self._attempts + 1):
            command = Command(
                request_id=new_request_id(), command=SNAPSHOT_COMMAND, timestamp=wall_ms()
            )
            try:
                response = await self._requester.arequest(command, timeout=self._timeout_s)
            except (BusError, pynng.NNGException) as exc:
                log.warning("book snapshot attempt %d failed: %s", attempt, exc)
                await asyncio.sleep(RETRY_S)
                continue
            if not response.ok or not isinstance(response.result, dict):
                log.warning("book snapshot refused: %s", response.error)
                break
            try:
                books = msgspec.convert(response.result.get("books", []), list[BookSnapshot])
                seq = int(response.result.get("seq", 0))
            except (msgspec.ValidationError, TypeError, ValueError) as exc:
                log.warning("book snapshot unreadable: %s", exc)
                break
            return books, seq
        self._count("resnapshot_failures")
        return None, 0

    async def close(self) -> None:
        """Cancel a recovery in flight."""
        task = self._task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

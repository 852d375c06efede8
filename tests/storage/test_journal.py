"""Dead letters, audit rows, foreign keys and write locking in a real, migrated SQLite file.

(The signal journal and order intents are tested with their owner: tests/execution/test_order_store.py.)
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from polybot.storage.journal import (
    record_audit,
    record_dead_letter,
)
from polybot.storage.models import (
    AuditLogEntry,
    DeadLetter,
    Trade,
)
from polybot.storage.sqlite import make_engine, make_session_factory


def test_foreign_keys_are_enforced(sessions) -> None:
    with pytest.raises(IntegrityError, match="FOREIGN KEY"), sessions.begin() as session:
        session.add(Trade(fill_id="f1", order_id=999, market_id="0xabc", token_id="111",
                          side="BUY", price=Decimal("0.5"), size=Decimal("1"),
                          liquidity="TAKER", status="MATCHED",
                          traded_at=datetime(2026, 1, 1, tzinfo=UTC)))


def test_dead_letter_and_audit_rows(sessions) -> None:
    frame = b"\x81\xa4type\xa3bad"
    with sessions.begin() as session:
        record_dead_letter(session, source="executor.pull", reason="unknown type 'bad'",
                           payload=frame)
        record_audit(session, actor="api:127.0.0.1", command="risk.set",
                     args={"max_daily_loss": Decimal("250")}, result="ok", is_ok=True,
                     request_id="r1")
    with sessions() as session:
        letter = session.scalars(select(DeadLetter)).one()
        audit = session.scalars(select(AuditLogEntry)).one()
    assert (letter.source, letter.payload) == ("executor.pull", frame)
    assert json.loads(audit.args) == {"max_daily_loss": "250"}
    assert (audit.actor, audit.command, audit.is_ok) == ("api:127.0.0.1", "risk.set", True)


def test_concurrent_read_then_write_transactions_all_commit(db_path: Path) -> None:
    # Deferred transactions that read and then write fail with SQLITE_BUSY when another
    # connection commits in between; BEGIN IMMEDIATE makes them wait instead.
    engines = [make_engine(db_path) for _ in range(3)]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        sessions = make_session_factory(engines[index])
        try:
            for n in range(30):
                with sessions.begin() as session:
                    count = len(session.scalars(select(DeadLetter.id)).all())
                    record_dead_letter(session, source=f"w{index}", reason=str(count),
                                       payload=str(n).encode())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.dispose()

    assert errors == []
    check = make_engine(db_path, read_only=True)
    with make_session_factory(check)() as session:
        assert len(session.scalars(select(DeadLetter.id)).all()) == 90
    check.dispose()

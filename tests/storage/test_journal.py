"""Signal journal, order intents, dead letters and audit rows in a real, migrated SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from polybot.bus import codec
from polybot.bus.messages import Signal
from polybot.core.money import to_decimal
from polybot.storage.journal import (
    journal_order_intent,
    journal_signal,
    pending_order_intents,
    record_audit,
    record_dead_letter,
    set_signal_status,
)
from polybot.storage.migrate import init_db
from polybot.storage.models import (
    AuditLogEntry,
    DeadLetter,
    Order,
    OrderStatus,
    SignalJournalEntry,
    SignalStatus,
    Trade,
)
from polybot.storage.sqlite import make_engine, make_session_factory


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "polybot.db"
    init_db(path)
    return path


@pytest.fixture
def sessions(db_path: Path):
    engine = make_engine(db_path)
    yield make_session_factory(engine)
    engine.dispose()


def make_signal(signal_id: str = "sig-1") -> Signal:
    return Signal(strategy="fade", market_id="0xabc", action="BUY_YES", token_id="111",
                  price=0.45, size=100.0, reason="spike", signal_id=signal_id)


def journal(session, signal: Signal, **extra):
    return journal_signal(
        session, signal_id=signal.signal_id, strategy=signal.strategy,
        market_id=signal.market_id, token_id=signal.token_id, action=signal.action,
        price=to_decimal(signal.price), size=to_decimal(signal.size),
        payload=codec.encode(signal), **extra,
    )


def test_signal_is_journalled_with_raw_frame_and_is_idempotent(sessions) -> None:
    signal = make_signal()
    with sessions.begin() as session:
        entry, is_new = journal(session, signal)
        assert is_new
    with sessions.begin() as session:
        again, is_new_again = journal(session, signal)

    assert not is_new_again
    assert again.id == entry.id
    with sessions() as session:
        stored = session.scalars(select(SignalJournalEntry)).one()
    assert codec.decode(stored.payload) == signal
    assert (stored.price, stored.size) == (Decimal("0.45"), Decimal("100"))
    assert stored.status == SignalStatus.RECEIVED
    assert stored.received_at.tzinfo is not None


def test_rejected_signal_keeps_its_reason(sessions) -> None:
    with sessions.begin() as session:
        journal(session, make_signal())
        set_signal_status(session, "sig-1", SignalStatus.REJECTED, "max_order_notional 45 > 40")
    with sessions() as session:
        stored = session.scalars(select(SignalJournalEntry)).one()
    assert (stored.status, stored.reason) == ("REJECTED", "max_order_notional 45 > 40")
    with sessions.begin() as session, pytest.raises(KeyError, match="nope"):
        set_signal_status(session, "nope", SignalStatus.FAILED)


def test_order_intent_links_signal_and_duplicate_client_order_id_is_refused(sessions) -> None:
    with sessions.begin() as session:
        journal(session, make_signal())
        order = journal_order_intent(
            session, client_order_id="coid-1", signal_id="sig-1", market_id="0xabc",
            token_id="111", side="BUY", price=Decimal("0.45"), size=Decimal("100"),
            strategy="fade",
        )
    with sessions() as session:
        entry = session.scalars(select(SignalJournalEntry)).one()
        stored = session.get(Order, order.id)
        assert stored is not None
    assert (entry.status, entry.client_order_id) == (SignalStatus.SUBMITTING, "coid-1")
    assert stored.status == OrderStatus.PENDING_SUBMIT
    assert stored.size_matched == Decimal(0)  # the server default, read back as exact Decimal

    with pytest.raises(IntegrityError), sessions.begin() as session:
        journal_order_intent(
            session, client_order_id="coid-1", market_id="0xabc", token_id="111", side="BUY",
            price=Decimal("0.45"), size=Decimal("1"),
        )


def test_foreign_keys_are_enforced(sessions) -> None:
    with pytest.raises(IntegrityError, match="FOREIGN KEY"), sessions.begin() as session:
        session.add(Trade(fill_id="f1", order_id=999, market_id="0xabc", token_id="111",
                          side="BUY", price=Decimal("0.5"), size=Decimal("1"),
                          liquidity="TAKER", status="MATCHED",
                          traded_at=datetime(2026, 1, 1, tzinfo=UTC)))


CRASHING_EXECUTOR = """
import os, sys
from decimal import Decimal
from polybot.storage.journal import journal_order_intent
from polybot.storage.sqlite import make_engine, make_session_factory
sessions = make_session_factory(make_engine(sys.argv[1]))
with sessions.begin() as session:
    journal_order_intent(session, client_order_id="coid-crash", market_id="0xabc",
                         token_id="111", side="SELL", price=Decimal("0.61"), size=Decimal("5"))
os._exit(9)  # dies between the journal commit and the venue call
"""


def test_order_intent_survives_a_crash_before_submit(db_path: Path, sessions) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CRASHING_EXECUTOR, str(db_path)], capture_output=True, timeout=60,
        check=False,
    )
    assert result.returncode == 9, result.stderr.decode()

    with sessions() as session:
        pending = pending_order_intents(session)
    assert [(o.client_order_id, o.side, o.price) for o in pending] == [
        ("coid-crash", "SELL", Decimal("0.61"))
    ]


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

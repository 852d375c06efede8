"""The executor's journal and ledger on a real, migrated SQLite file (no venue needed).

What matters here is the crash-safety contract of ``OrderStore`` — one commit per decision, the
accepted signal and its order intent together, the signed timestamp read back to the millisecond —
and that its in-memory view always agrees with what a fresh reader of the database sees.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from polybot.bus import codec
from polybot.bus.messages import Fill, Signal
from polybot.execution.intake import OrderPlan
from polybot.execution.orders import DuplicateSignal, OrderStore, created_ms, ms_datetime
from polybot.execution.portfolio import Ledger
from polybot.model.fees import NO_FEES
from polybot.storage.models import Order, OrderStatus, SignalJournalEntry, SignalStatus
from polybot.storage.sqlite import make_engine, make_session_factory

CREATED_MS = 1_764_000_000_123  # an odd millisecond: float round trips would lose it




def make_signal(signal_id: str = "sig-1", price: float = 0.45) -> Signal:
    return Signal(strategy="fade", market_id="0xabc", action="BUY_YES", token_id="111",
                  price=price, size=100.0, reason="spike", signal_id=signal_id)


def fields_of(signal: Signal) -> dict:
    return {"signal_id": signal.signal_id, "strategy": signal.strategy,
            "market_id": signal.market_id, "token_id": signal.token_id,
            "action": signal.action, "price_exact": Decimal(str(signal.price)),
            "size_exact": Decimal(str(signal.size))}


def plan_of(signal: Signal) -> OrderPlan:
    return OrderPlan(
        signal_id=signal.signal_id, client_order_id=signal.signal_id, strategy=signal.strategy,
        market_id=signal.market_id, token_id=signal.token_id, side="BUY",
        price=Decimal(str(signal.price)), size=Decimal("100"), order_type="GTC",
        post_only=False, expiration=0, outcome_index=0, event_id="", neg_risk=False,
        tick_size=Decimal("0.01"), fee_schedule=NO_FEES,
    )


def accept(store: OrderStore, signal: Signal) -> Order:
    return store.journal_intent(fields_of(signal), codec.encode(signal), plan_of(signal),
                                venue_order_id=f"0x{signal.signal_id}", created=CREATED_MS)


def stored(sessions: sessionmaker[Session], model, **where):
    with sessions() as session:
        return session.scalars(select(model).filter_by(**where)).one()


def test_accepted_signal_and_intent_commit_together(sessions) -> None:
    store = OrderStore(sessions, account="0xme", venue="local")
    signal = make_signal()
    order = accept(store, signal)

    entry = stored(sessions, SignalJournalEntry, signal_id="sig-1")
    row = stored(sessions, Order, client_order_id="sig-1")
    assert (entry.status, entry.client_order_id) == (SignalStatus.SUBMITTING, "sig-1")
    assert codec.decode(entry.payload) == signal
    assert (entry.price, entry.size) == (Decimal("0.45"), Decimal("100"))
    assert (row.status, row.venue_order_id, row.id) == (OrderStatus.PENDING_SUBMIT, "0xsig-1", order.id)
    assert row.size_matched == Decimal(0)
    # The signed timestamp survives the database exactly: a resubmit rebuilds the same order.
    assert created_ms(row) == created_ms(order) == CREATED_MS
    assert ms_datetime(CREATED_MS) == row.created_at


def test_a_resent_signal_is_a_duplicate_and_changes_nothing(sessions) -> None:
    store = OrderStore(sessions, account="0xme", venue="local")
    signal = make_signal()
    accept(store, signal)
    with pytest.raises(DuplicateSignal):
        accept(store, signal)
    with pytest.raises(DuplicateSignal):
        store.record_decision(fields_of(signal), SignalStatus.REJECTED, "late", codec.encode(signal))
    assert stored(sessions, SignalJournalEntry, signal_id="sig-1").status == SignalStatus.SUBMITTING
    with sessions() as session:
        assert len(session.scalars(select(Order)).all()) == 1


def test_refusals_and_failures_keep_their_reason(sessions) -> None:
    store = OrderStore(sessions, account="0xme", venue="local")
    refused, broken = make_signal("sig-r"), make_signal("sig-f")
    store.record_decision(fields_of(refused), SignalStatus.REJECTED,
                          "max_order_notional: 45 > 40", codec.encode(refused))
    store.record_failure(fields_of(broken), "internal error: boom", codec.encode(broken))
    # A failure after a terminal fate does not overwrite it.
    store.record_failure(fields_of(refused), "internal error: late", codec.encode(refused))

    assert (stored(sessions, SignalJournalEntry, signal_id="sig-r").reason
            == "max_order_notional: 45 > 40")
    failed = stored(sessions, SignalJournalEntry, signal_id="sig-f")
    assert (failed.status, failed.reason) == (SignalStatus.FAILED, "internal error: boom")


def test_memory_agrees_with_the_database_across_restarts(sessions) -> None:
    store = OrderStore(sessions, account="0xme", venue="local")
    for n in range(3):
        accept(store, make_signal(f"sig-{n}"))
    store.update_order("sig-0", status=OrderStatus.LIVE, submitted=True)
    store.update_order("sig-1", status=OrderStatus.CANCELED, reason="killed")
    assert store.advance_signal("sig-1", SignalStatus.CANCELED, "killed")
    assert not store.advance_signal("sig-1", SignalStatus.SUBMITTED)  # terminal stays terminal

    fresh = OrderStore(sessions, account="0xme", venue="local")  # a restarted executor
    for view in (store, fresh):
        assert [o.client_order_id for o in view.open_orders()] == ["sig-0", "sig-2"]
        assert [o.client_order_id for o in view.orders([OrderStatus.CANCELED])] == ["sig-1"]
        assert view.order(venue_order_id="0xsig-1").reason == "killed"
    row = stored(sessions, Order, client_order_id="sig-0")
    assert row.status == OrderStatus.LIVE
    assert row.submitted_at is not None
    assert OrderStore(sessions, account="0xother", venue="local").open_orders() == []


CRASHING_EXECUTOR = """
import os, sys
from decimal import Decimal
sys.path.insert(0, sys.argv[2])
from test_order_store import accept, make_signal
from polybot.execution.orders import OrderStore
from polybot.storage.sqlite import make_engine, make_session_factory
store = OrderStore(make_session_factory(make_engine(sys.argv[1])), account="0xme", venue="local")
accept(store, make_signal("sig-crash", price=0.61))
os._exit(9)  # dies between the journal commit and the venue call
"""


def test_intent_survives_a_crash_before_submit(db_path: Path, sessions) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CRASHING_EXECUTOR, str(db_path), str(Path(__file__).parent)],
        capture_output=True, timeout=60, check=False,
    )
    assert result.returncode == 9, result.stderr.decode()
    pending = OrderStore(sessions, account="0xme", venue="local").orders([OrderStatus.PENDING_SUBMIT])
    assert [(o.client_order_id, o.price, created_ms(o)) for o in pending] == [
        ("sig-crash", Decimal("0.61"), CREATED_MS)
    ]


def fill(fill_id: str, side: str, price: str, size: str, when: datetime) -> Fill:
    return Fill(fill_id=fill_id, order_id="0xsig-1", client_order_id="sig-1", strategy="fade",
                market_id="0xabc", token_id="111",
                side=side, price=Decimal(price), size=Decimal(size), fee=Decimal("0"),
                liquidity="TAKER", status="MATCHED", timestamp=int(when.timestamp() * 1000))


def test_daily_pnl_counts_only_what_moved_today(sessions) -> None:
    store = OrderStore(sessions, account="0xme", venue="local")
    order = accept(store, make_signal())
    yesterday = datetime.now(UTC) - timedelta(days=1)
    ledger = Ledger(sessions, account="0xme")
    assert ledger.record_fill(fill("f1", "BUY", "0.50", "100", yesterday), order)
    assert not ledger.record_fill(fill("f1", "BUY", "0.50", "100", yesterday), order)  # once

    # Restarted today holding 100 bought yesterday at 0.50, now marked at 0.30: a 20 loss that
    # belongs to yesterday-or-before, not to today's loss limit.
    marks = {"111": Decimal("0.30")}
    ledger = Ledger(sessions, account="0xme")
    first = ledger.pnl(marks.get)
    assert (first.unrealized, first.daily) == (Decimal("-20"), Decimal("0"))
    marks["111"] = Decimal("0.25")  # today it falls further: that part is today's
    assert ledger.pnl(marks.get).daily == Decimal("-5")
    assert ledger.record_fill(fill("f2", "SELL", "0.25", "100", datetime.now(UTC)), order)
    after = ledger.pnl(marks.get)
    # Sold at 0.25: realized −25 today, the −20 carried in is released from unrealized.
    assert (after.realized, after.unrealized, after.daily) == (Decimal("-25"), 0, Decimal("-5"))


def test_a_restart_in_the_middle_of_the_day_keeps_the_days_pnl(sessions) -> None:
    """Today's PnL (the daily-loss limit's input) measures from the same start after a restart."""
    store = OrderStore(sessions, account="0xme", venue="local")
    old, new = accept(store, make_signal("sig-1")), accept(store, make_signal("sig-2"))
    yesterday = datetime.now(UTC) - timedelta(days=1)
    ledger = Ledger(sessions, account="0xme")
    assert ledger.record_fill(fill("f1", "BUY", "0.50", "100", yesterday), old)
    marks = {"111": Decimal("0.30")}
    assert ledger.pnl(marks.get).daily == 0  # first mark of the day: the −20 is yesterday's
    marks["111"] = Decimal("0.25")
    today = fill("f2", "BUY", "0.50", "100", datetime.now(UTC))
    today = msgspec.structs.replace(today, client_order_id="sig-2", order_id="0xsig-2",
                                    token_id="222")
    assert ledger.record_fill(today, new)
    marks["222"] = Decimal("0.45")  # opened today: all of its −5 is today's
    before = ledger.pnl(marks.get)
    assert before.daily == Decimal("-10")

    restarted = Ledger(sessions, account="0xme")
    after = restarted.pnl(marks.get)
    assert (after.unrealized, after.daily) == (before.unrealized, Decimal("-10"))
    marks["111"] = Decimal("0.20")
    assert restarted.pnl(marks.get).daily == Decimal("-15")


def test_a_strategy_disabled_by_another_process_is_refused_at_once(db_path: Path, sessions) -> None:
    """``Controls.is_disabled`` caches, but never past a commit by another connection."""
    from sqlalchemy import event

    from polybot.execution.control import Controls
    from polybot.risk import RiskLimits
    from polybot.storage.models import StrategyConfig

    store = OrderStore(sessions, account="0xme", venue="local")
    controls = Controls(RiskLimits(), db_path.parent, sessions, db_version=store.data_version)
    queries: list[str] = []
    event.listen(sessions.kw["bind"], "before_cursor_execute",
                 lambda _c, _cur, sql, *_: queries.append(sql) if "strategy_configs" in sql else None)
    api = make_session_factory(make_engine(db_path))  # the API process's own connection

    def configure(enabled: bool, version: str) -> None:
        with api.begin() as session:
            session.add(StrategyConfig(strategy="fade", config_hash=version, config="{}",
                                       is_enabled=enabled))

    assert not controls.is_disabled("fade")  # no config row at all
    configure(False, "v1")
    assert controls.is_disabled("fade")
    asked = len(queries)
    accept(store, make_signal("sig-own"))  # the executor's own commits keep the cache valid
    assert controls.is_disabled("fade")
    assert controls.is_disabled("fade")
    assert len(queries) == asked
    configure(True, "v2")
    assert not controls.is_disabled("fade")
    assert len(queries) == asked + 1

"""CPU of the executor's decision-path writes: ``OrderStore`` (prepared statements on a raw
connection) next to the same statements run through SQLAlchemy Core, and next to hand-written
``sqlite3``, all in the same run on real, migrated SQLite files.

Measured: the accepted signal's journal transaction (the signal row and the order intent, one
commit) — what the executor does between its risk check and announcing ``signal_accepted`` — and
``Controls.is_disabled`` cached against a query per call. Ratios are against hand-written
``sqlite3`` (the floor for Python).

Usage: ``python bench/order_store.py [--n N]``; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from polybot.execution.control import Controls
from polybot.execution.intake import OrderPlan
from polybot.execution.orders import OrderStore
from polybot.model.fees import NO_FEES
from polybot.risk import RiskLimits
from polybot.storage.migrate import init_db
from polybot.storage.models import Order, SignalJournalEntry
from polybot.storage.sqlite import make_engine, make_session_factory
from polybot.storage.types import canonical_decimal

PAYLOAD = b"\x85" + b"x" * 180  # about the size of an encoded signal
PRICE, CREATED = Decimal("0.01"), 1_764_000_000_123


def _plan(n: int) -> OrderPlan:
    sid = f"sig-{n:08d}"
    return OrderPlan(
        signal_id=sid, client_order_id=f"c-{sid}", strategy="echo", market_id="0xm",
        token_id="123", side="BUY", price=PRICE, size=Decimal(100 + n % 997), order_type="FOK",
        post_only=False, expiration=0, outcome_index=0, event_id="", neg_risk=False,
        tick_size=PRICE, fee_schedule=NO_FEES,
    )  # fmt: skip


def _fields(plan: OrderPlan) -> dict[str, object]:
    return {
        "signal_id": plan.signal_id, "strategy": plan.strategy, "market_id": plan.market_id,
        "token_id": plan.token_id, "action": "BUY", "price_exact": plan.price,
        "size_exact": plan.size,
    }  # fmt: skip


def _fresh_db() -> Path:
    path = Path(tempfile.mkdtemp(prefix="polybot-bench-")) / "polybot.db"
    init_db(path)
    return path


def store_journal() -> Callable[[int], None]:
    """``OrderStore.journal_intent`` as the executor calls it."""
    store = OrderStore(make_session_factory(make_engine(_fresh_db())), account="0xa", venue="x")

    def run(n: int) -> None:
        plan = _plan(n)
        store.journal_intent(_fields(plan), PAYLOAD, plan, venue_order_id=f"0x{n}", created=CREATED)

    return run


def core_journal() -> Callable[[int], None]:
    """The same two inserts through SQLAlchemy Core on one kept connection (the previous path)."""
    connection = make_engine(_fresh_db()).connect()
    signals, orders = SignalJournalEntry.__table__, Order.__table__

    def run(n: int) -> None:
        plan = _plan(n)
        with connection.begin():
            connection.execute(signals.insert(), _signal_row(plan))  # type: ignore[attr-defined]
            connection.execute(orders.insert(), _order_row(plan))  # type: ignore[attr-defined]

    return run


def raw_journal() -> Callable[[int], None]:
    """Hand-written ``sqlite3``: the floor."""
    connection = sqlite3.connect(_fresh_db(), isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    signal_sql = _insert_sql("signal_journal", _signal_row(_plan(0)))
    order_sql = _insert_sql("orders", _order_row(_plan(0)))

    def run(n: int) -> None:
        plan = _plan(n)
        row = {k: _text(v) for k, v in _order_row(plan).items()}
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(signal_sql, {k: _text(v) for k, v in _signal_row(plan).items()})
        connection.execute(order_sql, row)
        connection.execute("COMMIT")

    return run


def _signal_row(plan: OrderPlan) -> dict[str, object]:
    return {
        "signal_id": plan.signal_id, "strategy": plan.strategy, "market_id": plan.market_id,
        "token_id": plan.token_id, "action": "BUY", "price": plan.price, "size": plan.size,
        "payload": PAYLOAD, "status": "SUBMITTING", "reason": "",
        "client_order_id": plan.client_order_id,
    }  # fmt: skip


def _order_row(plan: OrderPlan) -> dict[str, object]:
    return {
        "client_order_id": plan.client_order_id, "venue_order_id": f"0x{plan.signal_id}",
        "signal_id": plan.signal_id, "strategy": plan.strategy, "account": "0xa", "venue": "x",
        "market_id": plan.market_id, "token_id": plan.token_id, "side": plan.side,
        "order_type": plan.order_type, "price": plan.price, "original_size": plan.size,
        "size_matched": Decimal(0), "fees_paid": Decimal(0), "post_only": False,
        "expiration": 0, "status": "PENDING_SUBMIT", "reason": "",
    }  # fmt: skip


def _insert_sql(table: str, row: dict[str, object]) -> str:
    return f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})"


def _text(value: object) -> object:
    return canonical_decimal(value) if isinstance(value, Decimal) else value


def enabled_check(*, cached: bool) -> Callable[[int], None]:
    """``Controls.is_disabled`` with the data-version cache, or querying every time."""
    sessions = make_session_factory(make_engine(_fresh_db()))
    store = OrderStore(sessions, account="0xa", venue="x")
    controls = Controls(
        RiskLimits(),
        Path(tempfile.mkdtemp()),
        sessions,
        db_version=store.data_version if cached else None,
    )

    def run(n: int) -> None:
        controls.is_disabled("echo")

    return run


def cpu_us(run: Callable[[int], None], n: int, offset: int) -> float:
    """Return CPU µs per call of ``run`` over ``n`` calls (after a warm-up)."""
    for i in range(50):
        run(offset + i)
    start = time.thread_time_ns()
    for i in range(n):
        run(offset + 50 + i)
    return (time.thread_time_ns() - start) / n / 1000


def main() -> int:
    """Run the benchmark; print a summary and, last, one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="calls per variant")
    n = parser.parse_args().n
    journal = {
        "sqlite3 by hand": cpu_us(raw_journal(), n, 0),
        "OrderStore (prepared)": cpu_us(store_journal(), n, 0),
        "SQLAlchemy Core": cpu_us(core_journal(), n, 0),
    }
    enabled = {
        "is_disabled cached": cpu_us(enabled_check(cached=True), n, 0),
        "is_disabled query": cpu_us(enabled_check(cached=False), n, 0),
    }
    base = journal["sqlite3 by hand"]
    print(f"journal transaction (signal + order intent, one commit), {n} calls each:")
    for name, cpu in journal.items():
        print(f"  {name:<24} {cpu:7.1f} µs CPU  ({cpu / base:.2f}× hand-written sqlite3)")
    print("strategy enabled check per signal:")
    for name, cpu in enabled.items():
        print(f"  {name:<24} {cpu:7.1f} µs CPU  ({cpu / enabled['is_disabled cached']:.1f}×)")
    print(
        json.dumps({"bench": "order_store", "journal_cpu_us": journal, "enabled_cpu_us": enabled})
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

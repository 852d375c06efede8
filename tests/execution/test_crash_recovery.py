"""kill -9 at the worst moments: after the intent is journalled, after the venue accepted.

The executor SIGKILLs itself at a named point (``POLYBOT_FAULT_AT``). After a restart the order
must exist exactly once at the venue and in SQLite, with its fill and position booked once.
"""

from __future__ import annotations

import signal as signals
from decimal import Decimal
from pathlib import Path

import pytest
from executor_stack import Stack, VenueProcess, wait_until
from sqlalchemy import select
from test_live_executor import best, signal

from polybot.storage.models import Order, Position, Trade


@pytest.mark.parametrize("point", ["after_journal", "after_submit"])
def test_kill_minus_nine_loses_and_duplicates_nothing(
    root: Path, venue: VenueProcess, point: str
) -> None:
    crash_root = root / point
    crash_root.mkdir()
    (crash_root / "data").mkdir()
    # the executor trades with the venue's wallet: share the wallet file
    (crash_root / "data" / "local_wallet.json").write_bytes(
        (root / "data" / "local_wallet.json").read_bytes()
    )
    stack = Stack(crash_root, venue, mode="live", env={"POLYBOT_CANCEL_ON_SHUTDOWN": "false"})
    try:
        stack.start(fault_at=point)
        market = venue.tradable_markets(neg_risk=False)[5 if point == "after_journal" else 6]
        yes = market["tokens"][0]["token_id"]
        ask = best(venue.book(yes), "asks")
        sig = signal(market, price=float(ask), size=5, strategy=f"crash-{point}")
        stack.send(sig)
        assert stack.wait_killed() == -signals.SIGKILL

        stack.start()

        # Reconciliation runs before the restarted executor is ready, possibly before our SUB
        # reconnected to its new PUB: judge by the database, not by events.
        def matched() -> bool:
            with stack.sessions() as session:
                order = session.scalar(select(Order).where(Order.signal_id == sig.signal_id))
                return order is not None and order.status == "MATCHED"

        wait_until(matched, 30.0, "the order to be reconciled as MATCHED")
        with stack.sessions() as session:
            orders = session.scalars(select(Order).where(Order.signal_id == sig.signal_id)).all()
            assert len(orders) == 1
            assert orders[0].status == "MATCHED"
            trades = session.scalars(
                select(Trade).where(Trade.client_order_id == sig.signal_id)
            ).all()
            assert sum(t.size for t in trades) == Decimal(5)
            position = session.scalar(select(Position).where(Position.strategy == f"crash-{point}"))
            assert position is not None
            assert position.size == Decimal(5)
        assert stack.terminate() == 0
    finally:
        stack.close()

"""A fill whose trade the venue later marks FAILED is reversed exactly once, and stays reversed.

The first tests drive the real ledger and tracker on a real migrated SQLite file. The last one
runs the real executor against a local venue (HTTP + WS, in a subprocess) whose trade lifecycle
sends trades of one size through RETRYING to FAILED — the venue then reverts the balances, and
the executor must agree with it, across a restart too.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from executor_stack import PYTHON, REPO, Stack, VenueProcess, free_port, wait_until
from sqlalchemy import select
from test_live_executor import best, signal
from test_settlement import MARKET, NO, YES, Harness, no_mark, restart, wallet_balance

from polybot.bus.messages import Event
from polybot.execution.portfolio import realized_since
from polybot.execution.settlement import FILL_REVERSED
from polybot.storage.models import FillReversal, Position, Trade

ACCOUNT = "0xme"



def reversed_events(h: Harness) -> list[Event]:
    return [e for e in h.events if isinstance(e, Event) and e.event_type == FILL_REVERSED]


def today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


# ---- the ledger and tracker on a real SQLite file ------------------------------------------------
def test_a_failed_fill_is_reversed_once_as_if_it_never_happened(sessions) -> None:
    h = Harness(sessions)
    buy = h.order("o-buy", YES, "BUY", "0.60", "20", "alpha")
    sell = h.order("o-sell", YES, "SELL", "0.70", "5", "alpha")
    h.fill(buy, "t1", "0.40", "10", fee="0.02")
    h.fill(buy, "t2", "0.60", "10", fee="0.03")
    h.fill(sell, "t3", "0.70", "5", fee="0.01")
    # 15 held at 0.50; the sale realized 5 × 0.20; fees 0.06.
    assert h.ledger.pnl(no_mark).realized == Decimal("1.00") - Decimal("0.06")
    assert h.tracker.balance == Decimal("-4.02") - Decimal("6.03") + Decimal("3.49")

    h.fill(buy, "t2", "0.60", "10", fee="0.03", status="RETRYING")  # not final: nothing moves
    assert reversed_events(h) == []
    h.fill(buy, "t2", "0.60", "10", fee="0.03", status="FAILED")

    # As if t2 never traded: 5 held at 0.40, the sale realized 5 × 0.30, fees 0.03.
    [held] = h.ledger.positions()
    assert (held.size, held.avg_price) == (Decimal(5), Decimal("0.40"))
    expected = Decimal("1.50") - Decimal("0.03")
    assert h.ledger.pnl(no_mark).realized == expected
    assert h.ledger.pnl(no_mark).fees == Decimal("0.03")
    assert h.tracker.balance == Decimal("-4.02") + Decimal("3.49")
    [event] = reversed_events(h)
    assert event.data["fate"] == "reversed"
    assert event.data["signal_id"] == "o-buy"  # carries its signal's fields like every fate
    assert event.data["fill"]["fill_id"] == "t2"
    assert {k: Decimal(str(v)) for k, v in event.data["reversal"].items() if k != "id"} == {
        "size_delta": Decimal(-10),
        "realized_pnl": Decimal("0.53"),
        "fees_delta": Decimal("-0.03"),
        "cash_delta": Decimal("6.03"),
    }
    [row] = h.rows(FillReversal)
    trades = {t.fill_id: t for t in h.rows(Trade)}
    assert row.trade_id == trades["t2"].id
    assert trades["t2"].status == "FAILED"
    assert h.counts["fills_reversed"] == 1

    # Reported again (channel repeat, reconciliation, a stale CONFIRMED): nothing moves.
    h.fill(buy, "t2", "0.60", "10", fee="0.03", status="FAILED")
    h.fill(buy, "t2", "0.60", "10", fee="0.03", status="CONFIRMED")
    assert len(reversed_events(h)) == 1
    assert {t.fill_id: t.status for t in h.rows(Trade)}["t2"] == "FAILED"

    restarted = Harness(sessions)
    restarted.fill(buy, "t2", "0.60", "10", fee="0.03", status="FAILED")
    assert reversed_events(restarted) == []
    assert len(restarted.rows(FillReversal)) == 1
    assert restarted.ledger.pnl(no_mark).realized == expected
    assert restarted.ledger.pnl(no_mark).daily == expected
    [again] = restarted.ledger.positions()
    assert (again.size, again.avg_price, again.realized_pnl) == (
        Decimal(5), Decimal("0.40"), expected
    )
    with sessions() as session:
        assert realized_since(session, ACCOUNT, today()) == expected


def test_a_fill_first_seen_failed_is_recorded_and_never_applied(sessions) -> None:
    h = Harness(sessions)
    buy = h.order("o-buy", NO, "BUY", "0.30", "10", "alpha")
    h.fill(buy, "t1", "0.30", "10", fee="0.01", status="FAILED")
    h.fill(buy, "t1", "0.30", "10", fee="0.01", status="MATCHED")  # a stale report after it

    assert h.ledger.positions() == []
    assert h.tracker.balance == 0
    assert reversed_events(h) == []
    assert h.rows(FillReversal) == []
    [trade] = h.rows(Trade)
    assert (trade.status, trade.realized_pnl) == ("FAILED", 0)
    with sessions() as session:
        assert session.scalars(select(Position)).all() == []


def test_a_fill_failing_after_its_market_settled_corrects_the_settlement(sessions) -> None:
    h = Harness(sessions)
    buy = h.order("o-buy", YES, "BUY", "0.60", "20", "alpha")
    h.fill(buy, "t1", "0.40", "10", fee="0.02")
    h.fill(buy, "t2", "0.60", "10", fee="0.03")
    h.resolve(YES)  # 20 at 0.50 pay 1 each: +10
    assert h.ledger.pnl(no_mark).realized == Decimal(10) - Decimal("0.05")

    h.fill(buy, "t2", "0.60", "10", fee="0.03", status="FAILED")

    # Only t1's 10 shares were held at the resolution: 10 × (1 − 0.40) − 0.02.
    assert h.ledger.pnl(no_mark).realized == Decimal(6) - Decimal("0.02")
    assert h.ledger.positions() == []
    [event] = reversed_events(h)
    assert Decimal(event.data["reversal"]["realized_pnl"]) == Decimal("-3.97")
    assert Decimal(event.data["position"]["size"]) == 0
    assert Harness(sessions).ledger.pnl(no_mark).realized == Decimal("5.98")
    assert h.rows(FillReversal)[0].market_id == MARKET


# ---- the real executor and a local venue whose trades of one size fail -----------------------------
FAIL_SHARES = 13  # trades of exactly this many shares go MATCHED → RETRYING → FAILED
FAILING_VENUE = f"""
import sys
from pathlib import Path
from polybot.localvenue.lifecycle import FailureMode, LifecycleConfig
from polybot.localvenue.server import run

build = run.build_venue

def failing(config):
    venue = build(config)
    venue.exchange.trades.hook = lambda record: (
        FailureMode.FAIL if record.size == {FAIL_SHARES} * 10**6 else FailureMode.NONE
    )
    return venue

run.build_venue = failing
run.serve(run.VenueConfig(port=int(sys.argv[1]), data_dir=Path(sys.argv[2]), markets=int(sys.argv[3]),
                          seed=int(sys.argv[4]), flow=False,
                          lifecycle=LifecycleConfig(mined_after_s=0.5, confirmed_after_s=1.0,
                                                    retry_delay_s=1.0)),
          echo=lambda line: None)
"""


class FailingVenue(VenueProcess):
    """The local venue in a subprocess, failing every trade of ``FAIL_SHARES`` shares."""

    def __init__(self, data_dir: Path, *, markets: int = 40, seed: int = 23) -> None:
        self.port = free_port()
        self.log_path = data_dir.parent / "venue.log"
        self._log = self.log_path.open("ab")
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [PYTHON, "-c", FAILING_VENUE, str(self.port), str(data_dir), str(markets), str(seed)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        self.http = httpx.Client(base_url=self.url, timeout=10.0)
        wait_until(self._up, 60.0, "the failing local venue to answer /ok")


@pytest.fixture(scope="module")
def venue(root: Path) -> Iterator[VenueProcess]:
    """Overrides the conftest's venue: this module's executor trades on the failing one."""
    process = FailingVenue(root / "data")
    yield process
    process.stop()


def test_a_trade_failed_at_the_venue_is_reversed_once_and_agrees_with_the_venue(
    stack: Stack,
) -> None:
    market = stack.venue.tradable_markets(neg_risk=False, tick="0.01")[0]
    yes = market["tokens"][0]["token_id"]
    ask = best(stack.venue.book(yes), "asks")
    kept = signal(market, price=float(ask), size=10)
    stack.send(kept)
    assert stack.fate(kept.signal_id, "order_filled").data["fate"] == "filled"
    with stack.sessions() as session:
        first = session.scalars(select(Trade).where(Trade.client_order_id == kept.signal_id)).one()
    collateral = wallet_balance(stack.venue, stack.data_dir)

    ask = best(stack.venue.book(yes), "asks")
    failing = signal(market, price=float(ask), size=FAIL_SHARES)
    stack.send(failing)
    filled = stack.fate(failing.signal_id, "order_filled", "signal_rejected", "order_failed")
    assert filled.event_type == "order_filled", filled.data
    assert Decimal(filled.data["fill"]["size"]) == FAIL_SHARES  # one trade, booked as MATCHED
    fill = filled.data["fill"]

    undone = stack.fate(failing.signal_id, FILL_REVERSED, timeout=30.0)

    reversal = undone.data["reversal"]
    price, fee = Decimal(fill["price"]), Decimal(fill["fee"])
    assert Decimal(reversal["size_delta"]) == -FAIL_SHARES
    assert Decimal(reversal["fees_delta"]) == -fee
    assert Decimal(reversal["realized_pnl"]) == fee  # the fee was its only realized PnL
    assert Decimal(reversal["cash_delta"]) == price * FAIL_SHARES + fee
    assert undone.data["fill"]["fill_id"] == fill["fill_id"]
    with stack.sessions() as session:
        trade = session.scalars(
            select(Trade).where(Trade.client_order_id == failing.signal_id)
        ).one()
        held = session.scalars(select(Position).where(Position.token_id == yes)).one()
        reversals = session.scalars(select(FillReversal)).all()
    assert trade.status == "FAILED"
    assert [r.trade_id for r in reversals] == [trade.id]
    # Only the first fill is left, exactly as it was booked.
    assert (held.size, held.avg_price) == (first.size, first.price)
    assert (held.realized_pnl, held.fees_paid) == (-first.fee, first.fee)
    # The venue reverted the trade: our collateral and shares are what they were before it.
    wait_until(
        lambda: wallet_balance(stack.venue, stack.data_dir) == collateral, 10.0,
        "the venue to revert the failed trade's collateral",
    )
    assert wallet_balance(stack.venue, stack.data_dir, yes) == first.size

    balance = restart(stack)  # reconciliation reports the FAILED trade again: no second reversal

    with stack.sessions() as session:
        assert len(session.scalars(select(FillReversal)).all()) == 1
        again = session.scalars(select(Position).where(Position.token_id == yes)).one()
    assert (again.size, again.realized_pnl) == (held.size, held.realized_pnl)
    assert Decimal(balance.data["balance"]) == collateral
    assert Decimal(balance.data["realized_pnl"]) == -first.fee
    assert Decimal(balance.data["fees"]) == first.fee

"""Paper cash survives an executor restart: fills, settlement payouts and fill reversals.

The paper venue lives in the executor's process, so a restart rebuilds the paper account's cash
from ``polybot.db`` (``assembly.paper_cash``). The first test books a paper account's history on
a real SQLite file with the real tracker, ledger and settler and reopens the file as a new
process would; the second restarts the real paper-mode executor after a resolution paid out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from executor_stack import Stack, VenueProcess, paper_executor, wait_until
from test_live_executor import signal
from test_paper_executor import publish, trades
from test_settlement import NO, YES, Harness, restart

from polybot.bus.messages import Event, MarketResolved
from polybot.core.clock import wall_ms
from polybot.execution.assembly import paper_cash
from polybot.execution.venue import PAPER_ACCOUNT
from polybot.storage.migrate import init_db
from polybot.storage.models import FillReversal, Settlement
from polybot.storage.sqlite import make_engine, make_session_factory

D = Decimal
START = D(1000)
STRATEGY = "paper-cash"


def test_paper_cash_after_a_restart_counts_payouts_and_reversals(tmp_path: Path) -> None:
    path = tmp_path / "polybot.db"
    init_db(path)
    engine = make_engine(path)
    h = Harness(make_session_factory(engine), account=PAPER_ACCOUNT)
    bought_yes = h.order("o-yes", YES, "BUY", "0.45", "14", "alpha")
    h.fill(bought_yes, "t1", "0.40", "10", fee="0.02")  # cash −4.02
    h.fill(bought_yes, "t2", "0.45", "4")  # −1.80, then reversed: +1.80
    bought_no = h.order("o-no", NO, "BUY", "0.55", "8", "beta")
    h.fill(bought_no, "t3", "0.55", "5", fee="0.01")  # −2.76
    h.fill(bought_no, "t4", "0.50", "3", status="FAILED")  # first seen FAILED: never applied
    sold = h.order("o-sell", YES, "SELL", "0.50", "2", "alpha")
    h.fill(sold, "t5", "0.50", "2", fee="0.01")  # +0.99
    h.fill(bought_yes, "t2", "0.45", "4", status="FAILED")
    h.resolve(YES)  # 8 YES shares pay 8, 5 NO shares pay 0
    assert [r.cash_delta for r in h.rows(FillReversal)] == [D("1.80")]
    assert [(s.token_id, s.payout) for s in h.rows(Settlement)] == [(YES, D(8)), (NO, D(0))]
    engine.dispose()

    engine = make_engine(path)  # the restarted executor opens the file afresh
    cash = paper_cash(make_session_factory(engine), START)
    engine.dispose()
    assert cash == START - D("4.02") - D("2.76") + D("0.99") + D(8) == D("1002.21")


# ---- the real paper-mode executor ---------------------------------------------------------------
@pytest.fixture(scope="module")
def paper(root: Path, venue: VenueProcess) -> Iterator[Stack]:
    """A paper-mode executor with a data dir of its own (the paper account starts afresh)."""
    with paper_executor(root / "paper-cash", venue, live=[STRATEGY]) as running:
        yield running


def balance(
    stack: Stack, predicate: Callable[[Decimal], bool] = lambda _: True, timeout: float = 30.0
) -> Event:
    """Return the first ``balance`` event whose balance satisfies ``predicate``."""
    return stack.wait_event(
        lambda e: e.event_type == "balance" and predicate(D(e.data["balance"])), timeout
    )


def refusal(stack: Stack, market: dict[str, Any]) -> str:
    """Return the rule a SELL of shares we do not hold is refused by (``insufficient_shares``
    once the executor has our book: the book rules come first)."""
    sig = signal(market, action="SELL_YES", price=0.5, size=5, strategy=STRATEGY)
    stack.send(sig)
    return str(stack.fate(sig.signal_id, "signal_rejected").data["rule"])


def buy_ten_yes(stack: Stack, market: dict[str, Any]) -> D:
    """Buy 10 YES at 0.40 once the executor has the book; return what they cost with fees."""
    publish(stack, market, bids=[("0.30", 50)], asks=[("0.40", 20)])
    wait_until(lambda: refusal(stack, market) == "insufficient_shares", 20.0, "the book")
    buy = signal(market, price=0.40, size=10, strategy=STRATEGY)
    stack.send(buy)
    wait_until(lambda: sum(t.size for t in trades(stack, buy.signal_id)) == 10, 20.0, "the fill")
    return sum((t.price * t.size + t.fee for t in trades(stack, buy.signal_id)), D(0))


def resolve_yes(stack: Stack, market: dict[str, Any]) -> D:
    """Resolve the market to YES on the price bus; return the payout its settlement reports."""
    yes = market["tokens"][0]["token_id"]
    stack.prices.publish(
        MarketResolved(
            market_id=market["condition_id"],
            winning_token_id=yes,
            winning_outcome="Yes",
            timestamp=wall_ms(),
        )
    )
    settled = stack.wait_event(
        lambda e: e.event_type == "position_settled" and e.data["token_id"] == yes
    )
    return D(settled.data["payout"])


def test_a_restarted_paper_executor_keeps_what_a_resolution_paid(paper: Stack) -> None:
    start = D(balance(paper).data["balance"])
    market = paper.venue.tradable_markets(neg_risk=False, tick="0.01")[7]
    spent = buy_ten_yes(paper, market)
    assert resolve_yes(paper, market) == 10
    expected = start - spent + 10
    # The paper venue paid the winning shares at once; the next reconciliation shows it.
    balance(paper, lambda value: value == expected)

    after = restart(paper)
    assert D(after.data["balance"]) == expected


def test_a_restarted_paper_executor_can_sell_and_is_paid_for_what_it_held(paper: Stack) -> None:
    """The restarted paper venue holds the ledger's shares: it lets them be sold and pays the
    rest when the market resolves — without waiting for another restart to count the payout."""
    market = paper.venue.tradable_markets(neg_risk=False, tick="0.01")[8]
    buy_ten_yes(paper, market)

    start = D(restart(paper).data["balance"])
    publish(paper, market, bids=[("0.30", 50)], asks=[("0.40", 20)])
    sell = signal(market, action="SELL_YES", price=0.30, size=5, strategy=STRATEGY)
    paper.send(sell)
    wait_until(lambda: sum(t.size for t in trades(paper, sell.signal_id)) == 5, 20.0, "the sale")
    got = sum((t.price * t.size - t.fee for t in trades(paper, sell.signal_id)), D(0))

    assert resolve_yes(paper, market) == 5
    balance(paper, lambda value: value == start + got + 5)

"""Paper mode end to end: the real executor process matches our orders against books we publish.

The test owns ``prices.pub``: it publishes a book for a real market of the local venue (the
executor still takes the market's metadata and fee schedule from the venue), sends signals to
the PULL socket, and reads fills, positions and PnL back from SQLite. Nothing reaches the venue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from executor_stack import Stack, VenueProcess, paper_executor, wait_until
from sqlalchemy import select
from test_live_executor import signal

from polybot.bus.messages import BookDelta, BookSnapshot, Level, LevelChange
from polybot.core.clock import wall_ms
from polybot.model.fees import FeeSchedule, maker_rebate, taker_fee
from polybot.storage.models import Order, Position, Trade
from polybot.venues.polymarket.clob import ClobClient

STRATEGY = "paper-e2e"
D = Decimal


@pytest.fixture(scope="module")
def paper(root: Path, venue: VenueProcess) -> Iterator[Stack]:
    """A paper-mode executor (its own data dir: the paper account starts with fresh cash)."""
    with paper_executor(root / "paper", venue, live=[STRATEGY]) as running:
        yield running


def fee_schedule(venue: VenueProcess, market_id: str) -> FeeSchedule:
    async def ask() -> FeeSchedule:
        client = ClobClient(venue.url, chain_id=137)
        try:
            return (await client.get_clob_market(market_id)).fee_schedule
        finally:
            await client.aclose()

    return asyncio.run(ask())


def publish(stack: Stack, market: dict[str, Any], bids: list[tuple[str, int]], asks: Any) -> None:
    stack.prices.publish(
        BookSnapshot(
            market_id=market["condition_id"],
            token_id=market["tokens"][0]["token_id"],
            bids=[Level(float(p), float(s)) for p, s in bids],
            asks=[Level(float(p), float(s)) for p, s in asks],
            timestamp=wall_ms(),
        )
    )


def probe(stack: Stack, market: dict[str, Any]) -> str:
    """Return the rule a SELL of shares we do not hold is refused by.

    It is refused whatever the book says, but the book rules come first: ``crossed_book`` tells
    that the executor has our crossed probe book, ``insufficient_shares`` that it has a sane one.
    """
    sig = signal(market, action="SELL_YES", price=0.5, size=5, strategy=STRATEGY)
    stack.send(sig)
    return str(stack.fate(sig.signal_id, "signal_rejected").data["rule"])


def trades(stack: Stack, client_order_id: str) -> list[Trade]:
    with stack.sessions() as session:
        return list(
            session.scalars(
                select(Trade).where(Trade.client_order_id == client_order_id).order_by(Trade.id)
            ).all()
        )


def order_state(stack: Stack, client_order_id: str) -> tuple[str, D] | None:
    """Return the order row's (status, size_matched) as a fresh reader sees it."""
    with stack.sessions() as session:
        order = session.scalar(select(Order).where(Order.client_order_id == client_order_id))
        return None if order is None else (order.status, order.size_matched)


def test_paper_fills_walk_the_depth_rest_then_fill_and_book_pnl(paper: Stack) -> None:
    candidates = paper.venue.tradable_markets(neg_risk=False, tick="0.01")
    schedules = [(m, fee_schedule(paper.venue, m["condition_id"])) for m in candidates[:10]]
    market, schedule = next(((m, s) for m, s in schedules if s.rate > 0), schedules[0])
    yes = market["tokens"][0]["token_id"]
    publish(paper, market, bids=[("0.6", 10)], asks=[("0.4", 10)])
    wait_until(lambda: probe(paper, market) == "crossed_book", 20.0, "the crossed book")
    publish(paper, market, bids=[("0.30", 50)], asks=[("0.40", 5), ("0.42", 5), ("0.45", 20)])
    wait_until(lambda: probe(paper, market) == "insufficient_shares", 20.0, "the real book")

    # 1. Marketable: 12 at 0.43 takes 5 @ 0.40 and 5 @ 0.42, the last 2 rest at 0.43.
    buy = signal(market, price=0.43, size=12, strategy=STRATEGY)
    paper.send(buy)
    assert paper.fate(buy.signal_id, "signal_accepted", "signal_rejected").event_type == (
        "signal_accepted"
    )
    wait_until(lambda: sum(t.size for t in trades(paper, buy.signal_id)) == 10, 20.0, "takes")
    taken = trades(paper, buy.signal_id)
    assert [(t.price, t.size, t.liquidity) for t in taken] == [
        (D("0.40"), D(5), "TAKER"),
        (D("0.42"), D(5), "TAKER"),
    ]
    for t in taken:
        assert t.fee == taker_fee(t.size, t.price, schedule)
    # The trades commit before the order row moves: wait for it rather than race it.
    wait_until(lambda: order_state(paper, buy.signal_id) == ("LIVE", D(10)), 20.0, "the order")

    # 2. The book moves: new asks at 0.43 cross our resting bid, which fills as the maker.
    paper.prices.publish(
        BookDelta(
            market_id=market["condition_id"],
            token_id=yes,
            changes=[LevelChange("SELL", 0.43, 10.0)],
            timestamp=wall_ms(),
        )
    )
    wait_until(lambda: sum(t.size for t in trades(paper, buy.signal_id)) == 12, 20.0, "the rest")
    made = trades(paper, buy.signal_id)[2:]
    assert [(t.price, t.size, t.liquidity) for t in made] == [(D("0.43"), D(2), "MAKER")]
    rebate = maker_rebate(taker_fee(D(2), D("0.43"), schedule), schedule)
    assert made[0].fee == -rebate
    filled = paper.fate(buy.signal_id, "order_filled")
    assert filled.data["signal_id"] == buy.signal_id
    cost = D("0.40") * 5 + D("0.42") * 5 + D("0.43") * 2
    wait_until(lambda: order_state(paper, buy.signal_id) == ("MATCHED", D(12)), 20.0, "the fill")
    with paper.sessions() as session:
        position = session.scalar(
            select(Position).where(Position.token_id == yes, Position.strategy == STRATEGY)
        )
        assert position is not None
        assert position.size == D(12)
        assert abs(position.avg_price * 12 - cost) < D("0.000001")

    # 3. Sell it all into the 0.30 bid: the loss is realized in SQLite.
    sell = signal(market, action="SELL_YES", price=0.30, size=12, strategy=STRATEGY)
    paper.send(sell)
    wait_until(lambda: sum(t.size for t in trades(paper, sell.signal_id)) == 12, 20.0, "the sale")
    sold = trades(paper, sell.signal_id)
    assert {(t.price, t.liquidity) for t in sold} == {(D("0.30"), "TAKER")}
    fees = sum((t.fee for t in taken + made + sold), D(0))
    with paper.sessions() as session:
        position = session.scalar(
            select(Position).where(Position.token_id == yes, Position.strategy == STRATEGY)
        )
        assert position is not None
        assert position.size == 0
        assert position.fees_paid == fees
        # Realized PnL is net of fees (a rebate counts in our favour).
        expected = D("0.30") * 12 - cost - fees
        assert abs(position.realized_pnl - expected) < D("0.000001")
        assert position.realized_pnl < 0

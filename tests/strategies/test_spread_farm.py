"""Spread farm: quote placement, inventory skew, limits, reward band and cancel/replace."""

from __future__ import annotations

from decimal import Decimal

import pytest

from polybot.strategies import SpreadFarm
from polybot.testing import FakeContext, make_market


def _ctx(rewards: str | None = None) -> FakeContext:
    ctx = FakeContext(market_list=[make_market("m", rewards_max_spread=rewards)])
    ctx.set_book("m-yes", bids=[(0.45, 100)], asks=[(0.55, 100)])
    return ctx


def test_symmetric_quotes_at_zero_inventory() -> None:
    ctx = _ctx()
    strategy = SpreadFarm(half_spread_ticks=2)
    assert strategy.wanted_quotes(ctx, ctx.books["m-yes"]) == (0.48, 0.52)


def test_long_inventory_skews_quotes_down_and_stops_at_max_inventory() -> None:
    ctx = _ctx()
    ctx.positions = {"m-yes": Decimal(100)}
    strategy = SpreadFarm(half_spread_ticks=2, skew_ticks_per_100=2, max_inventory="110", size="25")
    bid, ask = strategy.wanted_quotes(ctx, ctx.books["m-yes"])
    assert bid is None  # 100 + 25 > 110: do not get longer
    assert ask == pytest.approx(0.50)


def test_reward_band_clamps_quotes_toward_the_mid() -> None:
    ctx = _ctx(rewards="1.5")  # quotes must sit within 1.5 cents of the mid to earn rewards
    strategy = SpreadFarm(half_spread_ticks=4)
    assert strategy.wanted_quotes(ctx, ctx.books["m-yes"]) == (0.49, 0.51)


def test_places_post_only_bid_and_buys_no_as_the_offer_without_inventory() -> None:
    ctx = _ctx()
    strategy = SpreadFarm(half_spread_ticks=2, size="10")
    strategy.on_start(ctx)
    strategy.on_book(ctx, ctx.books["m-yes"])
    placed = [(o.token_id, o.side, o.price, o.post_only) for o in ctx.orders]
    assert placed == [
        ("m-yes", "BUY", Decimal("0.48"), True),
        ("m-no", "BUY", Decimal("0.48"), True),
    ]


def test_sells_inventory_as_the_offer_and_requotes_when_the_mid_moves() -> None:
    ctx = _ctx()
    ctx.positions = {"m-yes": Decimal(30)}
    strategy = SpreadFarm(half_spread_ticks=2, size="10", skew_ticks_per_100=0)
    strategy.on_start(ctx)
    strategy.on_book(ctx, ctx.books["m-yes"])
    assert ctx.orders[1].side == "SELL"
    assert ctx.orders[1].token_id == "m-yes"
    strategy.on_book(ctx, ctx.books["m-yes"])
    assert len(ctx.orders) == 2
    assert ctx.cancels == []
    ctx.set_book("m-yes", bids=[(0.50, 100)], asks=[(0.60, 100)])
    strategy.on_book(ctx, ctx.books["m-yes"])
    assert len(ctx.cancels) == 2
    assert ctx.orders[-2].price == Decimal("0.53")

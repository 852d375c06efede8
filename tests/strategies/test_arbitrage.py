"""Arbitrage decisions on hand-built books (FakeContext)."""

from __future__ import annotations

from decimal import Decimal

from polybot.bus.messages import Fill, OrderUpdate
from polybot.model.fees import NO_FEES, FeeSchedule
from polybot.strategies import Arbitrage
from polybot.strategies.arbitrage import basket_size
from polybot.testing import FakeContext, make_market

FEES = FeeSchedule(rate=Decimal("0.04"))


def _binary_ctx(
    yes_asks: list[tuple[float, float]],
    no_asks: list[tuple[float, float]],
    fees: FeeSchedule = NO_FEES,
) -> FakeContext:
    ctx = FakeContext(market_list=[make_market("m", fees=fees)])
    ctx.set_book("m-yes", bids=[(0.40, 100)], asks=yes_asks)
    ctx.set_book("m-no", bids=[(0.40, 100)], asks=no_asks)
    return ctx


def test_binary_complement_buys_both_sides_fok_up_to_the_thinner_depth() -> None:
    ctx = _binary_ctx([(0.45, 30), (0.46, 100)], [(0.50, 80)])
    strategy = Arbitrage(neg_risk=False)
    strategy.on_start(ctx)
    strategy.on_book(ctx, ctx.books["m-yes"])
    legs = {o.token_id: o for o in ctx.orders}
    # 30 @ .45 + .50 = .95, then 50 more @ .46 + .50 = .96: both pay at least 0.005.
    assert legs["m-yes"].size == legs["m-no"].size == Decimal(80)
    assert legs["m-yes"].price == Decimal("0.46")
    assert legs["m-no"].price == Decimal("0.5")
    assert {o.order_type for o in ctx.orders} == {"FOK"}
    assert {o.side for o in ctx.orders} == {"BUY"}


def test_no_trade_when_fees_eat_the_edge() -> None:
    # .49 + .50 = .99 leaves .01 before fees; 0.04·p(1−p) per leg is ~.02: not worth it.
    ctx = _binary_ctx([(0.49, 100)], [(0.50, 100)], fees=FEES)
    strategy = Arbitrage(neg_risk=False)
    strategy.on_start(ctx)
    strategy.on_book(ctx, ctx.books["m-yes"])
    assert ctx.orders == []


def test_below_min_size_is_not_attempted() -> None:
    ctx = _binary_ctx([(0.40, 4)], [(0.50, 100)])
    strategy = Arbitrage(neg_risk=False)
    strategy.on_start(ctx)
    strategy.on_book(ctx, ctx.books["m-yes"])
    assert ctx.orders == []


def test_same_book_is_not_retried_after_a_killed_attempt() -> None:
    ctx = _binary_ctx([(0.45, 30)], [(0.50, 30)])
    strategy = Arbitrage(neg_risk=False)
    strategy.on_start(ctx)
    strategy.on_book(ctx, ctx.books["m-yes"])
    strategy.on_book(ctx, ctx.books["m-no"])
    assert len(ctx.orders) == 2


def test_neg_risk_event_buys_every_yes_when_asks_sum_below_one() -> None:
    markets = [make_market(n, neg_risk=True, event_id="ev") for n in ("a", "b", "c")]
    ctx = FakeContext(market_list=markets)
    for name, ask in (("a", 0.30), ("b", 0.33), ("c", 0.30)):
        ctx.set_book(f"{name}-yes", bids=[(ask - 0.05, 50)], asks=[(ask, 40)])
        ctx.set_book(f"{name}-no", bids=[(0.6, 50)], asks=[(0.9, 50)])  # binary legs: no edge
    strategy = Arbitrage()
    strategy.on_start(ctx)
    strategy.on_book(ctx, ctx.books["b-yes"])
    assert sorted(o.token_id for o in ctx.orders) == ["a-yes", "b-yes", "c-yes"]
    assert {o.size for o in ctx.orders} == {Decimal(40)}


def test_held_basket_is_sold_when_bids_sum_above_one() -> None:
    ctx = _binary_ctx([(0.60, 100)], [(0.60, 100)])
    ctx.set_book("m-yes", bids=[(0.52, 20)], asks=[(0.60, 100)])
    ctx.set_book("m-no", bids=[(0.50, 30)], asks=[(0.60, 100)])
    ctx.positions = {"m-yes": Decimal(50), "m-no": Decimal(50)}
    strategy = Arbitrage(neg_risk=False)
    strategy.on_start(ctx)
    strategy.on_book(ctx, ctx.books["m-yes"])
    assert [(o.side, o.size) for o in ctx.orders] == [("SELL", Decimal(20)), ("SELL", Decimal(20))]


def test_basket_walk_stops_at_the_first_unprofitable_step() -> None:
    market = make_market("m")
    size, worst = basket_size(
        [[(0.4, 10), (0.5, 10)], [(0.5, 15)]], [market, market], 0.995, 100, buying=True
    )
    assert size == 10
    assert worst == [0.4, 0.5]


def test_a_killed_leg_unwinds_the_legs_that_filled() -> None:
    ctx = _binary_ctx([(0.45, 30)], [(0.50, 30)])
    strategy = Arbitrage(neg_risk=False)
    strategy.on_start(ctx)
    strategy.on_book(ctx, ctx.books["m-yes"])
    yes_leg, no_leg = ctx.orders
    fill = Fill(
        market_id="m",
        token_id="m-yes",
        fill_id="t1",
        order_id=yes_leg.client_order_id,
        client_order_id=yes_leg.client_order_id,
        strategy="a",
        side="BUY",
        price=Decimal("0.45"),
        size=Decimal(30),
        fee=Decimal(0),
        liquidity="TAKER",
        status="MATCHED",
        timestamp=0,
    )
    strategy.on_fill(ctx, fill)
    strategy.on_order(ctx, _update(yes_leg.client_order_id, "MATCHED"))
    strategy.on_order(ctx, _update(no_leg.client_order_id, "CANCELED"))
    unwind = ctx.orders[-1]
    assert (unwind.token_id, unwind.side, unwind.size, unwind.price) == (
        "m-yes",
        "SELL",
        Decimal(30),
        Decimal("0.4"),
    )
    assert strategy.unwinds == 1


def _update(coid: str, status: str) -> OrderUpdate:
    return OrderUpdate(
        market_id="m",
        token_id="m-yes",
        order_id=coid,
        client_order_id=coid,
        strategy="a",
        side="BUY",
        price=Decimal("0.5"),
        original_size=Decimal(30),
        size_matched=Decimal(0),
        status=status,
        timestamp=0,
    )

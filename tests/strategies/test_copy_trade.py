"""Copy trading: delay, fraction, caps, tolerance skips and sells."""

from __future__ import annotations

from decimal import Decimal

from polybot.bus.messages import Event
from polybot.strategies import CopyTrade
from polybot.testing import FakeContext, make_market

WHALE = "0xWhale"


def _trade(
    side: str = "BUY", price: float = 0.50, size: float = 100.0, wallet: str = WHALE
) -> Event:
    return Event(
        source="data_api",
        event_type="wallet_trade",
        timestamp=0,
        data={
            "wallet": wallet,
            "market_id": "m",
            "token_id": "m-yes",
            "side": side,
            "price": price,
            "size": size,
        },
    )


def _ctx(ask: float = 0.51, bid: float = 0.49) -> FakeContext:
    ctx = FakeContext(market_list=[make_market("m")])
    ctx.set_book("m-yes", bids=[(bid, 500)], asks=[(ask, 500)])
    return ctx


def test_copies_a_fraction_after_the_delay() -> None:
    ctx = _ctx()
    strategy = CopyTrade(wallets=[WHALE.lower()], fraction="0.2", delay_ms=1500)
    strategy.on_event(ctx, _trade())
    assert ctx.orders == []
    assert ctx.timers == {"copy-1": (1_500_000_000, False)}
    strategy.on_timer(ctx, "copy-1")
    [order] = ctx.orders
    assert (order.side, order.size, order.price, order.order_type) == (
        "BUY",
        Decimal(20),
        Decimal("0.52"),
        "FAK",
    )


def test_skips_when_the_price_moved_past_the_tolerance() -> None:
    ctx = _ctx(ask=0.56)
    strategy = CopyTrade(wallets=[WHALE], price_tolerance=0.02)
    strategy.on_event(ctx, _trade())
    strategy.on_timer(ctx, "copy-1")
    assert ctx.orders == []
    assert strategy.skipped == {"price moved": 1}


def test_order_cap_and_other_wallets() -> None:
    ctx = _ctx()
    strategy = CopyTrade(wallets=[WHALE], fraction="1", max_order_usdc="10")
    strategy.on_event(ctx, _trade(wallet="0xsomeone"))
    assert ctx.timers == {}
    strategy.on_event(ctx, _trade())
    strategy.on_timer(ctx, "copy-1")
    assert ctx.orders[0].size == Decimal("19.60")  # $10 / .51


def test_sells_only_what_it_holds() -> None:
    ctx = _ctx()
    strategy = CopyTrade(wallets=[WHALE], fraction="0.5")
    strategy.on_event(ctx, _trade(side="SELL", price=0.49))
    strategy.on_timer(ctx, "copy-1")
    assert ctx.orders == []
    assert strategy.skipped == {"nothing to sell": 1}
    ctx.positions = {"m-yes": Decimal(30)}
    strategy.on_event(ctx, _trade(side="SELL", price=0.49))
    strategy.on_timer(ctx, "copy-2")
    assert [(o.side, o.size) for o in ctx.orders] == [("SELL", Decimal(30))]

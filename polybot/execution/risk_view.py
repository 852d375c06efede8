"""The risk gate's view of our side of the world: holdings by token, open orders, free balance."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from polybot.risk import Portfolio
from polybot.risk import Position as RiskPosition
from polybot.storage.models import Order, Position

ZERO = Decimal(0)
Describe = Callable[[str, str], tuple[str, int]]


def risk_portfolio(
    positions: Iterable[Position],
    balance: Decimal,
    daily_pnl: Decimal,
    describe: Describe,
    open_orders: Sequence[Order],
) -> Portfolio:
    """Return the risk gate's ``Portfolio`` of the non-empty ``positions`` and ``open_orders``.

    ``describe(market_id, token_id)`` gives a holding's neg-risk event id and outcome index.
    The free balance is the venue balance minus what our resting BUYs have reserved. Holdings of
    one token by several strategies are one holding to the risk gate.
    """
    held: dict[str, RiskPosition] = {}
    for position in positions:
        event_id, index = describe(position.market_id, position.token_id)
        current = held.get(position.token_id)
        shares = position.size + (current.shares if current else ZERO)
        cost = position.size * position.avg_price + (current.cost if current else ZERO)
        held[position.token_id] = RiskPosition(
            market_id=position.market_id,
            token_id=position.token_id,
            shares=shares,
            cost=cost,
            event_id=event_id,
            outcome_index=index,
        )
    by_market: dict[str, Decimal] = {}
    for order in open_orders:
        if order.side == "BUY":
            rest = order.price * (order.original_size - order.size_matched)
            by_market[order.market_id] = by_market.get(order.market_id, ZERO) + rest
    reserved = sum(by_market.values(), ZERO)
    return Portfolio(
        balance=balance - reserved,
        open_orders=len(open_orders),
        daily_pnl=daily_pnl,
        positions=held,
        open_buy_notional=by_market,
    )

"""``EngineContext``: the one door a hosted strategy has to the engine (implements ``Context``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Literal

from polybot.bus.messages import OrderUpdate
from polybot.core.money import to_decimal
from polybot.model.market import Market
from polybot.strategies.base import Amount, BookView, OrderKind, OrderSides

if TYPE_CHECKING:
    from polybot.engine.engine import Engine, StrategyHost

_CENT = Decimal("0.01")


def _amount(value: Amount) -> Decimal:
    if isinstance(value, float):
        # Strategy arithmetic produces floats like 12.340000000000002; shares have 2 decimals.
        return Decimal(repr(round(value, 8)))
    return to_decimal(value)


class EngineContext(OrderSides):
    """What a strategy sees. Prices are rounded onto the market's tick in the safe direction
    (buys down, sells up), sizes down to whole cents of a share, so an order never trades
    worse or bigger than asked."""

    def __init__(self, engine: Engine, host: StrategyHost) -> None:
        self._engine = engine
        self._host = host
        self._log = logging.getLogger(f"polybot.strategy.{host.name}")
        self._order_seq = 0

    @property
    def log(self) -> logging.Logger:
        """Return this strategy's logger."""
        return self._log

    def now_ns(self) -> int:
        """Return engine time in ns."""
        return self._engine.now_ns

    def now_ms(self) -> int:
        """Return engine time in ms."""
        return self._engine.now_ns // 1_000_000

    def subscribe(self, token_id: str | None = None) -> None:
        """Receive updates for one token, or every token when None."""
        self._engine.subscribe(self._host, token_id)

    def markets(self) -> Sequence[Market]:
        """Return the markets the feed knows."""
        return list(self._engine.markets.values())

    def market(self, token_or_market_id: str) -> Market:
        """Return the market of a token or condition id."""
        return self._engine.market_of(token_or_market_id)

    def book(self, token_id: str) -> BookView | None:
        """Return the live view of a token's book, or None before its first update."""
        return self._engine.book_view(token_id)

    def position(self, token_id: str) -> Decimal:
        """Return shares held of a token."""
        return self._host.portfolio.position(token_id)

    def cash(self) -> Decimal:
        """Return cash in pUSD."""
        return self._host.portfolio.cash

    def open_orders(self, token_id: str | None = None) -> list[OrderUpdate]:
        """Return live orders (optionally of one token)."""
        return [o for o in self._host.orders.values() if token_id is None or o.token_id == token_id]

    def place(
        self,
        token_id: str,
        side: Literal["BUY", "SELL"],
        size: Amount,
        limit: Amount,
        *,
        order_type: OrderKind,
        post_only: bool,
        reason: str,
        confidence: float,
    ) -> str:
        """Round ``limit`` to the tick (down for BUY, up for SELL) and send the order intent."""
        market = self._engine.market_of(token_id)
        tick = self._engine.tick_of(market.condition_id)
        rounding = ROUND_FLOOR if side == "BUY" else ROUND_CEILING
        price = (_amount(limit) / tick).to_integral_value(rounding=rounding) * tick
        shares = _amount(size).quantize(_CENT, rounding=ROUND_DOWN)
        self._order_seq += 1
        client_order_id = f"{self._host.name}-{self._order_seq}"
        self._engine.submit(
            self._host,
            client_order_id,
            market,
            token_id,
            side,
            price,
            shares,
            order_type,
            post_only,
            reason,
            confidence,
        )
        return client_order_id

    def cancel(self, client_order_id: str) -> None:
        """Cancel one order."""
        self._engine.cancel(self._host, client_order_id)

    def cancel_all(self, token_id: str | None = None) -> None:
        """Cancel every live order (of one token when given)."""
        for order in self.open_orders(token_id):
            self._engine.cancel(self._host, order.client_order_id)

    def set_timer(self, name: str, delay_ns: int, *, repeat: bool = False) -> None:
        """Fire ``on_timer(name)`` after ``delay_ns`` (and every ``delay_ns`` when ``repeat``)."""
        self._engine.set_timer(self._host, name, delay_ns, repeat)

    def cancel_timer(self, name: str) -> None:
        """Stop a named timer."""
        self._engine.cancel_timer(self._host, name)

"""Builders for tests and notebooks: markets, books and a ``FakeContext`` for strategy units.

``FakeContext`` implements the strategy ``Context`` with plain in-memory state: tests set books,
positions and cash, call a handler, then look at ``ctx.orders`` / ``ctx.cancels`` / ``ctx.timers``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from polybot.bus.messages import BookSnapshot, Level, OrderUpdate
from polybot.core.money import to_decimal
from polybot.engine.book import BookViewAdapter, L2Book
from polybot.model.fees import NO_FEES, FeeSchedule
from polybot.model.market import EventRef, Market, Outcome
from polybot.strategies.base import Amount, BookView, OrderKind, OrderSides

Levels = Sequence[tuple[float, float]]


def make_market(
    name: str = "m1",
    *,
    tick: str = "0.01",
    min_size: str = "5",
    neg_risk: bool = False,
    event_id: str = "",
    fees: FeeSchedule = NO_FEES,
    rewards_max_spread: str | None = "3.5",
) -> Market:
    """Return a binary market with tokens ``<name>-yes`` and ``<name>-no``."""
    return Market(
        condition_id=name,
        question=f"Will {name} happen?",
        outcomes=(
            Outcome(name="Yes", asset_id=f"{name}-yes"),
            Outcome(name="No", asset_id=f"{name}-no"),
        ),
        active=True,
        accepting_orders=True,
        enable_order_book=True,
        neg_risk=neg_risk,
        tick_size=Decimal(tick),
        min_order_size=Decimal(min_size),
        fee_schedule=fees,
        rewards_max_spread=Decimal(rewards_max_spread) if rewards_max_spread else None,
        events=(EventRef(id=event_id or f"e-{name}", neg_risk=neg_risk),),
    )


def make_book(
    token_id: str,
    bids: Levels = (),
    asks: Levels = (),
    *,
    market_id: str = "",
    ts_ms: int = 0,
    tick: float = 0.01,
) -> BookSnapshot:
    """Return a ``BookSnapshot`` (levels best first, as ``(price, size)``)."""
    return BookSnapshot(
        market_id=market_id or token_id.rsplit("-", 1)[0],
        token_id=token_id,
        bids=[Level(price=p, size=s) for p, s in bids],
        asks=[Level(price=p, size=s) for p, s in asks],
        timestamp=ts_ms,
        tick_size=tick,
    )


def make_view(
    token_id: str, bids: Levels = (), asks: Levels = (), *, market_id: str = ""
) -> BookViewAdapter:
    """Return a strategy-facing book view with these levels."""
    book = L2Book(market_id or token_id.rsplit("-", 1)[0], token_id)
    book.load(bids, asks)
    return BookViewAdapter(book)


@dataclass(slots=True)
class PlacedOrder:
    """An order a strategy asked a ``FakeContext`` for."""

    client_order_id: str
    token_id: str
    side: Literal["BUY", "SELL"]
    size: Decimal
    price: Decimal
    order_type: str
    post_only: bool
    reason: str


@dataclass
class FakeContext(OrderSides):
    """An in-memory ``Context`` for unit-testing strategy decisions."""

    market_list: list[Market] = field(default_factory=list)
    now: int = 0
    books: dict[str, BookViewAdapter] = field(default_factory=dict)
    positions: dict[str, Decimal] = field(default_factory=dict)
    cash_balance: Decimal = Decimal(1000)
    orders: list[PlacedOrder] = field(default_factory=list)
    live: dict[str, OrderUpdate] = field(default_factory=dict)
    cancels: list[str] = field(default_factory=list)
    timers: dict[str, tuple[int, bool]] = field(default_factory=dict)
    subscriptions: list[str | None] = field(default_factory=list)
    _seq: int = 0

    @property
    def log(self) -> logging.Logger:
        """Return a test logger."""
        return logging.getLogger("polybot.strategy.fake")

    def now_ns(self) -> int:
        """Return the fake time."""
        return self.now

    def now_ms(self) -> int:
        """Return the fake time in ms."""
        return self.now // 1_000_000

    def subscribe(self, token_id: str | None = None) -> None:
        """Record a subscription."""
        self.subscriptions.append(token_id)

    def markets(self) -> Sequence[Market]:
        """Return the configured markets."""
        return self.market_list

    def market(self, token_or_market_id: str) -> Market:
        """Find a market by token or condition id."""
        for market in self.market_list:
            if token_or_market_id == market.condition_id or token_or_market_id in market.asset_ids:
                return market
        raise KeyError(token_or_market_id)

    def set_book(self, token_id: str, bids: Levels = (), asks: Levels = ()) -> BookViewAdapter:
        """Set a token's book and return its view."""
        view = make_view(token_id, bids, asks, market_id=self.market(token_id).condition_id)
        self.books[token_id] = view
        return view

    def book(self, token_id: str) -> BookView | None:
        """Return a token's book view."""
        return self.books.get(token_id)

    def position(self, token_id: str) -> Decimal:
        """Return shares held."""
        return self.positions.get(token_id, Decimal(0))

    def cash(self) -> Decimal:
        """Return cash."""
        return self.cash_balance

    def open_orders(self, token_id: str | None = None) -> list[OrderUpdate]:
        """Return orders marked live by the test (or by ``buy``/``sell``)."""
        return [o for o in self.live.values() if token_id is None or o.token_id == token_id]

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
        """Record the order intent as a live order."""
        self._seq += 1
        coid = f"fake-{self._seq}"
        size_d = to_decimal(round(size, 8) if isinstance(size, float) else size)
        price_d = to_decimal(round(limit, 8) if isinstance(limit, float) else limit)
        self.orders.append(
            PlacedOrder(coid, token_id, side, size_d, price_d, order_type, post_only, reason)
        )
        if order_type in ("GTC", "GTD"):
            self.live[coid] = OrderUpdate(
                market_id=self.market(token_id).condition_id,
                token_id=token_id,
                order_id=coid,
                client_order_id=coid,
                strategy="fake",
                side=side,
                price=price_d,
                original_size=size_d,
                size_matched=Decimal(0),
                status="LIVE",
                timestamp=self.now_ms(),
                order_type=order_type,
            )
        return coid

    def cancel(self, client_order_id: str) -> None:
        """Record a cancel (and drop the order from ``live``)."""
        self.cancels.append(client_order_id)
        self.live.pop(client_order_id, None)

    def cancel_all(self, token_id: str | None = None) -> None:
        """Cancel every live order (of one token)."""
        for order in self.open_orders(token_id):
            self.cancel(order.client_order_id)

    def set_timer(self, name: str, delay_ns: int, *, repeat: bool = False) -> None:
        """Record a timer."""
        self.timers[name] = (self.now + delay_ns, repeat)

    def cancel_timer(self, name: str) -> None:
        """Drop a timer."""
        self.timers.pop(name, None)

"""Strategies the runner tests host (imported by the runner process as ``module:Class``).

No tests here: pytest collects the module and finds none.
"""

from __future__ import annotations

from decimal import Decimal

from polybot.bus.messages import Fill, OrderUpdate
from polybot.strategies.base import BookView, Context, Strategy, StrategyConfig


class TakerConfig(StrategyConfig, frozen=True, kw_only=True):
    token_id: str
    size: Decimal = Decimal("5")
    tag: str = "v1"
    max_orders: int = 0  # 0: no limit
    min_notional: Decimal = Decimal("0")  # grow the size so size × ask reaches this
    slippage: Decimal = Decimal("0")  # pay up to this much above the ask (still fills at the ask)
    max_attempts: int = 20  # refused orders retried on later books, this many in all


class Taker(Strategy):
    """Buy at the ask on every book update; the tag travels in the signal's reason."""

    Config = TakerConfig
    config: TakerConfig

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.orders = 0
        self.attempts = 0
        self.filled = False

    def on_start(self, ctx: Context) -> None:
        ctx.subscribe(self.config.token_id)

    def on_book(self, ctx: Context, book: BookView) -> None:
        ask = book.best_ask
        if ask is None or (self.config.max_orders and self.orders >= self.config.max_orders):
            return
        size = max(
            self.config.size,
            (self.config.min_notional / Decimal(str(ask))).quantize(
                Decimal("1"), rounding="ROUND_CEILING"
            ),
        )
        self.orders += 1
        limit = min(Decimal(str(ask)) + self.config.slippage, Decimal("0.99"))
        ctx.buy(book.token_id, size, limit, reason=self.config.tag)

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        self.filled = True
        ctx.log.info("filled %s at %s", fill.size, fill.price)

    def on_order(self, ctx: Context, update: OrderUpdate) -> None:
        # An order refused or cancelled before any fill does not count against max_orders: the
        # next book update tries again (up to max_attempts in all).
        if update.status in ("INVALID", "CANCELED", "REJECTED") and not self.filled:
            self.attempts += 1
            if self.attempts < self.config.max_attempts:
                self.orders -= 1
            ctx.log.info("order %s: %s", update.status, update.reason)


class FaultyConfig(StrategyConfig, frozen=True, kw_only=True):
    token_id: str
    fail_on: int = 2


class Faulty(Strategy):
    """Buy on the first book update, raise on update number ``fail_on``."""

    Config = FaultyConfig
    config: FaultyConfig

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.updates = 0

    def on_start(self, ctx: Context) -> None:
        ctx.subscribe(self.config.token_id)

    def on_book(self, ctx: Context, book: BookView) -> None:
        self.updates += 1
        if self.updates >= self.config.fail_on:
            raise ZeroDivisionError("the strategy's own bug")
        if book.best_ask is not None:
            ctx.buy(book.token_id, 5, book.best_ask, reason="faulty")

"""Copy trade: follow configured wallets' trades (Data API rows) with a delay, a fraction and caps.

Each ``wallet_trade`` event of a followed wallet schedules a copy ``delay_ms`` later (the Data
API itself lags; the delay models our reaction time on top). At that time the copy is checked
against the book: a BUY is copied only if the best ask is within ``price_tolerance`` of the
leader's price, a SELL only if we hold the token and the best bid is within tolerance. Trades
whose price moved past the tolerance are skipped and counted. Size is ``fraction`` of the
leader's, capped per order (``max_order_usdc``) and per token (``max_position_usdc``), and never
below the market's min size or the $1 marketable minimum. Copies are FAK at the tolerance limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

import msgspec

from polybot.bus.messages import Event
from polybot.strategies.base import Context, Strategy, StrategyConfig

_CENT = Decimal("0.01")


class CopyTradeConfig(StrategyConfig, frozen=True, kw_only=True):
    """Parameters of :class:`CopyTrade`."""

    wallets: list[str] = msgspec.field(default_factory=list)
    fraction: Decimal = Decimal("0.5")
    delay_ms: int = 2_000
    price_tolerance: float = 0.02
    max_order_usdc: Decimal = Decimal("50")
    max_position_usdc: Decimal = Decimal("200")
    copy_sells: bool = True


@dataclass(slots=True)
class PendingCopy:
    """A leader trade waiting for its delay."""

    token_id: str
    side: str
    price: float
    size: Decimal
    wallet: str


class CopyTrade(Strategy):
    """Follow whale wallets (see module docstring)."""

    name = "copy_trade"
    Config = CopyTradeConfig
    config: CopyTradeConfig

    def __init__(self, config: CopyTradeConfig | None = None, /, **params: object) -> None:
        super().__init__(config, **params)
        self._wallets = {w.lower() for w in self.config.wallets}
        self._pending: dict[str, PendingCopy] = {}
        self._n = 0
        self.copied = 0
        self.skipped: dict[str, int] = {}

    def on_event(self, ctx: Context, event: Event) -> None:
        """Queue a copy of a followed wallet's trade."""
        if event.event_type != "wallet_trade":
            return
        data = event.data
        if str(data.get("wallet", "")).lower() not in self._wallets:
            return
        if data["side"] == "SELL" and not self.config.copy_sells:
            return
        self._n += 1
        name = f"copy-{self._n}"
        self._pending[name] = PendingCopy(
            token_id=str(data["token_id"]),
            side=str(data["side"]),
            price=float(data["price"]),
            size=Decimal(repr(float(data["size"]))),
            wallet=str(data["wallet"]),
        )
        ctx.subscribe(str(data["token_id"]))
        ctx.set_timer(name, self.config.delay_ms * 1_000_000)

    def on_timer(self, ctx: Context, name: str) -> None:
        """The delay elapsed: copy the trade if the price is still acceptable."""
        pending = self._pending.pop(name, None)
        if pending is not None:
            self._copy(ctx, pending)

    def _skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def _copy(self, ctx: Context, leader: PendingCopy) -> None:
        cfg = self.config
        try:
            market = ctx.market(leader.token_id)
        except KeyError:
            self._skip("unknown market")
            return
        book = ctx.book(leader.token_id)
        if book is None:
            self._skip("no book")
            return
        tol = cfg.price_tolerance
        if leader.side == "BUY":
            if book.best_ask is None or book.best_ask > leader.price + tol:
                self._skip("price moved")
                return
            limit = min(leader.price + tol, 1.0 - float(market.tick_size or Decimal("0.01")))
            held_value = ctx.position(leader.token_id) * Decimal(repr(limit))
            budget = min(cfg.max_order_usdc, cfg.max_position_usdc - held_value)
            size = min(leader.size * cfg.fraction, budget / Decimal(repr(book.best_ask)))
        else:
            held = ctx.position(leader.token_id)
            if held <= 0:
                self._skip("nothing to sell")
                return
            if book.best_bid is None or book.best_bid < leader.price - tol:
                self._skip("price moved")
                return
            limit = max(leader.price - tol, float(market.tick_size or Decimal("0.01")))
            size = min(leader.size * cfg.fraction, held)
        size = size.quantize(_CENT, rounding=ROUND_DOWN)
        touch = book.best_ask if leader.side == "BUY" else book.best_bid
        if size < (market.min_order_size or 0) or touch is None or float(size) * touch < 1.0:
            self._skip("below minimum size")
            return
        place = ctx.buy if leader.side == "BUY" else ctx.sell
        place(
            leader.token_id,
            size,
            limit,
            order_type="FAK",
            reason=f"copy {leader.wallet[:10]} {leader.side} {leader.size}@{leader.price}",
        )
        self.copied += 1

"""Spread farm: post-only two-sided quotes around the mid, skewed by inventory.

For each YES token it quotes a bid (BUY YES) and an offer. Polymarket cannot short, so the offer
is a SELL of held YES when there is inventory, otherwise a BUY of NO at ``1 − ask`` (the same
price in the unified book). Inventory is ``YES − NO`` shares; the fair price moves down by
``skew_ticks_per_100`` ticks per 100 shares long (up when short), and the side that would grow
``|inventory|`` past ``max_inventory`` is not quoted. Quotes are replaced when the wanted price
moves ``requote_ticks`` away; with ``reward_aware`` they are clamped inside the market's
liquidity-reward max spread (``rewards_max_spread`` cents from the mid) so they keep earning.
Sizes never go below the market's min size.
"""

from __future__ import annotations

import math
from decimal import Decimal

import msgspec

from polybot.bus.messages import Fill, MarketResolved, OrderUpdate
from polybot.strategies.base import BookView, Context, Strategy, StrategyConfig


class SpreadFarmConfig(StrategyConfig, frozen=True, kw_only=True):
    """Parameters of :class:`SpreadFarm`."""

    tokens: list[str] = msgspec.field(
        default_factory=list
    )  # YES tokens; empty = every binary market's YES token
    half_spread_ticks: int = 2
    size: Decimal = Decimal("25")
    max_inventory: Decimal = Decimal("150")
    skew_ticks_per_100: float = 2.0
    requote_ticks: int = 1
    reward_aware: bool = True
    max_markets: int = 10


class SpreadFarm(Strategy):
    """Inventory-skewed market making (see module docstring)."""

    name = "spread_farm"
    Config = SpreadFarmConfig
    config: SpreadFarmConfig

    def __init__(self, config: SpreadFarmConfig | None = None, /, **params: object) -> None:
        super().__init__(config, **params)
        self._quotes: dict[
            tuple[str, str], tuple[str, float]
        ] = {}  # (yes token, side) -> (id, price)
        self._tokens: list[str] = []
        self.requotes = 0

    def on_start(self, ctx: Context) -> None:
        """Pick the tokens to quote and subscribe."""
        tokens = list(self.config.tokens) or [m.asset_ids[0] for m in ctx.markets() if m.is_binary]
        self._tokens = tokens[: self.config.max_markets]
        for token in self._tokens:
            ctx.subscribe(token)

    def inventory(self, ctx: Context, yes_token: str) -> Decimal:
        """Return YES minus NO shares held for the market of ``yes_token``."""
        no_token = ctx.market(yes_token).complement(yes_token).asset_id
        return ctx.position(yes_token) - ctx.position(no_token)

    def wanted_quotes(self, ctx: Context, book: BookView) -> tuple[float | None, float | None]:
        """Return the (bid, ask) YES prices to quote now (None = do not quote that side)."""
        mid = book.mid
        if mid is None:
            return None, None
        market = ctx.market(book.token_id)
        tick = float(market.tick_size or Decimal("0.01"))
        cfg = self.config
        inventory = float(self.inventory(ctx, book.token_id))
        fair = mid - cfg.skew_ticks_per_100 * tick * inventory / 100
        bid = math.floor((fair - cfg.half_spread_ticks * tick) / tick + 1e-9) * tick
        ask = math.ceil((fair + cfg.half_spread_ticks * tick) / tick - 1e-9) * tick
        # Never cross: post-only orders that would take are rejected by the venue.
        if book.best_ask is not None:
            bid = min(bid, book.best_ask - tick)
        if book.best_bid is not None:
            ask = max(ask, book.best_bid + tick)
        if cfg.reward_aware and market.rewards_max_spread:
            band = float(market.rewards_max_spread) / 100
            bid = max(bid, math.ceil((mid - band) / tick - 1e-9) * tick)
            ask = min(ask, math.floor((mid + band) / tick + 1e-9) * tick)
        bid_ok = tick <= bid < ask and inventory + float(cfg.size) <= float(cfg.max_inventory)
        ask_ok = bid < ask <= 1 - tick and inventory - float(cfg.size) >= -float(cfg.max_inventory)
        return (round(bid, 6) if bid_ok else None), (round(ask, 6) if ask_ok else None)

    def on_book(self, ctx: Context, book: BookView) -> None:
        """Cancel/replace quotes that drifted from where they should be."""
        self._requote(ctx, book)

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        """Inventory changed: re-skew the market's quotes at once."""
        market = ctx.market(fill.token_id)
        book = ctx.book(market.asset_ids[0])
        if book is not None:
            self._requote(ctx, book)

    def on_order(self, ctx: Context, update: OrderUpdate) -> None:
        """Forget quotes that are no longer live."""
        if update.status not in ("LIVE", "DELAYED"):
            for key, (coid, _) in list(self._quotes.items()):
                if coid == update.client_order_id:
                    del self._quotes[key]

    def on_resolved(self, ctx: Context, resolved: MarketResolved) -> None:
        """Stop quoting a resolved market."""
        gone = ctx.market(resolved.market_id).asset_ids
        self._tokens = [t for t in self._tokens if t not in gone]
        for key in [k for k in self._quotes if k[0] in gone]:
            del self._quotes[key]

    def _requote(self, ctx: Context, book: BookView) -> None:
        token = book.token_id
        if token not in self._tokens:
            return
        market = ctx.market(token)
        tick = float(market.tick_size or Decimal("0.01"))
        size = max(self.config.size, market.min_order_size or Decimal(0))
        bid, ask = self.wanted_quotes(ctx, book)
        for side, price in (("bid", bid), ("ask", ask)):
            current = self._quotes.get((token, side))
            if current is not None:
                if (
                    price is not None
                    and abs(current[1] - price) < self.config.requote_ticks * tick - 1e-9
                ):
                    continue
                ctx.cancel(current[0])
                del self._quotes[(token, side)]
                self.requotes += 1
            if price is None:
                continue
            if side == "bid":
                coid = ctx.buy(token, size, price, post_only=True, reason="farm bid")
            elif ctx.position(token) >= size:
                coid = ctx.sell(token, size, price, post_only=True, reason="farm ask (inventory)")
            else:
                no_token = market.complement(token).asset_id
                coid = ctx.buy(
                    no_token, size, round(1 - price, 6), post_only=True, reason="farm ask (buy NO)"
                )
            self._quotes[(token, side)] = (coid, price)

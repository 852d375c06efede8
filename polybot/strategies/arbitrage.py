"""Arbitrage: buy every outcome of a set that must pay exactly 1 for less than 1 after fees.

Two baskets pay exactly 1 pUSD at resolution:

* a binary market's YES + NO;
* the YES tokens of every market in a neg-risk event (exactly one wins).

When the sum of the best asks plus taker fees is below ``1 − min_edge`` the strategy buys the
basket with one FOK order per leg (all-or-nothing per leg, so no leg is left half-filled by
design), walking the depth level by level while each extra share is still profitable. When it
holds a basket and the bids sum above ``1 + min_edge`` after fees it sells the basket early.
Selling a basket it does not hold would need a split, which is not a CLOB order, so it does not.
Legs respect the market's min size and the $1 marketable minimum.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from polybot.bus.messages import Fill, MarketResolved, OrderUpdate
from polybot.model.market import Market
from polybot.strategies.base import BookView, Context, Strategy, StrategyConfig


class ArbitrageConfig(StrategyConfig, frozen=True, kw_only=True):
    """Parameters of :class:`Arbitrage`."""

    min_edge: Decimal = Decimal("0.005")  # profit per basket after fees, pUSD
    max_size: Decimal = Decimal("200")  # shares per leg per attempt
    max_baskets: Decimal = Decimal("2000")  # basket shares held per group, at most
    binary: bool = True
    neg_risk: bool = True
    exit_early: bool = True  # sell a held basket when bids sum above 1 + min_edge


def taker_fee_per_share(market: Market, price: float) -> float:
    """Return the taker fee per share at ``price`` under the market's schedule."""
    schedule = market.fee_schedule
    return float(schedule.rate) * (price * (1 - price)) ** schedule.exponent


def basket_size(
    ladders: Sequence[Sequence[tuple[float, float]]],
    fees: Sequence[Market],
    limit_sum: float,
    max_size: float,
    *,
    buying: bool,
) -> tuple[float, list[float]]:
    """Walk every leg's ladder together; return ``(shares, worst price per leg)``.

    Each step takes the smallest size left at the legs' current levels and keeps it only when
    the sum of those level prices with fees is below ``limit_sum`` (buying) or, after fees,
    above it (selling). Returns 0 shares when even the first step does not pay.
    """
    index = [0] * len(ladders)
    left = [ladder[0][1] if ladder else 0.0 for ladder in ladders]
    worst = [0.0] * len(ladders)
    total = 0.0
    while total < max_size:
        if any(i >= len(ladder) for i, ladder in zip(index, ladders, strict=True)):
            break
        prices = [ladder[i][0] for i, ladder in zip(index, ladders, strict=True)]
        fee = sum(taker_fee_per_share(m, p) for m, p in zip(fees, prices, strict=True))
        value = sum(prices) + fee if buying else sum(prices) - fee
        if (buying and value > limit_sum) or (not buying and value < limit_sum):
            break
        step = min(min(left), max_size - total)
        total += step
        worst = prices
        for k in range(len(ladders)):
            left[k] -= step
            if left[k] <= 1e-9:
                index[k] += 1
                if index[k] < len(ladders[k]):
                    left[k] = ladders[k][index[k]][1]
    return total, worst


class Arbitrage(Strategy):
    """Binary complement and neg-risk basket arbitrage (see module docstring)."""

    name = "arbitrage"
    Config = ArbitrageConfig
    config: ArbitrageConfig

    def __init__(self, config: ArbitrageConfig | None = None, /, **params: object) -> None:
        super().__init__(config, **params)
        self._groups: dict[str, list[str]] = {}  # group key -> tokens of the basket
        self._group_of: dict[str, list[str]] = {}  # token -> group keys it belongs to
        self._in_flight: dict[str, set[str]] = {}  # group key -> live client order ids
        self._last_attempt: dict[str, tuple[bool, str, tuple[float, ...]]] = {}
        self.attempts = 0
        self.unwinds = 0
        self._leg_attempt: dict[str, int] = {}  # client order id -> attempt number
        self._attempt_fills: dict[int, list[tuple[str, Decimal]]] = {}
        self._broken: set[int] = set()

    def on_start(self, ctx: Context) -> None:
        """Build the baskets from the known markets and subscribe to their tokens."""
        events: dict[str, list[Market]] = {}
        for market in ctx.markets():
            if not market.is_binary:
                continue
            if self.config.binary:
                self._add_group(f"bin:{market.condition_id}", list(market.asset_ids))
            if self.config.neg_risk and market.neg_risk and market.event_id:
                events.setdefault(market.event_id, []).append(market)
        for event_id, markets in events.items():
            if len(markets) >= 2:
                self._add_group(f"neg:{event_id}", [m.asset_ids[0] for m in markets])
        for token in self._group_of:
            ctx.subscribe(token)

    def _add_group(self, key: str, tokens: list[str]) -> None:
        self._groups[key] = tokens
        for token in tokens:
            self._group_of.setdefault(token, []).append(key)

    def on_book(self, ctx: Context, book: BookView) -> None:
        """Check every basket this token belongs to."""
        for key in self._group_of.get(book.token_id, ()):
            if not self._in_flight.get(key):
                self._check(ctx, key)

    def on_order(self, ctx: Context, update: OrderUpdate) -> None:
        """Forget finished legs; when a buy leg is killed, unwind the legs that did fill."""
        if update.status in ("LIVE", "DELAYED"):
            return
        for live in self._in_flight.values():
            live.discard(update.client_order_id)
        attempt = self._leg_attempt.get(update.client_order_id)
        if attempt is not None and update.status != "MATCHED" and attempt not in self._broken:
            # Legging risk: a basket with a missing leg is a naked position, not an arbitrage.
            self._broken.add(attempt)
            for token, size in self._attempt_fills.pop(attempt, []):
                self._unwind(ctx, token, size)

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        """Track basket fills; a fill of an already broken basket is unwound at once."""
        attempt = self._leg_attempt.get(fill.client_order_id)
        if attempt is None or fill.side != "BUY":
            return
        if attempt in self._broken:
            self._unwind(ctx, fill.token_id, fill.size)
        else:
            self._attempt_fills.setdefault(attempt, []).append((fill.token_id, fill.size))

    def _unwind(self, ctx: Context, token: str, size: Decimal) -> None:
        book = ctx.book(token)
        if book is not None and book.best_bid is not None:
            self.unwinds += 1
            ctx.sell(token, size, book.best_bid, order_type="FAK", reason="unwind broken basket")

    def on_resolved(self, ctx: Context, resolved: MarketResolved) -> None:
        """Drop baskets whose markets resolved (their books are gone)."""
        market_id = resolved.market_id
        for key, tokens in list(self._groups.items()):
            if any(ctx.market(t).condition_id == market_id for t in tokens):
                del self._groups[key]
                for token in tokens:
                    self._group_of[token] = [k for k in self._group_of.get(token, []) if k != key]

    def _check(self, ctx: Context, key: str) -> None:
        tokens = self._groups[key]
        books = [ctx.book(t) for t in tokens]
        if any(b is None for b in books):
            return
        views = [b for b in books if b is not None]
        markets = [ctx.market(t) for t in tokens]
        cfg = self.config
        held = min(ctx.position(t) for t in tokens)
        room = float(cfg.max_baskets - held)
        if room > 0:
            size, worst = basket_size(
                [v.asks() for v in views],
                markets,
                1 - float(cfg.min_edge),
                min(float(cfg.max_size), room),
                buying=True,
            )
            cost = sum(worst) + 0.05
            size = min(size, float(ctx.cash()) / cost)
            if self._fire(ctx, key, tokens, markets, size, worst, buying=True):
                return
        if cfg.exit_early and held > 0:
            size, worst = basket_size(
                [v.bids() for v in views],
                markets,
                1 + float(cfg.min_edge),
                min(float(cfg.max_size), float(held)),
                buying=False,
            )
            self._fire(ctx, key, tokens, markets, size, worst, buying=False)

    def _fire(
        self,
        ctx: Context,
        key: str,
        tokens: list[str],
        markets: list[Market],
        size: float,
        worst: list[float],
        *,
        buying: bool,
    ) -> bool:
        shares = Decimal(repr(size)).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
        for market, price in zip(markets, worst, strict=True):
            if shares < (market.min_order_size or 0) or float(shares) * price < 1.0:
                return False
        signature = (buying, str(shares), tuple(worst))
        if self._last_attempt.get(key) == signature:
            return False  # the same book already got this try (FOK killed): wait for a change
        self._last_attempt[key] = signature
        self.attempts += 1
        live = self._in_flight.setdefault(key, set())
        reason = f"{'buy' if buying else 'sell'} basket {key} x{shares} at {sum(worst):.4f}"
        for token, price in zip(tokens, worst, strict=True):
            place = ctx.buy if buying else ctx.sell
            coid = place(token, shares, price, order_type="FOK", reason=reason)
            live.add(coid)
            if buying:
                self._leg_attempt[coid] = self.attempts
        return True

"""Statistical arbitrage: trade the z-score of a hedged spread between two correlated tokens.

Mids of every watched token are sampled together on a timer, so series are time-aligned. Pairs
are either configured or discovered once ``lookback`` samples exist: the most correlated pairs
of sample-to-sample changes (at least ``min_corr``, never the two sides of one market, which
mirror each other by construction). For a pair (A, B) the hedge ratio β is the OLS slope of A on
B over the lookback, the spread is ``A − β·B`` and its z-score decides:

* ``z > entry_z`` (A rich): buy A's NO and β× B's YES; ``z < −entry_z``: buy A's YES and
  β× B's NO. Polymarket has no shorting, so "short A" is "long A's complement".
* ``|z| < exit_z``: sell what the pair holds (at the bids).

Entries and exits are FAK at the touch; ``max_position`` caps shares per token and
``max_pairs`` the pairs open at once.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

import msgspec
import numpy as np

from polybot.bus.messages import MarketResolved
from polybot.strategies.base import Context, Strategy, StrategyConfig


class StatArbConfig(StrategyConfig, frozen=True, kw_only=True):
    """Parameters of :class:`StatArb`."""

    pairs: list[tuple[str, str]] = msgspec.field(
        default_factory=list
    )  # YES token pairs; empty = discover
    tokens: list[str] = msgspec.field(
        default_factory=list
    )  # tokens to consider when discovering; empty = every YES token
    sample_every_ms: int = 5_000
    lookback: int = 60  # samples
    min_corr: float = 0.5
    max_pairs: int = 3
    entry_z: float = 2.0
    exit_z: float = 0.5
    size: Decimal = Decimal("20")  # shares of A per entry
    max_position: Decimal = Decimal("200")


def hedge_ratio(a: np.ndarray, b: np.ndarray) -> float:
    """Return the OLS slope of ``a`` on ``b`` (0 when ``b`` does not move)."""
    var = float(np.var(b))
    if var <= 1e-12:
        return 0.0
    return float(np.cov(a, b, bias=True)[0, 1] / var)


def zscore(spread: np.ndarray) -> float:
    """Return the last value's z-score within ``spread`` (0 when flat)."""
    std = float(np.std(spread))
    if std <= 1e-9:
        return 0.0
    return float((spread[-1] - np.mean(spread)) / std)


class StatArb(Strategy):
    """Pairs trading on z-scores of a hedged spread (see module docstring)."""

    name = "stat_arb"
    Config = StatArbConfig
    config: StatArbConfig

    def __init__(self, config: StatArbConfig | None = None, /, **params: object) -> None:
        super().__init__(config, **params)
        self._series: dict[str, deque[float]] = {}
        self.pairs: list[tuple[str, str]] = [tuple(p) for p in self.config.pairs]  # type: ignore[misc]
        self._open: dict[tuple[str, str], int] = {}  # pair -> +1 (long A) / −1 (short A)
        self.last_z: dict[tuple[str, str], float] = {}

    def on_start(self, ctx: Context) -> None:
        """Pick the tokens to watch and start the sampling timer."""
        tokens = list(self.config.tokens) or [m.asset_ids[0] for m in ctx.markets() if m.is_binary]
        for a, b in self.pairs:
            tokens += [a, b]
        for token in dict.fromkeys(tokens):
            self._series[token] = deque(maxlen=self.config.lookback)
            ctx.subscribe(token)
        ctx.set_timer("sample", self.config.sample_every_ms * 1_000_000, repeat=True)

    def on_resolved(self, ctx: Context, resolved: MarketResolved) -> None:
        """Stop trading pairs that include a resolved market."""
        gone = set(ctx.market(resolved.market_id).asset_ids)
        self.pairs = [p for p in self.pairs if not gone.intersection(p)]
        for token in gone:
            self._series.pop(token, None)

    def on_timer(self, ctx: Context, name: str) -> None:
        """Sample every mid at once, discover pairs when due, then trade each pair."""
        for token, series in self._series.items():
            book = ctx.book(token)
            mid = book.mid if book is not None else None
            if mid is not None:
                series.append(mid)
            elif series:
                series.append(series[-1])  # carry forward keeps series aligned
        if not self.pairs:
            self.pairs = self.discover(ctx)
        for pair in self.pairs:
            self._trade(ctx, pair)

    def discover(self, ctx: Context) -> list[tuple[str, str]]:
        """Return the most correlated token pairs once enough aligned samples exist."""
        full = [t for t, s in self._series.items() if len(s) == self.config.lookback]
        if len(full) < 2:
            return []
        changes = np.diff(np.array([list(self._series[t]) for t in full]), axis=1)
        moving = changes.std(axis=1) > 1e-12
        full = [t for t, m in zip(full, moving, strict=True) if m]
        if len(full) < 2:
            return []
        corr = np.corrcoef(changes[moving])
        candidates = []
        for i in range(len(full)):
            for j in range(i + 1, len(full)):
                if ctx.market(full[i]).condition_id == ctx.market(full[j]).condition_id:
                    continue
                if corr[i, j] >= self.config.min_corr:
                    candidates.append((float(corr[i, j]), full[i], full[j]))
        candidates.sort(reverse=True)
        return [(a, b) for _, a, b in candidates[: self.config.max_pairs]]

    def _trade(self, ctx: Context, pair: tuple[str, str]) -> None:
        a_tok, b_tok = pair
        a_hist, b_hist = self._series.get(a_tok), self._series.get(b_tok)
        if (
            not a_hist
            or not b_hist
            or len(a_hist) < self.config.lookback
            or len(b_hist) < self.config.lookback
        ):
            return
        a, b = np.array(a_hist), np.array(b_hist)
        beta = hedge_ratio(a, b)
        z = zscore(a - beta * b)
        self.last_z[pair] = z
        state = self._open.get(pair, 0)
        cfg = self.config
        if state and abs(z) < cfg.exit_z:
            self._close(ctx, pair)
        elif not state and abs(z) > cfg.entry_z and abs(beta) > 0.05:
            if len(self._open) >= cfg.max_pairs:
                return
            direction = -1 if z > 0 else 1
            a_leg = ctx.market(a_tok).asset_ids[0 if direction > 0 else 1]
            # Spread = A − β·B: the hedge leg goes the other way from A (scaled by β's sign).
            b_leg = ctx.market(b_tok).asset_ids[0 if -direction * beta > 0 else 1]
            b_size = (cfg.size * Decimal(repr(round(abs(beta), 4)))).quantize(Decimal("0.01"))
            if self._buy_touch(ctx, a_leg, cfg.size) and self._buy_touch(ctx, b_leg, b_size):
                self._open[pair] = direction

    def _buy_touch(self, ctx: Context, token: str, size: Decimal) -> bool:
        book = ctx.book(token)
        market = ctx.market(token)
        if book is None or book.best_ask is None:
            return False
        if ctx.position(token) + size > self.config.max_position or size < (
            market.min_order_size or 0
        ):
            return False
        if float(size) * book.best_ask < 1.0:
            return False
        ctx.buy(token, size, book.best_ask, order_type="FAK", reason="stat-arb entry")
        return True

    def _close(self, ctx: Context, pair: tuple[str, str]) -> None:
        del self._open[pair]
        for base in pair:
            for token in ctx.market(base).asset_ids:
                held = ctx.position(token)
                book = ctx.book(token)
                if held > 0 and book is not None and book.best_bid is not None:
                    ctx.sell(token, held, book.best_bid, order_type="FAK", reason="stat-arb exit")

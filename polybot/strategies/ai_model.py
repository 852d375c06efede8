"""AI model: trade the edge between a forecasting model's probability and the market's price.

On a timer the strategy computes features for every watched YES token from what it has seen
(book and its own short history), asks the model for P(YES), and compares with what it would
pay: buying YES costs the YES ask, betting on NO costs the NO ask. When the edge after the taker
fee is at least ``min_edge`` and the model's confidence ``|2p − 1|`` at least
``min_confidence``, it buys, sized by a capped Kelly fraction of its cash
(``f* = (p − price) / (1 − price)``, scaled by ``kelly_fraction``, capped at ``max_fraction``).
Every forecast is kept in ``self.forecasts`` so the backtest can score it (Brier, calibration).
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

import msgspec

from polybot.strategies.base import BookView, Context, Strategy, StrategyConfig
from polybot.strategies.models import ProbabilityModel, load_model, logit

FEATURES = ("mid", "logit_mid", "spread", "imbalance", "momentum")


def book_features(book: BookView, history: deque[float]) -> dict[str, float] | None:
    """Return the model features of one YES book (None when a side is empty).

    ``history`` holds earlier mids sampled at the strategy's rate; momentum is the change over it.
    """
    bid, ask, mid = book.best_bid, book.best_ask, book.mid
    if bid is None or ask is None or mid is None:
        return None
    bid_size = sum(s for _, s in book.bids(3))
    ask_size = sum(s for _, s in book.asks(3))
    depth = bid_size + ask_size
    return {
        "mid": mid,
        "logit_mid": logit(mid),
        "spread": ask - bid,
        "imbalance": (bid_size - ask_size) / depth if depth else 0.0,
        "momentum": mid - history[0] if history else 0.0,
    }


class AIModelConfig(StrategyConfig, frozen=True, kw_only=True):
    """Parameters of :class:`AIModel`."""

    model: str = "fair_value_logit"  # bundled model name or a path to a model file
    tokens: list[str] = msgspec.field(
        default_factory=list
    )  # YES tokens; empty = every binary market's YES token
    sample_every_ms: int = 30_000
    momentum_samples: int = 10
    min_edge: float = 0.03
    min_confidence: float = 0.0
    kelly_fraction: float = 0.25
    max_fraction: float = 0.05  # of cash per order
    max_position: Decimal = Decimal("500")  # shares per token


class AIModel(Strategy):
    """Model-edge trading with capped Kelly sizing (see module docstring)."""

    name = "ai_model"
    Config = AIModelConfig
    config: AIModelConfig

    def __init__(
        self,
        config: AIModelConfig | None = None,
        /,
        model: ProbabilityModel | None = None,
        **params: object,
    ) -> None:
        super().__init__(config, **params)
        self.model: ProbabilityModel = model or load_model(self.config.model)
        self._history: dict[str, deque[float]] = {}
        # (ts_ns, market, token, p, mid) per forecast, for Brier scoring
        self.forecasts: list[tuple[int, str, str, float, float]] = []

    def on_start(self, ctx: Context) -> None:
        """Subscribe to the watched tokens and start sampling."""
        tokens = list(self.config.tokens) or [m.asset_ids[0] for m in ctx.markets() if m.is_binary]
        for token in tokens:
            self._history[token] = deque(maxlen=self.config.momentum_samples)
            ctx.subscribe(token)
        ctx.set_timer("forecast", self.config.sample_every_ms * 1_000_000, repeat=True)

    def on_timer(self, ctx: Context, name: str) -> None:
        """Forecast every watched token and trade the edges."""
        for token, history in list(self._history.items()):
            book = ctx.book(token)
            if book is None:
                continue
            features = book_features(book, history)
            if features is None:
                continue
            history.append(features["mid"])
            p = self.model.predict(features)
            market = ctx.market(token)
            self.forecasts.append((ctx.now_ns(), market.condition_id, token, p, features["mid"]))
            self._trade(ctx, token, p)

    def _trade(self, ctx: Context, yes_token: str, p: float) -> None:
        cfg = self.config
        if abs(2 * p - 1) < cfg.min_confidence:
            return
        market = ctx.market(yes_token)
        rate = float(market.fee_schedule.rate)
        for token, prob in ((yes_token, p), (market.complement(yes_token).asset_id, 1 - p)):
            book = ctx.book(token)
            if book is None or book.best_ask is None:
                continue
            price = book.best_ask
            edge = prob - price - rate * price * (1 - price)
            if edge < cfg.min_edge:
                continue
            kelly = max(0.0, (prob - price) / (1 - price)) * cfg.kelly_fraction
            stake = float(ctx.cash()) * min(kelly, cfg.max_fraction)
            shares = Decimal(repr(round(stake / price, 2)))
            shares = min(shares, cfg.max_position - ctx.position(token))
            if shares < (market.min_order_size or 0) or float(shares) * price < 1.0:
                continue
            ctx.buy(
                token,
                shares,
                price,
                order_type="FAK",
                confidence=abs(2 * p - 1),
                reason=f"model p={prob:.3f} vs ask {price:.3f}",
            )

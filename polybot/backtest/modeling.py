"""Offline training of forecasting models for the AI-model strategy (numpy only).

:func:`feature_table` replays recorded data through the engine with a tiny collector strategy
that samples :func:`~polybot.strategies.ai_model.book_features` for every YES token, exactly as
the live strategy will compute them, then labels each row with its market's outcome (taken
from the resolution rows *after* the replay — training is offline, so it may look ahead).
:func:`train_logit` fits a standardized L2-regularized logistic regression by Newton's method
on the earlier markets and a Platt calibration on the later ones, and reports Brier scores.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
import pandas as pd

from polybot.backtest.run import DataLike, load_data, outcomes_of
from polybot.engine.engine import Engine
from polybot.strategies.ai_model import FEATURES, book_features
from polybot.strategies.base import Context, Strategy, StrategyConfig
from polybot.strategies.models import LogisticModel


class _CollectorConfig(StrategyConfig, frozen=True, kw_only=True):
    sample_every_ms: int = 30_000
    momentum_samples: int = 10


class FeatureCollector(Strategy):
    """Samples model features of every YES token on a timer; never trades."""

    name = "feature_collector"
    Config = _CollectorConfig
    config: _CollectorConfig

    def __init__(self, config: _CollectorConfig | None = None, /, **params: object) -> None:
        super().__init__(config, **params)
        self.rows: list[dict[str, float | str | int]] = []
        self._history: dict[str, deque[float]] = {}

    def on_start(self, ctx: Context) -> None:
        """Watch every binary market's YES token."""
        for market in ctx.markets():
            if market.is_binary:
                self._history[market.asset_ids[0]] = deque(maxlen=self.config.momentum_samples)
        ctx.set_timer("sample", self.config.sample_every_ms * 1_000_000, repeat=True)

    def on_timer(self, ctx: Context, name: str) -> None:
        """Record one feature row per token with a two-sided book."""
        for token, history in self._history.items():
            book = ctx.book(token)
            features = book_features(book, history) if book is not None else None
            if features is None:
                continue
            history.append(features["mid"])
            self.rows.append(
                {
                    "ts_ns": ctx.now_ns(),
                    "market_id": ctx.market(token).condition_id,
                    "token_id": token,
                    **features,
                }
            )


def feature_table(data: DataLike, *, sample_every_ms: int = 30_000) -> pd.DataFrame:
    """Return sampled features with a ``y`` column (1 if the YES token won, NaN if unresolved)."""
    replay = load_data(data)
    collector = FeatureCollector(sample_every_ms=sample_every_ms)
    engine = Engine([collector], markets=replay.market_info.values())
    engine.run_replay(replay)
    frame = pd.DataFrame(collector.rows)
    if frame.empty:
        return frame
    winners = frame["market_id"].map(outcomes_of(replay))
    frame["y"] = np.where(winners.isna(), np.nan, (winners == frame["token_id"]).astype(float))
    return frame


def _fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, iterations: int = 50) -> np.ndarray:
    """Return weights (bias last) of an L2-regularized logistic regression (Newton / IRLS)."""
    design = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 0.0  # the bias is not shrunk
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(design @ w, -30, 30)))
        gradient = design.T @ (p - y) + penalty * w
        hessian = (
            (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty) + 1e-9 * np.eye(len(w))
        )
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w


def train_logit(
    table: pd.DataFrame,
    *,
    features: Sequence[str] = FEATURES,
    l2: float = 1.0,
    calibration_share: float = 0.3,
    name: str = "fair_value_logit",
) -> LogisticModel:
    """Fit the model on resolved rows; calibrate on the last ``calibration_share`` of markets."""
    rows = table.dropna(subset=["y"])
    markets = list(dict.fromkeys(rows.sort_values("ts_ns")["market_id"]))
    if len(markets) < 4:
        raise ValueError(f"need at least 4 resolved markets to train, got {len(markets)}")
    n_cal = max(1, int(len(markets) * calibration_share))
    cal_markets = set(markets[-n_cal:])
    fit, cal = rows[~rows["market_id"].isin(cal_markets)], rows[rows["market_id"].isin(cal_markets)]
    x = fit[list(features)].to_numpy(float)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    w = _fit_logistic((x - mean) / scale, fit["y"].to_numpy(float), l2)
    model = LogisticModel(
        name=name,
        features=features,
        weights=w[:-1].tolist(),
        bias=float(w[-1]),
        mean=mean.tolist(),
        scale=scale.tolist(),
    )
    raw = np.array([model.raw_score(r) for r in cal[list(features)].to_dict("records")])
    platt = _fit_logistic(raw[:, None], cal["y"].to_numpy(float), l2=1e-3)
    model.calibration = (float(platt[0]), float(platt[1]))
    p_cal = np.array([model.predict(r) for r in cal[list(features)].to_dict("records")])
    y_cal = cal["y"].to_numpy(float)
    model.meta = {
        "rows_fit": len(fit),
        "rows_calibration": len(cal),
        "markets": len(markets),
        "brier_calibration_set": float(np.mean((p_cal - y_cal) ** 2)),
        "brier_market_mid": float(np.mean((cal["mid"].to_numpy(float) - y_cal) ** 2)),
        "l2": l2,
    }
    return model

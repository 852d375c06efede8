"""Performance statistics on equity curves, trades and forecasts (numpy in, floats out)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_YEAR_NS = 365 * 86_400 * 1_000_000_000


def total_return(equity: np.ndarray) -> float:
    """Return final / initial − 1 (0 for fewer than two points)."""
    if len(equity) < 2 or equity[0] == 0:
        return 0.0
    return float(equity[-1] / equity[0] - 1)


def sharpe(equity: np.ndarray, ts_ns: np.ndarray) -> float:
    """Return the annualized Sharpe ratio of per-sample returns (0 when flat or too short).

    Samples are taken at a fixed interval, so the annualization factor is the number of median
    intervals per year.
    """
    if len(equity) < 3:
        return 0.0
    returns = np.diff(equity) / equity[:-1]
    std = float(np.std(returns, ddof=1))
    if std < 1e-12:
        return 0.0
    step = float(np.median(np.diff(ts_ns)))
    if step <= 0:
        return 0.0
    return float(np.mean(returns) / std * np.sqrt(_YEAR_NS / step))


def max_drawdown(equity: np.ndarray) -> float:
    """Return the largest peak-to-trough loss as a positive fraction of the peak."""
    if len(equity) == 0:
        return 0.0
    peaks = np.maximum.accumulate(equity)
    drawdowns = np.where(peaks > 0, (peaks - equity) / peaks, 0.0)
    return float(drawdowns.max())


def win_rate(pnls: Sequence[float]) -> float:
    """Return the share of closed trades with positive PnL (NaN when there are none)."""
    if not len(pnls):
        return float("nan")
    return float(np.mean(np.asarray(pnls) > 0))


def brier(probabilities: Sequence[float], outcomes: Sequence[float]) -> float:
    """Return the mean squared error of probability forecasts (NaN when empty)."""
    if not len(probabilities):
        return float("nan")
    p, y = np.asarray(probabilities, float), np.asarray(outcomes, float)
    return float(np.mean((p - y) ** 2))


def calibration(
    probabilities: Sequence[float], outcomes: Sequence[float], bins: int = 10
) -> list[tuple[float, float, float, int]]:
    """Return ``(bin low, mean forecast, observed frequency, count)`` for non-empty bins."""
    p, y = np.asarray(probabilities, float), np.asarray(outcomes, float)
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            out.append(
                (float(edges[b]), float(p[mask].mean()), float(y[mask].mean()), int(mask.sum()))
            )
    return out

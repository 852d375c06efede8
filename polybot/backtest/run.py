"""``backtest()`` and ``optimize()``: run strategies over recorded data with the shared matcher.

Data can be a :class:`~polybot.recording.ReplayData`, a :class:`~polybot.recording.RecordStore`
or a path to one. Load once and pass the ``ReplayData`` when running many backtests (grids do).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from polybot.backtest.result import BacktestResult
from polybot.engine.engine import Engine
from polybot.recording.replay import ReplayData
from polybot.recording.schema import RESOLVED
from polybot.recording.store import RecordStore
from polybot.risk import RiskLimits
from polybot.strategies.base import Strategy
from polybot.venues.sim.venue import SimVenue

DataLike = ReplayData | RecordStore | str | os.PathLike[str]
_PROGRESS_MIN_ROWS = 500_000  # below this a bar is more noise than help


def load_data(
    data: DataLike,
    *,
    start: str | None = None,
    end: str | None = None,
    markets: Sequence[str] | None = None,
) -> ReplayData:
    """Return replayable data for ``data`` (a no-op for ``ReplayData``)."""
    if isinstance(data, ReplayData):
        return data
    store = data if isinstance(data, RecordStore) else RecordStore(data)
    return ReplayData.load(store, start=start, end=end, markets=markets)


def outcomes_of(data: ReplayData) -> dict[str, str]:
    """Return market -> winning token from the data's resolution rows (for scoring only)."""
    return {
        data.markets[data.market[i]]: data.tokens[data.token[i]]
        for i in range(len(data))
        if data.kind[i] == RESOLVED
    }


def backtest_many(
    strategies: Sequence[Strategy],
    data: DataLike,
    *,
    start: str | None = None,
    end: str | None = None,
    markets: Sequence[str] | None = None,
    latency_ms: int = 0,
    latency_jitter_ms: int = 0,
    seed: int = 0,
    starting_cash: float = 1000.0,
    sample_every_s: float = 60.0,
    progress: bool | None = None,
    risk: RiskLimits | None = None,
) -> list[BacktestResult]:
    """Run several strategies together on one engine (they share the venue and the books).

    ``risk`` runs every order through the live executor's pre-trade gate first (each strategy
    against its own account); rejections are counted by rule in each result.
    """
    replay = load_data(data, start=start, end=end, markets=markets)

    def venue(engine: Engine) -> SimVenue:
        return SimVenue(
            engine.markets,
            engine.levels,
            latency_ms=latency_ms,
            latency_jitter_ms=latency_jitter_ms,
            seed=seed,
            starting_cash=starting_cash,
        )

    engine = Engine(
        strategies,
        markets=replay.market_info.values(),
        venue=venue,
        starting_cash=starting_cash,
        sample_every_s=sample_every_s,
        risk=risk,
    )
    show = progress if progress is not None else len(replay) >= _PROGRESS_MIN_ROWS
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=replay.message_count, unit="msg", desc="backtest")
        done = [0]

        def tick(n: int) -> None:
            bar.update(n - done[0])
            done[0] = n

        messages = engine.run_replay(replay, progress=tick)
        bar.update(messages - done[0])
        bar.close()
    else:
        messages = engine.run_replay(replay)
    engine.stop()
    outcomes = outcomes_of(replay)
    return [
        BacktestResult.from_host(h, outcomes=outcomes, messages=messages, seed=seed)
        for h in engine.hosts
    ]


def backtest(strategy: Strategy, data: DataLike, **options: Any) -> BacktestResult:
    """Backtest one strategy on recorded data; see :func:`backtest_many` for the options."""
    return backtest_many([strategy], data, **options)[0]


def optimize(
    strategy_type: type[Strategy],
    data: DataLike,
    *,
    maximize: str = "return",
    constraint: Any = None,
    fixed: dict[str, Any] | None = None,
    progress: bool | None = None,
    risk: RiskLimits | None = None,
    **grid: Iterable[Any],
) -> tuple[BacktestResult, pd.DataFrame]:
    """Grid-search parameters; return the best result and a tidy table (one row per combo).

    ``grid`` maps parameter names to candidate values (typos get a hint, as everywhere);
    ``fixed`` holds parameters shared by every run; ``constraint(params) -> bool`` skips combos;
    ``risk`` applies the pre-trade gate to every run (see :func:`backtest_many`).
    The table has one column per parameter plus every stat, ready for ``pivot`` heatmaps.
    """
    replay = load_data(data)
    names = list(grid)
    combos = [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]
    if constraint is not None:
        combos = [c for c in combos if constraint(c)]
    if not combos:
        raise ValueError("optimize() needs at least one parameter combination")
    rows: list[dict[str, Any]] = []
    best: BacktestResult | None = None
    iterator: Iterable[dict[str, Any]] = combos
    if progress if progress is not None else len(combos) > 4:
        from tqdm.auto import tqdm

        iterator = tqdm(combos, desc="optimize", unit="run")
    for params in iterator:
        result = backtest(
            strategy_type(**(fixed or {}), **params), replay, progress=False, risk=risk
        )
        rows.append({**params, **result.stats.to_dict(), "config_hash": result.config_hash})
        score = result.stats.get(maximize)
        if score is None:
            raise KeyError(f"unknown stat {maximize!r}; stats: {list(result.stats.index)}")
        if best is None or score > best.stats[maximize]:
            best = result
    assert best is not None
    return best, pd.DataFrame(rows)

"""From idea to production: backtest, grid-search, and deploy a strategy to the live runner.

Thin on purpose: ``polybot.backtest`` does the work (same engine, same matcher, same risk gate as
production); this module picks sensible data (the stack's own recording, else the bundled
sample) and turns a notebook strategy into a ``strategy_configs`` row the runner picks up.

Deploying a class the runner can import: the runner is another process and loads strategies by
registry name or ``module:Class``. A class defined in a cell lives in ``__main__`` and cannot be
imported elsewhere, so write it to a module under ``strategy_dir(settings)`` (``%%writefile``),
import it from there (``import_strategies``), and deploy that; ``pb.start()`` puts the directory
on the stack's ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from polybot.backtest import BacktestResult, backtest, optimize
from polybot.config import Settings
from polybot.core.errors import ConfigError
from polybot.notebook.display import Frame, escape, html_table
from polybot.recording.store import RecordStore
from polybot.strategies.base import Strategy
from polybot.strategies.registry import STRATEGIES

Mode = Literal["live", "shadow"]


def strategy_dir(settings: Settings) -> Path:
    """Return the directory for notebook-written strategy modules (created on demand)."""
    path = settings.data_dir.resolve() / "strategies"
    path.mkdir(parents=True, exist_ok=True)
    return path


def import_strategies(settings: Settings, module: str) -> Any:
    """Import (or re-import, after an edit) a module from ``strategy_dir`` and return it."""
    folder = str(strategy_dir(settings))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    importlib.invalidate_caches()
    if module in sys.modules:
        return importlib.reload(sys.modules[module])
    return importlib.import_module(module)


def default_data(settings: Settings) -> RecordStore:
    """Return the stack's recording when it has data, else the bundled sample recording."""
    recorded = settings.data_dir.resolve() / "recordings"
    store = RecordStore(recorded)
    if recorded.is_dir() and store.days():
        return store
    from polybot.testing.sample import sample_store

    return sample_store()


def sample_data(minutes: float = 10.0, seed: int = 11) -> RecordStore:
    """Return a recording of the local venue (generated once per process; same args → same data)."""
    from polybot.testing.sample import SampleSpec, sample_store

    return sample_store(SampleSpec(seed=seed, minutes=minutes))


def run_backtest(
    settings: Settings, strategy: Strategy, data: Any = None, **options: Any
) -> BacktestResult:
    """Backtest ``strategy`` on ``data`` (default: the stack's recording or the sample)."""
    return backtest(strategy, data if data is not None else default_data(settings), **options)


class GridSearch:
    """The result of ``optimize``: the best backtest and one row per parameter combination."""

    def __init__(self, best: BacktestResult, grid: pd.DataFrame, maximize: str) -> None:
        self.best = best
        self.grid = grid
        self.maximize = maximize

    def heatmap(self, x: str, y: str, stat: str | None = None) -> Any:
        """Return a plotly heatmap of ``stat`` (default: the maximized one) over two parameters."""
        import plotly.graph_objects as go

        value = stat or self.maximize
        table = self.grid.pivot_table(index=y, columns=x, values=value, aggfunc="max")
        figure = go.Figure(
            go.Heatmap(
                z=table.values,
                x=[str(c) for c in table.columns],
                y=[str(i) for i in table.index],
                colorscale="Viridis",
            )
        )
        figure.update_layout(
            height=380, title=f"{value} by {x} × {y}", xaxis_title=x, yaxis_title=y
        )
        return figure

    def plot(self) -> Any:
        """Return the best run's plot."""
        return self.best.plot()

    def _repr_html_(self) -> str:
        shown = self.grid.sort_values(self.maximize, ascending=False).drop(
            columns=["config_hash"], errors="ignore"
        )
        return (
            f"<div class='pb-grid'><b>grid search</b> · {len(self.grid)} runs · best "
            f"{escape(self.maximize)} = {self.best.stats.get(self.maximize, float('nan')):.4g}"
            f"{html_table(shown, max_rows=15)}{self.best._repr_html_()}</div>"
        )


def run_optimize(
    settings: Settings,
    strategy_type: type[Strategy],
    data: Any = None,
    *,
    maximize: str = "return",
    **grid: Any,
) -> GridSearch:
    """Grid-search ``strategy_type``'s parameters; see ``polybot.backtest.optimize``."""
    best, table = optimize(
        strategy_type,
        data if data is not None else default_data(settings),
        maximize=maximize,
        **grid,
    )
    return GridSearch(best, table, maximize)


def class_path(strategy_type: type[Strategy]) -> str:
    """Return how the runner finds ``strategy_type``: its registry name or ``module:Class``."""
    name = strategy_type.strategy_name()
    if STRATEGIES.get(name) is strategy_type:
        return name
    module = strategy_type.__module__
    if module == "__main__" or module.startswith("__"):
        raise ConfigError(
            f"{strategy_type.__name__} was defined in the notebook, so the runner (another "
            "process) cannot import it. Write it to a module in pb.strategy_dir (e.g. with "
            "%%writefile), load it with pb.import_strategies(...), then deploy that class"
        )
    return f"{module}:{strategy_type.__qualname__}"


def deploy(
    settings: Settings, strategy: Strategy, name: str | None = None, *, enabled: bool = True
) -> Frame:
    """Write ``strategy``'s class and config to ``strategy_configs``; the runner starts it.

    The newest row of an instance name is its current version: deploying again with other
    parameters restarts the instance with them; ``enabled=False`` stops it.
    """
    from sqlalchemy import select

    from polybot.storage.models import StrategyConfig
    from polybot.storage.sqlite import make_engine, make_session_factory

    instance = name or strategy.strategy_name()
    row_class = class_path(type(strategy))
    config_text = json.dumps(strategy.config.to_dict(), sort_keys=True)
    path = settings.sqlite_path.resolve()
    if not path.exists():
        raise ConfigError(
            f"no database at {path}: start the stack first (`polybot up` / pb.start())"
        )
    engine = make_engine(path)
    try:
        with make_session_factory(engine)() as session, session.begin():
            existing = session.scalars(
                select(StrategyConfig).where(
                    StrategyConfig.strategy == instance,
                    StrategyConfig.config_hash == strategy.config_hash,
                )
            ).first()
            if existing is not None:
                # Same parameters again: a new row would break the (strategy, hash) key; moving
                # it to the top (delete + insert) makes it the instance's current version.
                session.delete(existing)
                session.flush()
            session.add(
                StrategyConfig(
                    strategy=instance,
                    strategy_class=row_class,
                    config_hash=strategy.config_hash,
                    config=config_text,
                    is_enabled=enabled,
                )
            )
    finally:
        engine.dispose()
    frame = pd.DataFrame(
        [
            {
                "strategy": instance,
                "class": row_class,
                "config_hash": strategy.config_hash,
                "enabled": enabled,
                "config": config_text,
            }
        ]
    )
    return Frame(frame, "deployed")

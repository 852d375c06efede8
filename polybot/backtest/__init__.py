"""Backtesting on recorded data: ``backtest``, ``optimize`` and ``BacktestResult``.

Sits above the engine; must not import services or the notebook layer.
"""

from polybot.backtest.result import BacktestResult
from polybot.backtest.run import backtest, backtest_many, load_data, optimize

__all__ = ["BacktestResult", "backtest", "backtest_many", "load_data", "optimize"]

"""The notebook library: one import line to reach the live stack from Jupyter.

``from polybot.notebook import connect`` then ``pb = connect()``. Sits above the engine and
backtest layers and below ``polybot.stack`` and the CLI; dashboards import only this package.
"""

from polybot.notebook.connection import StackNotRunning, StackStatus
from polybot.notebook.live import LiveFeed
from polybot.notebook.snapshot import BookState, FeedStatus
from polybot.notebook.sql import OHLC, Correlations
from polybot.notebook.state import StateCommandFailed
from polybot.notebook.trading import Ticket
from polybot.notebook.workbench import Workbench, connect

__all__ = [
    "OHLC",
    "BookState",
    "Correlations",
    "FeedStatus",
    "LiveFeed",
    "StackNotRunning",
    "StackStatus",
    "StateCommandFailed",
    "Ticket",
    "Workbench",
    "connect",
]

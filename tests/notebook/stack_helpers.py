"""A real PolyBot stack for the notebook, notebooks and dashboard tests.

``NotebookStack`` is ``polybot.testing.stack.IsolatedStack`` (private data dir, ipc sockets and
ports, ``polybot up`` on enter, ``polybot down`` on exit) set up for notebook kernels: while it
runs its ``POLYBOT_*`` variables are exported into this process, so the kernels and Voila servers
a test starts see this stack, and the services import the checkout and the strategies a notebook
deploys (``pb.strategy_dir``: ``data/strategies``).
"""

from __future__ import annotations

from pathlib import Path

from polybot.testing.stack import IsolatedStack

REPO_ROOT = Path(__file__).resolve().parents[2]


class NotebookStack(IsolatedStack):
    """An isolated stack whose services import the checkout and notebook-deployed strategies."""

    def __init__(self, markets: int = 20) -> None:
        super().__init__(
            prefix="pbnb-",
            markets=markets,
            pythonpath=[REPO_ROOT],
            # The runner imports strategies deployed from notebooks from here (pb.strategy_dir).
            data_pythonpath=["strategies"],
        )

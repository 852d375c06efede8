"""A real PolyBot stack for the notebook, notebooks and dashboard tests.

``NotebookStack`` is ``polybot.testing.stack.IsolatedStack`` (private data dir, ipc sockets and
ports, ``polybot up`` on enter, ``polybot down`` on exit) set up for notebook kernels: while it
runs its ``POLYBOT_*`` variables are exported into this process, so the kernels and Voila servers
a test starts see this stack, and the services import the checkout and the strategies a notebook
deploys (``pb.strategy_dir``: ``data/strategies``).
"""

from __future__ import annotations

from pathlib import Path

from polybot.testing.stack import IsolatedStack, Leftovers

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


class RunningStack(NotebookStack):
    """``NotebookStack`` with the name and calls of the former helper, for tests/notebooks.

    tests/notebooks/conftest.py calls ``old = stack.apply_env()`` after starting and
    ``RunningStack.restore_env(old)`` before stopping. ``start()`` already exports the
    environment (``apply_env`` is idempotent) and ``stop()`` restores it, so both calls change
    nothing here. Remove this class once tests/notebooks uses ``NotebookStack``.
    """

    @staticmethod
    def restore_env(old: object = None) -> None:  # type: ignore[override]
        """Do nothing: ``stop()`` restores the environment."""

    def stop(self) -> Leftovers:
        """Stop the stack and restore the environment (see ``IsolatedStack.stop``)."""
        try:
            return super().stop()
        finally:
            IsolatedStack.restore_env(self)

"""A real stack for executing the tutorials and dashboards (shared by this directory's tests)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebook"))

from stack_helpers import NotebookStack


@pytest.fixture(scope="session")
def stack() -> Iterator[NotebookStack]:
    """Start one stack for the session, with its env exported so kernels inherit it."""
    with NotebookStack() as running:
        yield running

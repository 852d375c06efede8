"""Fixtures: one local venue and one live-mode executor per test module (they take seconds to start)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from executor_stack import Stack, VenueProcess


@pytest.fixture(scope="module")
def root() -> Iterator[Path]:
    """A short private directory (ipc paths must stay under ~100 characters)."""
    path = Path(tempfile.mkdtemp(prefix="pbx-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def venue(root: Path) -> Iterator[VenueProcess]:
    """The local venue; its throwaway wallet lands in the executor's data dir."""
    process = VenueProcess(root / "data")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def stack(root: Path, venue: VenueProcess) -> Iterator[Stack]:
    """A running live-mode executor wired to the venue and to the test's sockets."""
    running = Stack(root, venue, mode="live")
    running.start()
    yield running
    if running.proc is not None and running.proc.poll() is None:
        assert running.terminate() == 0
    running.close()

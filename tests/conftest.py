"""Shared test configuration: the recorded Polymarket fixtures (read from ../shared, never copied)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixture_files import FIXTURES_DIR


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """Return the directory of recorded Polymarket payloads (read-only, never copied)."""
    if not FIXTURES_DIR.is_dir():
        pytest.fail(
            f"recorded fixtures not found at {FIXTURES_DIR} (../shared must sit beside the checkout)"
        )
    return FIXTURES_DIR

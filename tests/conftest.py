"""Shared test configuration: where the recorded Polymarket fixtures live (../shared, beside the checkout)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = REPO_ROOT.parent / "shared" / "fixtures" / "polymarket"


def load_fixture(name: str) -> Any:
    """Return the parsed JSON of one recorded Polymarket fixture."""
    return json.loads((FIXTURES_DIR / name).read_text())


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """Return the directory of recorded Polymarket payloads (read-only, never copied)."""
    if not FIXTURES_DIR.is_dir():
        pytest.fail(
            f"recorded fixtures not found at {FIXTURES_DIR} (../shared must sit beside the checkout)"
        )
    return FIXTURES_DIR

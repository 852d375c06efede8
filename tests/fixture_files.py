"""Where the recorded Polymarket payloads live (``../shared`` beside the checkout), for every test.

Tests import this module by name (``from fixture_files import load_fixture``); it is not called
``conftest`` because several test folders have a conftest.py of their own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = REPO_ROOT.parent / "shared" / "fixtures" / "polymarket"


def load_fixture(name: str) -> Any:
    """Return the parsed JSON of one recorded Polymarket fixture."""
    return json.loads((FIXTURES_DIR / name).read_text())

"""Shared test configuration: the recorded Polymarket fixtures (read from ../shared, never copied)
and a migrated ``polybot.db`` on a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fixture_files import FIXTURES_DIR
from sqlalchemy.orm import Session, sessionmaker

from polybot.storage.migrate import init_db
from polybot.storage.sqlite import make_engine, make_session_factory


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """Return the directory of recorded Polymarket payloads (read-only, never copied)."""
    if not FIXTURES_DIR.is_dir():
        pytest.fail(
            f"recorded fixtures not found at {FIXTURES_DIR} (../shared must sit beside the checkout)"
        )
    return FIXTURES_DIR


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Return a freshly migrated ``polybot.db`` in the test's temp dir."""
    path = tmp_path / "polybot.db"
    init_db(path)
    return path


@pytest.fixture
def sessions(db_path: Path) -> Iterator[sessionmaker[Session]]:
    """Yield a session factory on ``db_path`` with PolyBot's pragmas (the engine is disposed)."""
    engine = make_engine(db_path)
    yield make_session_factory(engine)
    engine.dispose()

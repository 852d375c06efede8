"""Alembic migrations on a real file: up, down to base, up again; schema matches the models."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from polybot.storage.migrate import (
    current_revision,
    db_stats,
    downgrade,
    head_revision,
    init_db,
    upgrade,
)
from polybot.storage.models import Base
from polybot.storage.sqlite import make_engine, read_pragmas

TABLES = {
    "markets", "orders", "positions", "trades", "strategy_configs", "wallets", "signal_journal",
    "dead_letters", "audit_log", "market_resolutions", "settlements", "fill_reversals", "pnl_days",
}


def table_names(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows} - {"alembic_version"}


def test_upgrade_downgrade_upgrade_creates_and_drops_every_table(tmp_path: Path) -> None:
    path = tmp_path / "data" / "polybot.db"

    upgrade(path, "head")
    assert table_names(path) == TABLES
    assert current_revision(path) == head_revision()

    downgrade(path, "base")
    assert table_names(path) == set()
    assert current_revision(path) is None

    upgrade(path, "head")
    assert table_names(path) == TABLES
    assert current_revision(path) == head_revision()


def test_init_db_from_another_directory_without_alembic_ini(tmp_path: Path, monkeypatch) -> None:
    # The packaged scripts are found relative to the package, not the working directory.
    monkeypatch.chdir(tmp_path)
    assert not Path("alembic.ini").exists()

    revision = init_db(tmp_path / "fresh.db")

    assert revision == head_revision()
    assert init_db(tmp_path / "fresh.db") == revision  # idempotent on an up-to-date file


def test_migrated_schema_matches_the_models(tmp_path: Path) -> None:
    path = tmp_path / "polybot.db"
    init_db(path)
    engine = make_engine(path)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()

    assert differences == [], "models changed without a migration (alembic revision --autogenerate)"


def test_database_is_in_wal_mode_with_pragmas_on_every_connection(tmp_path: Path) -> None:
    path = tmp_path / "polybot.db"
    init_db(path)

    with sqlite3.connect(path) as raw:  # a connection that set nothing itself
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    engine = make_engine(path)
    # Two distinct DB-API connections from the pool: pragmas are per connection.
    first, second = engine.raw_connection(), engine.raw_connection()
    try:
        for connection in (first, second):
            cursor = connection.cursor()
            assert cursor.execute("PRAGMA foreign_keys").fetchone() == (1,)
            assert cursor.execute("PRAGMA busy_timeout").fetchone() == (10_000,)
            assert cursor.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    finally:
        first.close()
        second.close()
        engine.dispose()
    reader = make_engine(path, read_only=True)
    assert read_pragmas(reader)["query_only"] == 1
    reader.dispose()


def test_db_stats_reports_counts_size_and_journal_mode(tmp_path: Path) -> None:
    path = tmp_path / "polybot.db"
    init_db(path)
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO dead_letters (source, reason, payload) VALUES ('t', 'r', x'00ff')"
        )

    stats = db_stats(path)

    assert stats["journal_mode"] == "wal"
    assert stats["tables"]["dead_letters"] == 1
    assert set(stats["tables"]) == TABLES
    assert stats["file_size_bytes"] == os.path.getsize(path) > 0
    assert stats["revision"] == stats["head_revision"] == head_revision()


def test_db_stats_and_downgrade_of_a_missing_file_say_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="polybot db init"):
        db_stats(tmp_path / "missing.db")
    with pytest.raises(FileNotFoundError):
        downgrade(tmp_path / "missing.db", "base")
    assert current_revision(tmp_path / "missing.db") is None
    assert not (tmp_path / "missing.db").exists()

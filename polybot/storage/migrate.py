"""Create, migrate and inspect ``polybot.db`` with the Alembic scripts packaged in PolyBot.

No ``alembic.ini`` is needed: the configuration is built here and points at
``polybot/storage/migrations``, so this works the same from a checkout or an installed wheel.
The CLI (``polybot db init|migrate|stats``) calls these functions.

Migrations run with foreign keys OFF, because SQLite rebuilds tables to alter them (batch mode)
and a rebuild would otherwise cascade or fail; ``PRAGMA foreign_key_check`` runs afterwards and
the migration is rolled back if it left a dangling reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypedDict

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from polybot.storage.sqlite import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class MigrationError(RuntimeError):
    """A migration left the database inconsistent (it was rolled back)."""


class DbStats(TypedDict):
    """What ``db_stats`` reports about one database file."""

    path: str
    file_size_bytes: int
    wal_size_bytes: int
    journal_mode: str
    revision: str | None
    head_revision: str
    tables: dict[str, int]


def alembic_config(path: Path | str) -> Config:
    """Return an Alembic ``Config`` for the database at ``path`` using the packaged scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates '%', which a path may contain.
    config.set_main_option("sqlalchemy.url", f"sqlite:///{path}".replace("%", "%%"))
    return config


def head_revision() -> str:
    """Return the newest revision the packaged migrations know."""
    head = ScriptDirectory.from_config(alembic_config(":memory:")).get_current_head()
    if head is None:
        raise MigrationError(f"no migration scripts found in {MIGRATIONS_DIR}")
    return head


def init_db(path: Path | str) -> str:
    """Create the database at ``path`` or upgrade it to the newest schema; return the revision."""
    upgrade(path, "head")
    revision = current_revision(path)
    assert revision is not None  # upgrade to head always leaves a revision
    return revision


def upgrade(path: Path | str, rev: str = "head") -> None:
    """Upgrade the database at ``path`` to ``rev`` (created if missing)."""
    with _migration_connection(path) as (config, connection):
        command.upgrade(config, rev)
        _check_foreign_keys(connection)


def downgrade(path: Path | str, rev: str) -> None:
    """Downgrade the database at ``path`` to ``rev`` (``"base"`` drops every table)."""
    if not Path(path).exists():
        raise FileNotFoundError(f"no database at {path}")
    with _migration_connection(path) as (config, connection):
        command.downgrade(config, rev)
        _check_foreign_keys(connection)


def current_revision(path: Path | str) -> str | None:
    """Return the revision stamped in the database, or None when it has none (or no file)."""
    if not Path(path).exists():
        return None
    engine = make_engine(path, read_only=True)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def db_stats(path: Path | str) -> DbStats:
    """Return row counts per table, file sizes, journal mode and revisions of ``path``."""
    db_path = Path(path)
    if not db_path.exists():
        raise FileNotFoundError(f"no database at {db_path}; run `polybot db init` first")
    engine = make_engine(db_path, read_only=True)
    try:
        with engine.connect() as connection:
            journal_mode = str(connection.exec_driver_sql("PRAGMA journal_mode").scalar())
            names = sorted(inspect(connection).get_table_names())
            tables = {
                # Names come from sqlite_master, not from a caller, so quoting them is enough.
                name: int(connection.exec_driver_sql(f'SELECT count(*) FROM "{name}"').scalar_one())
                for name in names
                if name != "alembic_version"
            }
            revision = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    wal = db_path.with_name(db_path.name + "-wal")
    return DbStats(
        path=str(db_path),
        file_size_bytes=db_path.stat().st_size,
        wal_size_bytes=wal.stat().st_size if wal.exists() else 0,
        journal_mode=journal_mode,
        revision=revision,
        head_revision=head_revision(),
        tables=tables,
    )


def autogenerate_revision(message: str, rev_id: str, scratch_path: Path | str) -> None:
    """Write a new revision script comparing the models with a scratch DB upgraded to head.

    Development tool: review the generated file in ``migrations/versions/`` before committing.
    """
    upgrade(scratch_path, "head")
    with _migration_connection(scratch_path) as (config, _connection):
        command.revision(config, message=message, autogenerate=True, rev_id=rev_id)


@contextmanager
def _migration_connection(path: Path | str) -> Iterator[tuple[Config, Connection]]:
    engine = make_engine(path, foreign_keys=False)
    try:
        with engine.connect() as connection:
            config = alembic_config(path)
            config.attributes["connection"] = connection
            try:
                yield config, connection
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
    finally:
        engine.dispose()


def _check_foreign_keys(connection: Connection) -> None:
    problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if problems:
        listed = "; ".join(f"{row[0]} rowid {row[1]} -> {row[2]}" for row in problems[:10])
        raise MigrationError(f"migration left {len(problems)} dangling foreign keys: {listed}")

"""SQLite engines and sessions for ``data/polybot.db``: WAL, foreign keys, busy timeout.

Every new DB-API connection gets the same pragmas (pragmas are per connection in SQLite, so
setting them once at startup is not enough). Write engines start every transaction with
``BEGIN IMMEDIATE``: a deferred transaction that reads first and writes later can fail at once with
``SQLITE_BUSY`` when another process committed in between, and ``busy_timeout`` does not help
there; taking the write lock up front turns that into an ordinary wait. Read-only engines keep
deferred transactions, so readers never queue behind writers (WAL lets them run concurrently).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

BUSY_TIMEOUT_MS = 10_000  # how long a writer waits for another process's write lock


def make_engine(
    path: Path | str,
    *,
    read_only: bool = False,
    foreign_keys: bool = True,
    echo: bool = False,
) -> Engine:
    """Return an Engine on the SQLite file at ``path`` with PolyBot's pragmas on every connection.

    Args:
        path: the database file; its directory is created for write engines.
        read_only: open with ``mode=ro`` and ``query_only``; no write can happen by accident.
        foreign_keys: enforce foreign keys (migrations turn this off while tables are rebuilt).
        echo: log SQL (debugging).
    """
    db_path = Path(path)
    if read_only:
        url = f"sqlite:///file:{db_path.resolve()}?mode=ro&uri=true"
    else:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{db_path}"
    engine = create_engine(url, echo=echo)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, record: ConnectionPoolEntry) -> None:
        # Autocommit at the driver level: SQLAlchemy's "begin" hook below issues BEGIN itself,
        # and PRAGMA journal_mode cannot run inside a transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
            if read_only:
                cursor.execute("PRAGMA query_only = ON")
            else:
                cursor.execute("PRAGMA journal_mode = WAL")
                # NORMAL is durable across application crashes in WAL mode; only a power loss can
                # roll back the last commits, and FULL would fsync on every commit.
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def read_pragmas(engine: Engine) -> dict[str, Any]:
    """Return the pragmas that matter on a fresh connection of ``engine`` (diagnostics, tests)."""
    names = ("journal_mode", "foreign_keys", "busy_timeout", "synchronous", "query_only")
    with engine.connect() as connection:
        return {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar() for name in names}

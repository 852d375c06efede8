"""Alembic environment for ``polybot.db``; driven by ``polybot.storage.migrate`` (no alembic.ini).

``migrate.py`` hands over an open connection in ``config.attributes["connection"]``; the URL path
(``sqlalchemy.url``) is only for running the ``alembic`` command by hand with ``-x`` options.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from polybot.storage.models import Base
from polybot.storage.sqlite import make_engine

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table (copy, drop, rename).
        render_as_batch=True,
        # Our engines issue a real BEGIN, so SQLite's transactional DDL makes a migration atomic.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations on the connection given by the caller, or on ``sqlalchemy.url``."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url or not url.startswith("sqlite:///"):
        raise RuntimeError("set sqlalchemy.url to sqlite:///<path> or use polybot.storage.migrate")
    engine = make_engine(url.removeprefix("sqlite:///"), foreign_keys=False)
    with engine.connect() as fresh:
        _run(fresh)
    engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run them on a database")
run_migrations_online()

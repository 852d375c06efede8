"""Core statements compiled once and run on a raw ``sqlite3`` connection: the executor's hot writes.

SQLAlchemy's execute path (execution context, compiled-cache lookup, result setup) costs about
70 µs of CPU per statement on this machine, and the executor runs two or three statements for
every signal it decides — on the path of the next signal. ``PreparedStatement`` keeps the
statement a SQLAlchemy construct (tables, columns and types stay the one definition in
``polybot.storage.models``) but compiles it once to SQLite SQL and binds each value through its
column type's own bind processor, so ``ExactDecimal`` / ``UtcDateTime`` conversions are exactly
those of the ORM. ``WriterConnection`` owns one raw connection and its transactions.

bench/order_store.py measures the accepted signal's journal transaction (two inserts and a
commit) this way, through SQLAlchemy Core, and in hand-written ``sqlite3``, in the same run.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.sql.dml import UpdateBase

Processor = Callable[[Any], Any] | None


class PreparedStatement:
    """One INSERT/UPDATE/DELETE, compiled for SQLite once; ``run`` binds by parameter name.

    Every column must be given: Python-side column defaults (``default=``) are applied by
    SQLAlchemy's execution context, which this path skips; server defaults still apply.
    """

    def __init__(self, statement: UpdateBase, engine: Engine) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        names = compiled.positiontup
        if names is None:
            raise ValueError("expected a positional (qmark) compilation for SQLite")
        self.sql = str(compiled)
        self._compiled = compiled
        self._binds: list[tuple[str, Processor]] = [
            (name, compiled.binds[name].type.bind_processor(engine.dialect)) for name in names
        ]

    def parameters(self, values: Mapping[str, Any]) -> list[Any]:
        """Return the positional parameters for ``values`` (literal binds keep their value)."""
        every = self._compiled.construct_params(dict(values))
        return [
            every[name] if process is None else process(every[name])
            for name, process in self._binds
        ]

    def run(self, cursor: sqlite3.Cursor, values: Mapping[str, Any]) -> sqlite3.Cursor:
        """Execute on ``cursor``; return it (``lastrowid``, ``rowcount``)."""
        return cursor.execute(self.sql, self.parameters(values))


class WriterConnection:
    """One raw DB-API connection from ``engine`` (its pragmas applied), for write transactions.

    The connection is taken from the engine's pool, so it carries the same pragmas (WAL, foreign
    keys, busy timeout) as every other; ``close`` gives it back.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pooled: Any = None

    def _driver(self) -> sqlite3.Connection:
        if self._pooled is None:
            self._pooled = self.engine.raw_connection()
        driver = self._pooled.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        return driver

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """Run the block in one ``BEGIN IMMEDIATE`` transaction: commit, or roll back on error."""
        connection = self._driver()
        cursor = connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")  # the write lock up front (see polybot.storage.sqlite)
        try:
            yield cursor
            cursor.execute("COMMIT")  # inside: a failed COMMIT (a deferred constraint) rolls back
        except BaseException:
            if connection.in_transaction:
                connection.rollback()
            raise

    def data_version(self) -> int:
        """Return SQLite's ``data_version``: it changes only when *another* connection commits.

        This connection's own commits leave it unchanged, so a cache of rows that only other
        processes write (strategy configs) can be checked for staleness in ~3 µs.
        """
        row = self._driver().execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Return the connection to the pool (a later call opens it again)."""
        if self._pooled is not None:
            self._pooled.close()
            self._pooled = None

"""Prepared Core statements on a raw connection (the executor's hot writes), on a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, bindparam, insert, select

from polybot.storage.models import StrategyConfig
from polybot.storage.prepared import PreparedStatement, WriterConnection
from polybot.storage.sqlite import make_engine, make_session_factory

ORPHAN_ORDER = (
    "INSERT INTO orders (client_order_id, signal_id, strategy, account, venue, market_id, token_id,"
    " side, order_type, price, original_size, post_only, expiration, status, reason) VALUES"
    " ('c1', 'no-such-signal', 's', 'a', 'v', 'm', 't', 'BUY', 'GTC', '0.5', '1', 0, 0, 'LIVE', '')"
)
INSERT_CONFIG = insert(StrategyConfig.__table__).values(  # type: ignore[arg-type]
    strategy=bindparam("strategy"),
    strategy_class="",
    config_hash=bindparam("hash"),
    config="{}",
    is_enabled=bindparam("on"),
)


@pytest.fixture
def engine(db_path: Path) -> Iterator[Engine]:
    engine = make_engine(db_path)
    yield engine
    engine.dispose()


def configs(engine: Engine) -> list[tuple[str, bool]]:
    with make_session_factory(engine)() as session:
        rows = session.execute(select(StrategyConfig.strategy, StrategyConfig.is_enabled))
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_failed_commit_rolls_back_and_the_connection_keeps_working(engine: Engine) -> None:
    writer = WriterConnection(engine)
    statement = PreparedStatement(INSERT_CONFIG, engine)

    def fails_at_commit() -> None:
        with writer.transaction() as cursor:
            cursor.execute("PRAGMA defer_foreign_keys = ON")  # the violation surfaces at COMMIT
            statement.run(cursor, {"strategy": "lost", "hash": "v0", "on": True})
            cursor.execute(ORPHAN_ORDER)

    with pytest.raises(sqlite3.IntegrityError):
        fails_at_commit()
    with writer.transaction() as cursor:  # not stuck inside the failed transaction
        statement.run(cursor, {"strategy": "fade", "hash": "v1", "on": True})
    assert configs(engine) == [("fade", True)]  # the failed transaction left nothing
    writer.close()


def test_values_bind_through_the_column_types_and_a_missing_one_is_an_error(
    engine: Engine, db_path: Path
) -> None:
    writer = WriterConnection(engine)
    statement = PreparedStatement(INSERT_CONFIG, engine)
    with writer.transaction() as cursor:
        statement.run(cursor, {"strategy": "fade", "hash": "v1", "on": False})
    raw = sqlite3.connect(db_path)
    assert raw.execute("SELECT is_enabled FROM strategy_configs").fetchall() == [(0,)]
    raw.close()
    with pytest.raises(Exception, match="strategy"), writer.transaction() as cursor:
        statement.run(cursor, {"hash": "v2", "on": True})  # a missing value is an error
    assert configs(engine) == [("fade", False)]
    writer.close()

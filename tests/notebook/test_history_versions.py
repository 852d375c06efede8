"""The notebook's PnL reads see the *current* version of every (strategy, day).

``strategy_stats`` is append-only: each recomputation of a day appends a version with a later
``as_of``. Rows go into a real ``analytics.duckdb`` through the owner's writer, in the order the
analytics service appends them (older version first), and are read back the way a notebook reads
them: SQL over the owner's query endpoint. A query that picked a row by ``ts`` alone would see two
rows with the same day and return the first one appended — the stale version.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from polybot.analytics.tables import ANALYTICS_TABLES, upgrade_sql
from polybot.config import Settings
from polybot.config.settings import BusSettings
from polybot.notebook.dashboards import EQUITY_SQL
from polybot.notebook.sql import History
from polybot.storage.duck_owner import DuckWriter
from polybot.storage.duck_query import QueryServer
from polybot.testing.stack import short_tmp_dir

D1 = datetime(2026, 11, 20)
D2 = datetime(2026, 11, 21)


def stats_row(
    strategy: str,
    day: datetime,
    realized: float,
    unrealized: float,
    exposure: float,
    as_of: datetime,
) -> tuple[object, ...]:
    """Return one strategy_stats row (base columns, then the analytics service's extra ones)."""
    # strategy, ts, signals, orders, fills, volume, fees, realized, unrealized, exposure,
    # trades, wins, win_rate, sharpe, max_drawdown, as_of
    return (
        strategy, day, 1, 1, 2, 10.0, 0.1, realized, unrealized, exposure,
        1, 1, 1.0, None, 0.0, as_of,
    )  # fmt: skip


# Appended in time order, as the analytics service does: every later version comes later.
ROWS = [
    stats_row("s1", D1, 1.0, 0.0, 10.0, D1.replace(hour=12)),
    stats_row("s1", D2, 2.0, 0.5, 20.0, D2.replace(hour=9)),  # stale
    stats_row("s2", D1, -1.0, 0.0, 5.0, D1.replace(hour=10)),  # stale
    stats_row("s2", D1, -3.0, 1.0, 7.0, D1.replace(hour=23)),  # current
    stats_row("s1", D2, 4.0, 1.5, 30.0, D2.replace(hour=15)),  # current
]


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    """A notebook ``History`` reading a real analytics file through a real query endpoint."""
    ipc = short_tmp_dir("pbhist-")  # ipc socket paths must stay short
    address = f"ipc://{ipc}/analytics.req"
    with DuckWriter(tmp_path / "analytics.duckdb", ANALYTICS_TABLES) as writer:
        for statement in upgrade_sql():
            writer.execute(statement)
        writer.extend("strategy_stats", ROWS)
        writer.flush()
        with QueryServer(address, writer.cursor):
            reader = History(Settings(bus=BusSettings(analytics_req=address)))
            try:
                yield reader
            finally:
                reader.close()
    shutil.rmtree(ipc, ignore_errors=True)


def test_pnl_by_strategy_uses_the_latest_version_of_the_latest_day(history: History) -> None:
    frame = history.pnl_by_strategy().df.set_index("strategy")

    assert list(frame.index) == ["s1", "s2"]
    s1, s2 = frame.loc["s1"], frame.loc["s2"]
    assert s1["day"] == D2
    assert s1["as_of"] == D2.replace(hour=15)
    assert (s1["realized_pnl"], s1["unrealized_pnl"], s1["exposure"]) == (4.0, 1.5, 30.0)
    assert s1["total_pnl"] == pytest.approx(5.5)
    assert s2["day"] == D1
    assert s2["as_of"] == D1.replace(hour=23)
    assert (s2["realized_pnl"], s2["unrealized_pnl"], s2["exposure"]) == (-3.0, 1.0, 7.0)
    assert s2["total_pnl"] == pytest.approx(-2.0)


def test_equity_curve_sums_the_current_version_of_each_strategy_day(history: History) -> None:
    curve = history.sql(EQUITY_SQL)

    assert list(curve["ts"]) == [D1, D2]
    # D1: s1 1.0 + s2's current -3.0 + 1.0; D2: s1's current 4.0 + 1.5
    assert list(curve["pnl"]) == pytest.approx([-1.0, 5.5])
    assert list(curve["exposure"]) == pytest.approx([17.0, 30.0])

"""Table definitions of the two DuckDB files: ``analytics.duckdb`` and ``strategy_logs.duckdb``.

Analytics values are DOUBLE on purpose: floats are fine for analytics (architecture §9); exact
amounts live in SQLite. Times are ``TIMESTAMP`` in UTC (naive in DuckDB, UTC by convention) so
``time_bucket``/``date_trunc`` work directly. History tables have no primary key: an ART index
would slow the Appender several-fold and rows are facts, never updated.

Schemas are additive: the owner runs ``CREATE TABLE IF NOT EXISTS`` on open. A column change
needs a new table name or a rebuild (DuckDB files are derived data and can be regenerated).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DuckTable:
    """One table: its name, ``(column, type)`` pairs in append order, and whether rows only grow.

    ``is_append_only`` tables can be published as Parquet segments by row id ranges.
    """

    name: str
    columns: tuple[tuple[str, str], ...]
    is_append_only: bool = True

    @property
    def column_names(self) -> tuple[str, ...]:
        """Return the column names in append order."""
        return tuple(name for name, _ in self.columns)

    def create_sql(self) -> str:
        """Return the idempotent ``CREATE TABLE`` statement."""
        body = ", ".join(f"{name} {sql_type}" for name, sql_type in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.name} ({body})"


@dataclass(frozen=True, slots=True)
class DuckSchema:
    """The tables of one DuckDB file."""

    name: str
    tables: tuple[DuckTable, ...]

    def table(self, name: str) -> DuckTable:
        """Return the table called ``name`` or raise ``KeyError`` listing the known ones."""
        for table in self.tables:
            if table.name == name:
                return table
        known = ", ".join(t.name for t in self.tables)
        raise KeyError(f"{self.name} has no table {name!r} (tables: {known})")


PRICE_HISTORY = DuckTable(
    "price_history",
    (("market_id", "VARCHAR"), ("token_id", "VARCHAR"), ("bid", "DOUBLE"), ("ask", "DOUBLE"),
     ("mid", "DOUBLE"), ("ts", "TIMESTAMP")),
)
TRADE_HISTORY = DuckTable(
    "trade_history",
    (("market_id", "VARCHAR"), ("token_id", "VARCHAR"), ("price", "DOUBLE"), ("size", "DOUBLE"),
     ("side", "VARCHAR"), ("fee_rate_bps", "INTEGER"), ("ts", "TIMESTAMP")),
)
STRATEGY_STATS = DuckTable(
    "strategy_stats",
    (("strategy", "VARCHAR"), ("ts", "TIMESTAMP"), ("signals", "BIGINT"), ("orders", "BIGINT"),
     ("fills", "BIGINT"), ("volume", "DOUBLE"), ("fees", "DOUBLE"), ("realized_pnl", "DOUBLE"),
     ("unrealized_pnl", "DOUBLE"), ("exposure", "DOUBLE")),
)
MARKET_CORRELATIONS = DuckTable(
    "market_correlations",
    (("ts", "TIMESTAMP"), ("window_s", "INTEGER"), ("market_a", "VARCHAR"),
     ("market_b", "VARCHAR"), ("correlation", "DOUBLE"), ("observations", "BIGINT")),
)
STRATEGY_RUNS = DuckTable(
    "strategy_runs",
    (("run_id", "VARCHAR"), ("strategy", "VARCHAR"), ("mode", "VARCHAR"),  # backtest|paper|live
     ("config_hash", "VARCHAR"), ("config", "VARCHAR"), ("started_at", "TIMESTAMP"),
     ("ended_at", "TIMESTAMP"), ("status", "VARCHAR"), ("pid", "INTEGER")),
    is_append_only=False,  # ended_at/status are updated when a run ends
)
STRATEGY_LOGS = DuckTable(
    "strategy_logs",
    (("run_id", "VARCHAR"), ("strategy", "VARCHAR"), ("ts", "TIMESTAMP"), ("level", "VARCHAR"),
     ("message", "VARCHAR"), ("data", "VARCHAR")),  # data: JSON text
)

ANALYTICS = DuckSchema(
    "analytics", (PRICE_HISTORY, TRADE_HISTORY, STRATEGY_STATS, MARKET_CORRELATIONS)
)
STRATEGY_LOG = DuckSchema("strategy_logs", (STRATEGY_RUNS, STRATEGY_LOGS))

"""The tables of ``analytics.duckdb`` as the analytics service writes them.

The storage schema (``polybot.storage.duck_schema.ANALYTICS``) is the base. The service adds:

* ``strategy_stats`` gets six columns *appended* (``trades``, ``wins``, ``win_rate``, ``sharpe``,
  ``max_drawdown``, ``as_of``): readers of the base columns are unaffected, and a file created
  with the base schema is upgraded with ``ALTER TABLE … ADD COLUMN IF NOT EXISTS``. The table is
  append-only: each recomputation of a (strategy, day) appends a new version with a later
  ``as_of``; the current value is the latest version (``STRATEGY_STATS_CURRENT``).
* ``fills`` — our own fills as announced on the events bus (every status update is a row; the
  latest status per fill counts, FAILED fills do not).
* ``strategy_activity`` — signal and order ids per strategy, for the signal/order counts.
"""

from __future__ import annotations

from polybot.storage.duck_schema import (
    MARKET_CORRELATIONS,
    PRICE_HISTORY,
    STRATEGY_STATS,
    TRADE_HISTORY,
    DuckSchema,
    DuckTable,
)

STATS_EXTRA_COLUMNS: tuple[tuple[str, str], ...] = (
    ("trades", "BIGINT"),  # closing fills (round trips) of the day
    ("wins", "BIGINT"),  # closing fills with a positive realized PnL
    ("win_rate", "DOUBLE"),  # wins / trades; NULL without trades
    ("sharpe", "DOUBLE"),  # mean / sample stdev of per-trade PnL; NULL below 2 trades
    ("max_drawdown", "DOUBLE"),  # largest fall of the day's cumulative realized PnL (>= 0)
    ("as_of", "TIMESTAMP"),  # when this version was computed
)

STRATEGY_STATS_V2 = DuckTable("strategy_stats", STRATEGY_STATS.columns + STATS_EXTRA_COLUMNS)

FILLS = DuckTable(
    "fills",
    (
        ("strategy", "VARCHAR"),
        ("fill_id", "VARCHAR"),
        ("client_order_id", "VARCHAR"),
        ("market_id", "VARCHAR"),
        ("token_id", "VARCHAR"),
        ("side", "VARCHAR"),
        ("price", "DOUBLE"),
        ("size", "DOUBLE"),
        ("fee", "DOUBLE"),
        ("liquidity", "VARCHAR"),
        ("status", "VARCHAR"),
        ("ts", "TIMESTAMP"),
        ("received_at", "TIMESTAMP"),
    ),
)

STRATEGY_ACTIVITY = DuckTable(
    "strategy_activity",
    (("strategy", "VARCHAR"), ("kind", "VARCHAR"), ("ref_id", "VARCHAR"), ("ts", "TIMESTAMP")),
)

ANALYTICS_TABLES = DuckSchema(
    "analytics",
    (
        PRICE_HISTORY,
        TRADE_HISTORY,
        STRATEGY_STATS_V2,
        MARKET_CORRELATIONS,
        FILLS,
        STRATEGY_ACTIVITY,
    ),
)

# The current version of every (strategy, day).
STRATEGY_STATS_CURRENT = """
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (PARTITION BY strategy, ts ORDER BY as_of DESC) AS rn
    FROM strategy_stats
) WHERE rn = 1
"""

# Each fill once, at its latest status; failed fills never happened.
EFFECTIVE_FILLS = """
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (
        PARTITION BY fill_id, client_order_id ORDER BY received_at DESC
    ) AS rn
    FROM fills
) WHERE rn = 1 AND status <> 'FAILED'
"""


def upgrade_sql() -> list[str]:
    """Return the statements that bring a base-schema file up to these tables."""
    return [
        f"ALTER TABLE strategy_stats ADD COLUMN IF NOT EXISTS {name} {sql_type}"
        for name, sql_type in STATS_EXTRA_COLUMNS
    ]

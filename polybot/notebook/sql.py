"""SQL over the analytics history *while the services write it*, returned as DataFrames.

DuckDB lets only the owning process open a file that is being written, so the notebook never
opens ``analytics.duckdb`` or ``strategy_logs.duckdb``: it sends SQL to the owner's query
endpoint (``bus.analytics_req`` / ``bus.strategy_logs_req``) and gets Arrow back
(docs/storage.md). Results are as fresh as the owner's last flush (≤ about a second).

Helpers build the queries people write every day: ``ohlc``, ``correlations``,
``pnl_by_strategy``, ``strategy_logs``. Each returns an object that displays itself and plots.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import pandas as pd

from polybot.analytics.tables import STRATEGY_STATS_CURRENT
from polybot.config import Settings
from polybot.core.errors import BusTimeout
from polybot.notebook.connection import not_running_error
from polybot.notebook.display import GREY, Frame, escape, html_table
from polybot.storage.duck_query import QueryParams
from polybot.storage.duck_read import DuckQueryClient

Database = Literal["analytics", "strategy_logs"]

# One row per strategy: its latest day, from the current version of every (strategy, day).
PNL_BY_STRATEGY_SQL = (
    "SELECT strategy, max(ts) AS day, arg_max(as_of, ts) AS as_of, "
    "arg_max(realized_pnl, ts) AS realized_pnl, arg_max(unrealized_pnl, ts) AS unrealized_pnl, "
    "arg_max(fees, ts) AS fees, arg_max(volume, ts) AS volume, arg_max(fills, ts) AS fills, "
    f"arg_max(exposure, ts) AS exposure FROM ({STRATEGY_STATS_CURRENT}) GROUP BY 1 ORDER BY 1"
)

_INTERVAL = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


def interval_sql(interval: str) -> str:
    """Return a DuckDB ``INTERVAL`` literal for ``"30s"``, ``"1m"``, ``"4h"`` or ``"1d"``."""
    match = _INTERVAL.match(interval.strip())
    if not match:
        raise ValueError(f"interval {interval!r}: use a number and s/m/h/d, e.g. '1m' or '15s'")
    return f"INTERVAL {int(match.group(1))} {_UNITS[match.group(2)]}"


class History:
    """The notebook's read path into the DuckDB files (one query client per database)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._clients: dict[Database, DuckQueryClient] = {}

    def _client(self, database: Database) -> DuckQueryClient:
        client = self._clients.get(database)
        if client is None:
            address = (
                self._settings.bus.analytics_req
                if database == "analytics"
                else self._settings.bus.strategy_logs_req
            )
            client = self._clients[database] = DuckQueryClient(address)
        return client

    def sql(
        self,
        query: str,
        params: QueryParams = None,
        *,
        database: Database = "analytics",
        timeout: float = 10.0,
    ) -> pd.DataFrame:
        """Run one read-only SQL statement on ``database`` and return a DataFrame.

        Raises ``RemoteQueryError`` with DuckDB's reason for bad SQL (or a write attempt), and
        ``StackNotRunning`` when the owning service does not answer.
        """
        try:
            table = self._client(database).query(query, params, timeout=timeout)
        except BusTimeout as exc:
            key = "analytics_req" if database == "analytics" else "strategy_logs_req"
            raise not_running_error(self._settings, key, str(exc)) from None
        return table.to_pandas()

    def tables(self, database: Database = "analytics") -> pd.DataFrame:
        """Return the tables of ``database`` with their row counts."""
        names = self.sql("SELECT table_name FROM duckdb_tables() ORDER BY 1", database=database)
        counts = []
        for name in names["table_name"]:
            if str(name).startswith("_"):
                continue
            rows = self.sql(f'SELECT count(*) AS n FROM "{name}"', database=database)
            counts.append({"table": name, "rows": int(rows["n"].iloc[0])})
        return pd.DataFrame(counts, columns=["table", "rows"])

    def ohlc(self, token_id: str, interval: str = "1m", *, since: str | None = None) -> OHLC:
        """Return open/high/low/close of ``token_id``'s mid per ``interval`` bucket."""
        where, params = "token_id = $token", {"token": token_id}
        if since is not None:
            where += " AND ts >= CAST($since AS TIMESTAMP)"
            params["since"] = since
        frame = self.sql(
            f"SELECT time_bucket({interval_sql(interval)}, ts) AS time, "
            "arg_min(mid, ts) AS open, max(mid) AS high, min(mid) AS low, "
            "arg_max(mid, ts) AS close, count(*) AS ticks "
            f"FROM price_history WHERE {where} GROUP BY 1 ORDER BY 1",
            params,
        )
        return OHLC(frame, token_id, interval)

    def correlations(
        self,
        token_ids: list[str] | None = None,
        interval: str = "1m",
        *,
        top: int = 12,
        labels: dict[str, str] | None = None,
    ) -> Correlations:
        """Return the correlation of mid changes per ``interval`` between tokens.

        Without ``token_ids`` the ``top`` most active tokens (by ticks) are used.
        """
        if token_ids is None:
            busiest = self.sql(
                "SELECT token_id FROM price_history GROUP BY 1 ORDER BY count(*) DESC LIMIT $n",
                {"n": top},
            )
            token_ids = [str(t) for t in busiest["token_id"]]
        if not token_ids:
            return Correlations(pd.DataFrame(), interval)
        frame = self.sql(
            f"SELECT time_bucket({interval_sql(interval)}, ts) AS time, token_id, "
            "arg_max(mid, ts) AS mid FROM price_history WHERE list_contains($tokens, token_id) "
            "GROUP BY 1, 2 ORDER BY 1",
            {"tokens": token_ids},
        )
        wide = frame.pivot_table(index="time", columns="token_id", values="mid").ffill()
        changes = wide.diff().dropna(how="all")
        matrix = changes.corr(min_periods=3)
        if labels:
            names = {t: labels.get(t, t[:10]) for t in matrix.columns}
            matrix = matrix.rename(index=names, columns=names)
        return Correlations(matrix, interval)

    def pnl_by_strategy(self) -> Frame:
        """Return each strategy's latest stats row (PnL, fees, volume, exposure).

        The row of the strategy's latest UTC ``day``, at that day's current version:
        ``strategy_stats`` is append-only and every recomputation of a day adds a version with a
        later ``as_of`` (``STRATEGY_STATS_CURRENT`` keeps the latest one).
        """
        frame = self.sql(PNL_BY_STRATEGY_SQL)
        frame["total_pnl"] = frame["realized_pnl"] + frame["unrealized_pnl"]
        return Frame(frame, "PnL by strategy", empty_hint="no strategy has traded yet")

    def strategy_logs(self, strategy: str | None = None, *, limit: int = 200) -> Frame:
        """Return the newest log lines of the strategy runner (of one strategy when given)."""
        where, params = ("WHERE strategy = $s", {"s": strategy}) if strategy else ("", {})
        frame = self.sql(
            f"SELECT ts, strategy, level, message, run_id FROM strategy_logs {where} "
            f"ORDER BY ts DESC LIMIT {int(limit)}",
            params or None,
            database="strategy_logs",
        )
        return Frame(frame, "strategy logs", empty_hint="the runner has logged nothing yet")

    def strategy_runs(self) -> Frame:
        """Return the runner's strategy runs, newest first."""
        frame = self.sql(
            "SELECT run_id, strategy, mode, status, started_at, ended_at, config_hash "
            "FROM strategy_runs ORDER BY started_at DESC",
            database="strategy_logs",
        )
        return Frame(frame, "strategy runs", empty_hint="no strategy has run yet")

    def close(self) -> None:
        """Close the query sockets."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()


class OHLC:
    """Candles of one token: ``.df`` (time, open, high, low, close, ticks) and ``.plot()``."""

    def __init__(self, df: pd.DataFrame, token_id: str, interval: str) -> None:
        self.df = df
        self.token_id = token_id
        self.interval = interval

    def __len__(self) -> int:
        return len(self.df)

    def plot(self) -> Any:
        """Return a plotly candlestick figure."""
        import plotly.graph_objects as go

        figure = go.Figure(
            go.Candlestick(
                x=self.df["time"],
                open=self.df["open"],
                high=self.df["high"],
                low=self.df["low"],
                close=self.df["close"],
                name=self.token_id[:12],
            )
        )
        figure.update_layout(
            height=360,
            xaxis_rangeslider_visible=False,
            title=f"{self.token_id[:16]}… mid, {self.interval} candles",
        )
        return figure

    def _repr_html_(self) -> str:
        head = f"<b>OHLC</b> {escape(self.token_id[:16])}… · {escape(self.interval)} · {len(self.df)} bars"
        if self.df.empty:
            return f"<div>{head}<div style='color:{GREY}'>no prices recorded for this token yet</div></div>"
        return f"<div class='pb-ohlc'>{head}{html_table(self.df.tail(20))}</div>"


class Correlations:
    """A correlation matrix of mid changes: ``.df`` and ``.plot()`` (a heatmap)."""

    def __init__(self, df: pd.DataFrame, interval: str) -> None:
        self.df = df
        self.interval = interval

    def plot(self) -> Any:
        """Return a plotly heatmap of the matrix."""
        import plotly.graph_objects as go

        figure = go.Figure(
            go.Heatmap(
                z=self.df.values,
                x=list(self.df.columns),
                y=list(self.df.index),
                zmin=-1,
                zmax=1,
                colorscale="RdBu",
            )
        )
        figure.update_layout(height=420, title=f"correlation of {self.interval} mid changes")
        return figure

    def pairs(self, n: int = 10) -> pd.DataFrame:
        """Return the ``n`` most correlated distinct pairs (by absolute correlation)."""
        rows = []
        columns = list(self.df.columns)
        for i, a in enumerate(columns):
            for b in columns[i + 1 :]:
                value = self.df.loc[a, b]
                if pd.notna(value):
                    rows.append({"a": a, "b": b, "correlation": float(value)})
        frame = pd.DataFrame(rows, columns=["a", "b", "correlation"])
        return frame.reindex(frame["correlation"].abs().sort_values(ascending=False).index).head(n)

    def _repr_html_(self) -> str:
        if self.df.empty:
            return f"<div style='color:{GREY}'>not enough price history for correlations yet</div>"
        shown = self.df.round(2).reset_index(names="")
        return f"<div class='pb-corr'><b>correlations</b> ({escape(self.interval)}){html_table(shown)}</div>"

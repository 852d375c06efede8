"""Named analytics queries, served by the owner over REQ/REP (``bus.analytics_req``).

The endpoint answers the storage read path's ``duck.query`` (any read-only SQL) and these named
queries, so a notebook needs no SQL for the common questions:

* ``analytics.ohlc`` — ``token_id``, ``bucket_s`` (60), ``since_ms`` (0): OHLC of the mid.
* ``analytics.latest_prices`` — optional ``market_id``: last bid/ask/mid per token.
* ``analytics.correlations`` — optional ``market_id``, ``min_abs`` (0): the latest run's pairs.
* ``analytics.pnl`` — optional ``strategy``, ``since_ms``: current strategy_stats per day.
* ``analytics.trades`` — optional ``token_id``, ``limit`` (1000): the latest public trades.

Every answer is an Arrow IPC stream (``AnalyticsClient`` returns ``pyarrow.Table``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import duckdb
import pyarrow as pa

from polybot.analytics.ingest import utc
from polybot.analytics.tables import STRATEGY_STATS_CURRENT
from polybot.bus.endpoints import Requester
from polybot.bus.messages import Command, Response
from polybot.core.clock import wall_ms
from polybot.core.errors import BusError
from polybot.storage.duck_query import QueryRejected, QueryServer, answer_query, read_arrow_stream
from polybot.storage.duck_read import DuckQueryClient, RemoteQueryError

PREFIX = "analytics."
Query = tuple[str, list[Any]]


def _ohlc(args: Mapping[str, Any]) -> Query:
    token = args.get("token_id")
    if not isinstance(token, str) or not token:
        raise QueryRejected("analytics.ohlc needs a token_id")
    bucket = int(args.get("bucket_s", 60))
    if bucket < 1:
        raise QueryRejected("bucket_s must be at least 1")
    sql = (
        "SELECT time_bucket(to_seconds(?::BIGINT), ts) AS bucket, arg_min(mid, ts) AS open, "
        "max(mid) AS high, min(mid) AS low, arg_max(mid, ts) AS close, count(*) AS ticks "
        "FROM price_history WHERE token_id = ? AND ts >= ? GROUP BY bucket ORDER BY bucket"
    )
    return sql, [bucket, token, utc(int(args.get("since_ms", 0)))]


def _latest_prices(args: Mapping[str, Any]) -> Query:
    market = args.get("market_id")
    where, params = ("WHERE market_id = ?", [market]) if market else ("", [])
    sql = (
        "SELECT market_id, token_id, arg_max(bid, ts) AS bid, arg_max(ask, ts) AS ask, "
        f"arg_max(mid, ts) AS mid, max(ts) AS ts FROM price_history {where} "
        "GROUP BY market_id, token_id ORDER BY market_id, token_id"
    )
    return sql, params


def _correlations(args: Mapping[str, Any]) -> Query:
    market = args.get("market_id")
    params: list[Any] = [float(args.get("min_abs", 0.0))]
    sql = (
        "SELECT * FROM market_correlations WHERE ts = (SELECT max(ts) FROM market_correlations) "
        "AND abs(correlation) >= ?"
    )
    if market:
        sql += " AND (market_a = ? OR market_b = ?)"
        params += [market, market]
    return sql + " ORDER BY abs(correlation) DESC, market_a, market_b", params


def _pnl(args: Mapping[str, Any]) -> Query:
    sql = (
        "SELECT strategy, ts AS day, signals, orders, fills, volume, fees, realized_pnl, "
        "unrealized_pnl, exposure, trades, wins, win_rate, sharpe, max_drawdown, as_of "
        f"FROM ({STRATEGY_STATS_CURRENT}) WHERE ts >= ?"
    )
    params: list[Any] = [utc(int(args.get("since_ms", 0)))]
    strategy = args.get("strategy")
    if strategy:
        sql += " AND strategy = ?"
        params.append(strategy)
    return sql + " ORDER BY strategy, day", params


def _trades(args: Mapping[str, Any]) -> Query:
    token = args.get("token_id")
    where, params = ("WHERE token_id = ?", [token]) if token else ("", [])
    limit = max(1, min(int(args.get("limit", 1000)), 1_000_000))
    return f"SELECT * FROM trade_history {where} ORDER BY ts DESC LIMIT {limit}", params


NAMED_QUERIES: dict[str, Callable[[Mapping[str, Any]], Query]] = {
    "ohlc": _ohlc,
    "latest_prices": _latest_prices,
    "correlations": _correlations,
    "pnl": _pnl,
    "trades": _trades,
}


def build_query(name: str, args: Mapping[str, Any]) -> Query:
    """Return ``(sql, params)`` of a named query; ``QueryRejected`` for unknown names/bad args."""
    builder = NAMED_QUERIES.get(name)
    if builder is None:
        known = ", ".join(PREFIX + n for n in NAMED_QUERIES)
        raise QueryRejected(f"unknown query {PREFIX + name!r} (known: {known})")
    try:
        return builder(args)
    except (TypeError, ValueError) as exc:
        raise QueryRejected(f"bad arguments for {PREFIX + name}: {exc}") from None


class AnalyticsQueryServer(QueryServer):
    """The storage ``QueryServer`` plus the named ``analytics.*`` queries."""

    def handle(self, con: duckdb.DuckDBPyConnection, command: Command) -> Response:
        """Answer one command: a named query here, anything else as the base server does."""
        if not command.command.startswith(PREFIX):
            return super().handle(con, command)
        try:
            sql, params = build_query(command.command.removeprefix(PREFIX), command.args)
            data = answer_query(con, sql, params)
        except (QueryRejected, duckdb.Error) as exc:
            self.refused += 1
            return Response(
                request_id=command.request_id,
                ok=False,
                error=f"{type(exc).__name__}: {exc}",
                timestamp=wall_ms(),
            )
        self.answered += 1
        return Response(request_id=command.request_id, ok=True, result=data, timestamp=wall_ms())


class AnalyticsClient(DuckQueryClient):
    """A client of the analytics endpoint: ``query(sql)`` plus one method per named query."""

    def named(
        self, name: str, args: Mapping[str, Any] | None = None, *, timeout: float = 10.0
    ) -> pa.Table:
        """Run the named query ``name`` (without the ``analytics.`` prefix) with ``args``."""
        requester: Requester = self._requester
        reply = requester.call(PREFIX + name, dict(args or {}), timeout=timeout)
        if not reply.ok:
            raise RemoteQueryError(reply.error)
        if not isinstance(reply.result, bytes):
            raise BusError(f"the owner's reply carries {type(reply.result).__name__}, not Arrow")
        return read_arrow_stream(reply.result)

    def ohlc(self, token_id: str, *, bucket_s: int = 60, since_ms: int = 0) -> pa.Table:
        """Return OHLC bars of ``token_id``'s mid."""
        return self.named(
            "ohlc", {"token_id": token_id, "bucket_s": bucket_s, "since_ms": since_ms}
        )

    def latest_prices(self, market_id: str | None = None) -> pa.Table:
        """Return the last bid/ask/mid of every token (of one market, if given)."""
        return self.named("latest_prices", {"market_id": market_id} if market_id else {})

    def correlations(self, market_id: str | None = None, *, min_abs: float = 0.0) -> pa.Table:
        """Return the latest correlation run's pairs (involving one market, if given)."""
        args: dict[str, Any] = {"min_abs": min_abs}
        if market_id:
            args["market_id"] = market_id
        return self.named("correlations", args)

    def pnl(self, strategy: str | None = None, *, since_ms: int = 0) -> pa.Table:
        """Return current strategy_stats per strategy and day."""
        args: dict[str, Any] = {"since_ms": since_ms}
        if strategy:
            args["strategy"] = strategy
        return self.named("pnl", args)

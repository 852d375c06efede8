"""Analytics: headline summary, PnL by strategy and day, OHLC bars, market correlations.

PnL by day is computed from our own fills in ``polybot.db`` (exact, and available without the
analytics service). OHLC and correlations come from the analytics service's DuckDB through its
query endpoint; while it is down those routes answer 503 and the summary reports
``analytics_available: false``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from polybot.statecmd import queries
from polybot.storage.models import Market, Position, StrategyConfig, Trade
from services.api.deps import CommandRefused, CtxDep, ServiceUnavailable, SessionDep
from services.api.routes.markets import since_us, utc
from services.api.schemas import AnalyticsSummary, Correlation, OhlcBar, PnlDay, errors

router = APIRouter(prefix="/analytics", tags=["analytics"])

ZERO = Decimal(0)


@router.get("/summary", response_model=AnalyticsSummary, responses=errors(503))
async def get_summary(ctx: CtxDep, session: SessionDep) -> AnalyticsSummary:
    """Return headline numbers for the dashboard."""
    counts = {
        "markets": session.scalar(select(func.count(Market.market_id))),
        "open_orders": len(queries.orders(session, {"status": "open", "limit": queries.MAX_ROWS})),
        "trades": session.scalar(select(func.count(Trade.id))),
        "open_positions": session.scalar(
            select(func.count(Position.id)).where(Position.size != "0")
        ),
        "strategies": session.scalar(select(func.count(func.distinct(StrategyConfig.strategy)))),
    }
    pnl = queries.pnl(session, ctx.hub.marks)["total"]
    session.rollback()  # end the read before waiting on the analytics service
    price_rows = trade_rows = None
    try:
        rows = await ctx.analytics.query(
            "SELECT (SELECT count(*) FROM price_history) AS price_rows, "
            "(SELECT count(*) FROM trade_history) AS trade_rows"
        )
        price_rows, trade_rows = rows[0]["price_rows"], rows[0]["trade_rows"]
    except (ServiceUnavailable, CommandRefused):
        pass  # a summary is still useful without the analytics part; the flag says so
    return AnalyticsSummary(
        **{k: int(v or 0) for k, v in counts.items()},
        pnl=pnl,
        price_rows=price_rows,
        trade_rows=trade_rows,
        analytics_available=price_rows is not None,
    )


@router.get("/pnl", response_model=list[PnlDay], responses=errors(422, 503))
def get_pnl_by_day(
    session: SessionDep,
    days: Annotated[int, Query(ge=1, le=3660)] = 30,
    strategy: Annotated[str | None, Query(max_length=100)] = None,
) -> list[PnlDay]:
    """Return realized PnL, fees, volume and fill count per strategy per UTC day, oldest first."""
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start -= timedelta(days=days - 1)
    query = select(Trade).where(Trade.traded_at >= start)
    if strategy:
        query = query.where(Trade.strategy == strategy)
    buckets: dict[tuple[date, str], dict[str, Any]] = defaultdict(
        lambda: {"realized_pnl": ZERO, "fees": ZERO, "volume": ZERO, "fills": 0}
    )
    # Summed in Python: the columns are exact decimal TEXT, which SQL SUM would turn into floats.
    for trade in session.scalars(query).all():
        bucket = buckets[(trade.traded_at.astimezone(UTC).date(), trade.strategy)]
        bucket["realized_pnl"] += trade.realized_pnl or ZERO
        bucket["fees"] += trade.fee
        bucket["volume"] += trade.price * trade.size
        bucket["fills"] += 1
    return [
        PnlDay(
            day=day,
            strategy=name,
            realized_pnl=str(b["realized_pnl"]),
            fees=str(b["fees"]),
            volume=str(b["volume"]),
            fills=b["fills"],
        )
        for (day, name), b in sorted(buckets.items())
    ]


@router.get("/ohlc", response_model=list[OhlcBar], responses=errors(422, 503))
async def get_ohlc(
    ctx: CtxDep,
    token_id: Annotated[str, Query(min_length=1, max_length=100)],
    interval_s: Annotated[int, Query(ge=1, le=7 * 86400)] = 60,
    hours: Annotated[float, Query(gt=0, le=24 * 366)] = 24.0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
) -> list[OhlcBar]:
    """Return OHLC bars of one token's mid, oldest first."""
    rows = await ctx.analytics.query(
        "SELECT time_bucket(to_seconds(?::BIGINT), ts) AS ts, arg_min(mid, ts) AS open, "
        "max(mid) AS high, min(mid) AS low, arg_max(mid, ts) AS close, count(*) AS observations "
        "FROM price_history WHERE token_id = ? AND ts >= make_timestamp(?::BIGINT) "
        "GROUP BY 1 ORDER BY 1 LIMIT ?",
        [interval_s, token_id, since_us(hours), limit],
    )
    return [OhlcBar.model_validate(utc(r)) for r in rows]


@router.get("/correlations", response_model=list[Correlation], responses=errors(422, 503))
async def get_correlations(
    ctx: CtxDep,
    market_id: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=5_000)] = 100,
) -> list[Correlation]:
    """Return the latest computed market correlations, strongest first."""
    sql = (
        "SELECT market_a, market_b, correlation, observations, window_s, ts "
        "FROM market_correlations WHERE ts = (SELECT max(ts) FROM market_correlations)"
    )
    params: list[Any] = []
    if market_id:
        sql += " AND (market_a = ? OR market_b = ?)"
        params += [market_id, market_id]
    rows = await ctx.analytics.query(
        sql + " ORDER BY abs(correlation) DESC LIMIT ?", [*params, limit]
    )
    return [Correlation.model_validate(utc(r)) for r in rows]

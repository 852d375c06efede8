"""Markets: list/search/filter, detail, the live book, recorded price history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import func, or_, select

from polybot.engine.book import L2Book
from polybot.statecmd.queries import plain
from polybot.storage.models import Market
from services.api.deps import CtxDep, ServiceUnavailable, SessionDep
from services.api.schemas import BookLevel, BookOut, MarketOut, MarketPage, PriceHistory, errors

router = APIRouter(prefix="/markets", tags=["markets"])

_COLUMNS = tuple(MarketOut.model_fields.keys() - {"yes_mid", "no_mid"})


def market_out(market: Market, marks: dict[str, float]) -> MarketOut:
    """Return the public view of a markets row, with live mids when known."""
    data: dict[str, Any] = {name: plain(getattr(market, name)) for name in _COLUMNS}
    data["yes_mid"] = marks.get(market.yes_token_id)
    data["no_mid"] = marks.get(market.no_token_id)
    return MarketOut.model_validate(data)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@router.get("", response_model=MarketPage, responses=errors(422, 503))
def list_markets(
    ctx: CtxDep,
    session: SessionDep,
    q: Annotated[
        str | None, Query(max_length=200, description="search question, slug, event or id")
    ] = None,
    active: bool | None = None,
    closed: bool | None = None,
    neg_risk: bool | None = None,
    event_slug: Annotated[str | None, Query(max_length=255)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> MarketPage:
    """List markets, optionally searched and filtered, ordered by question."""
    query = select(Market)
    if q:
        pattern = _like(q)
        query = query.where(
            or_(
                Market.question.ilike(pattern, escape="\\"),
                Market.slug.ilike(pattern, escape="\\"),
                Market.event_slug.ilike(pattern, escape="\\"),
                Market.market_id.ilike(pattern, escape="\\"),
            )
        )
    if active is not None:
        query = query.where(Market.is_active == active)
    if closed is not None:
        query = query.where(Market.is_closed == closed)
    if neg_risk is not None:
        query = query.where(Market.neg_risk == neg_risk)
    if event_slug:
        query = query.where(Market.event_slug == event_slug)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Market.question, Market.market_id).limit(limit).offset(offset)
    ).all()
    marks = ctx.hub.marks
    return MarketPage(
        items=[market_out(m, marks) for m in rows], total=total, limit=limit, offset=offset
    )


def _market(session: SessionDep, market_id: str) -> Market:
    market = session.get(Market, market_id)
    if market is None:
        raise HTTPException(404, f"no market {market_id!r} (see GET /markets)")
    return market


@router.get("/{market_id}", response_model=MarketOut, responses=errors(404, 422, 503))
def get_market(ctx: CtxDep, session: SessionDep, market_id: str) -> MarketOut:
    """Return one market."""
    return market_out(_market(session, market_id), ctx.hub.marks)


def _token(market: Market, token_id: str | None) -> str:
    if token_id is None:
        return market.yes_token_id
    if token_id not in (market.yes_token_id, market.no_token_id):
        raise HTTPException(
            400, f"token {token_id!r} is not an outcome of market {market.market_id!r}"
        )
    return token_id


@router.get("/{market_id}/book", response_model=BookOut, responses=errors(400, 404, 422, 503))
def get_book(
    ctx: CtxDep,
    session: SessionDep,
    market_id: str,
    token_id: Annotated[str | None, Query(description="outcome token; YES when omitted")] = None,
    depth: Annotated[int, Query(ge=1, le=500)] = 50,
) -> BookOut:
    """Return the latest book of one outcome token as the scanner published it."""
    token = _token(_market(session, market_id), token_id)
    book: L2Book | None = ctx.hub.books.get(token)
    if book is None:
        if not ctx.hub.is_connected("prices.pub"):
            raise ServiceUnavailable("the scanner is not running (prices.pub has no peer)")
        raise HTTPException(404, f"no book for token {token!r} has been published yet")
    bids = [BookLevel(price=p, size=s) for p, s in book.bids_list(depth)]
    asks = [BookLevel(price=p, size=s) for p, s in book.asks_list(depth)]
    return BookOut(
        market_id=market_id,
        token_id=token,
        bids=bids,
        asks=asks,
        best_bid=book.best_bid,
        best_ask=book.best_ask,
        mid=book.mid,
        tick_size=book.tick_size,
        timestamp_ms=book.timestamp_ms,
        timestamp=datetime.fromtimestamp(book.timestamp_ms / 1000, UTC),
    )


@router.get(
    "/{market_id}/prices", response_model=PriceHistory, responses=errors(400, 404, 422, 503)
)
async def get_price_history(
    ctx: CtxDep,
    session: SessionDep,
    market_id: str,
    token_id: Annotated[str | None, Query(description="outcome token; YES when omitted")] = None,
    hours: Annotated[float, Query(gt=0, le=24 * 366)] = 24.0,
    limit: Annotated[int, Query(ge=1, le=20_000)] = 5_000,
) -> PriceHistory:
    """Return recorded top-of-book prices of one token (from the analytics service)."""
    token = _token(_market(session, market_id), token_id)
    rows = await ctx.analytics.query(
        "SELECT ts, bid, ask, mid FROM price_history WHERE token_id = ? "
        "AND ts >= make_timestamp(?::BIGINT) ORDER BY ts LIMIT ?",
        [token, since_us(hours), limit],
    )
    return PriceHistory.model_validate({"token_id": token, "points": [utc(r) for r in rows]})


def since_us(hours: float) -> int:
    """Return epoch microseconds ``hours`` ago (DuckDB's ``make_timestamp`` takes these).

    Times travel as integers: a datetime inside msgpack args would arrive timezone-aware and
    compare oddly with the naive-UTC ``TIMESTAMP`` columns.
    """
    return int((datetime.now(UTC) - timedelta(hours=hours)).timestamp() * 1_000_000)


def utc(row: dict[str, Any]) -> dict[str, Any]:
    """Return ``row`` with naive DuckDB timestamps (UTC by convention) made timezone-aware."""
    return {
        k: v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v
        for k, v in row.items()
    }

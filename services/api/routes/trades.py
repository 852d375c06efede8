"""Our fills (the ``trades`` table), newest first."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import AwareDatetime
from sqlalchemy import select

from polybot.statecmd.queries import plain
from polybot.storage.models import Trade
from services.api.deps import SessionDep
from services.api.schemas import TradeOut, errors

router = APIRouter(prefix="/trades", tags=["trades"])


@router.get("", response_model=list[TradeOut], responses=errors(422, 503))
def list_trades(
    session: SessionDep,
    strategy: Annotated[str | None, Query(max_length=100)] = None,
    market_id: Annotated[str | None, Query(max_length=100)] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="ISO-8601 with offset; fills at or after")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> list[TradeOut]:
    """List our fills, newest first."""
    query = select(Trade).order_by(Trade.traded_at.desc(), Trade.id.desc())
    if strategy:
        query = query.where(Trade.strategy == strategy)
    if market_id:
        query = query.where(Trade.market_id == market_id)
    if since is not None:
        try:
            query = query.where(Trade.traded_at >= since.astimezone(UTC))
        except OverflowError:
            raise HTTPException(422, f"since {since.isoformat()} is out of range") from None
    columns = TradeOut.model_fields
    return [
        TradeOut.model_validate({name: plain(getattr(trade, name)) for name in columns})
        for trade in session.scalars(query.limit(limit)).all()
    ]

"""Positions, PnL and balances.

Positions and PnL are computed here from ``polybot.db`` with the same functions the state service
uses (``polybot.statecmd.queries``), marked at the latest mids seen on ``prices.pub``, so they keep
answering while the state service is down. Balances are the executor's latest report, which only
the state service keeps.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query

from polybot.statecmd import queries
from services.api.deps import CtxDep, SessionDep
from services.api.schemas import BalancesOut, PnlOut, PositionOut, errors

router = APIRouter(tags=["positions"])


@router.get("/positions", response_model=list[PositionOut], responses=errors(422, 503))
def list_positions(
    ctx: CtxDep,
    session: SessionDep,
    strategy: Annotated[str | None, Query(max_length=100)] = None,
    account: Annotated[str | None, Query(max_length=42)] = None,
    include_closed: Annotated[bool, Query(description="include zero-size positions")] = False,
) -> list[PositionOut]:
    """List positions with their mark and unrealized PnL."""
    args: dict[str, Any] = {"all": include_closed}
    if strategy:
        args["strategy"] = strategy
    if account:
        args["account"] = account
    marks = ctx.hub.marks
    out = []
    for row in queries.positions(session, args):
        mark = marks.get(row["token_id"])
        unrealized = None
        if mark is not None:
            # repr() of the float is its shortest exact-enough decimal spelling.
            value = Decimal(row["size"]) * (Decimal(repr(mark)) - Decimal(row["avg_price"]))
            unrealized = str(value)
        out.append(PositionOut.model_validate({**row, "mark": mark, "unrealized_pnl": unrealized}))
    return out


@router.get("/pnl", response_model=PnlOut, responses=errors(503))
def get_pnl(ctx: CtxDep, session: SessionDep) -> PnlOut:
    """Return realized/unrealized PnL, fees and exposure, in total and per strategy."""
    return PnlOut.model_validate(queries.pnl(session, ctx.hub.marks))


@router.get("/balances", response_model=BalancesOut, responses=errors(503))
async def get_balances(ctx: CtxDep) -> BalancesOut:
    """Return the executor's latest balance report (kept by the state service)."""
    return BalancesOut.model_validate(await ctx.state.call("balances"))

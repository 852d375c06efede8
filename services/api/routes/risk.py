"""Risk: effective limits, current state against them, changing a limit, the kill switch.

Reads are computed here (settings + ``data/risk_state.json`` overrides, positions from
``polybot.db``); changes go through the state service, which validates, persists, audits and
forwards them to the executor.
"""

from __future__ import annotations

from fastapi import APIRouter

from polybot.risk.limits import RiskLimits
from polybot.statecmd import files, queries
from services.api.auth import AuthDep
from services.api.deps import CtxDep, SessionDep
from services.api.schemas import (
    CommandResult,
    KillSwitchRequest,
    RiskLimitChange,
    RiskLimitsOut,
    RiskStateOut,
    errors,
)

router = APIRouter(prefix="/risk", tags=["risk"])


def effective_limits(ctx: CtxDep) -> RiskLimits:
    """Return the configured limits with the persisted runtime overrides applied."""
    return files.effective_limits(ctx.settings.risk, files.read_risk_state(ctx.data_dir))


@router.get("/limits", response_model=RiskLimitsOut, responses=errors(503))
def get_limits(ctx: CtxDep) -> RiskLimitsOut:
    """Return the effective risk limits."""
    return RiskLimitsOut.model_validate(effective_limits(ctx).model_dump(mode="json"))


@router.get("", response_model=RiskStateOut, responses=errors(503))
def get_risk_state(ctx: CtxDep, session: SessionDep) -> RiskStateOut:
    """Return exposure, open orders and daily PnL against the limits."""
    return RiskStateOut.model_validate(queries.risk(session, effective_limits(ctx), ctx.hub.marks))


@router.put(
    "/limits",
    response_model=CommandResult,
    dependencies=[AuthDep],
    responses=errors(400, 401, 403, 422, 503),
)
async def set_limit(ctx: CtxDep, body: RiskLimitChange) -> CommandResult:
    """Change one risk limit (validated, persisted and applied by the executor)."""
    args = {"name": body.name, "value": body.value, "actor": "api"}
    result = await ctx.state.call("risk.set", args, token=ctx.token)
    return CommandResult(command="risk.set", result=result)


@router.post(
    "/kill-switch",
    response_model=CommandResult,
    dependencies=[AuthDep],
    responses=errors(400, 401, 403, 422, 503),
)
async def set_kill_switch(ctx: CtxDep, body: KillSwitchRequest) -> CommandResult:
    """Turn the kill switch on (no new orders; persisted) or off."""
    args = {"on": body.on, "reason": body.reason, "actor": "api"}
    result = await ctx.state.call("kill_switch", args, token=ctx.token)
    return CommandResult(command="kill_switch", result=result)

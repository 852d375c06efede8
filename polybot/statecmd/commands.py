"""The state-changing commands: kill switch, cancel all, strategy modes, risk limits.

Each command persists its effect first (risk state file, strategy mode file, ``strategy_configs``)
and then forwards what the executor must apply right away. Persisting first means a command is
never lost: an executor that is down picks the risk state up when it starts, and the runner picks
up strategy changes on its next poll.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from polybot.core.clock import wall_ms
from polybot.core.errors import PolybotError
from polybot.risk.limits import RiskLimits
from polybot.statecmd import files, queries
from polybot.statecmd.executor_link import ExecutorControl, Forwarded


class CommandFailed(PolybotError):
    """A command could not be applied; the message says why (and is audited)."""


@dataclass
class CommandContext:
    """What commands work on: the data dir's state files, the database, the executor link."""

    data_dir: Path
    sessions: sessionmaker[Session]
    configured: RiskLimits
    executor: ExecutorControl | None

    def limits(self) -> RiskLimits:
        """Return the effective risk limits (settings + persisted overrides)."""
        return files.effective_limits(self.configured, files.read_risk_state(self.data_dir))

    def modes(self) -> files.StrategyModes:
        """Return the persisted strategy modes."""
        return files.read_strategy_modes(self.data_dir)

    async def forward(self, request_id: str, command: str, args: dict[str, Any]) -> dict[str, Any]:
        """Send a command to the executor; report delivery and its answer."""
        if self.executor is None:
            return Forwarded(delivered=False, applied=None, detail="no executor link").as_dict()
        outcome = await self.executor.send(request_id, command, args)
        return outcome.as_dict()


async def run_command(
    ctx: CommandContext, request_id: str, name: str, args: dict[str, Any]
) -> dict[str, Any]:
    """Apply one command and return its result; raise ``CommandFailed`` when it cannot be."""
    if name == "kill_switch":
        return await _kill_switch(ctx, request_id, args)
    if name == "cancel_all":
        scope = {k: str(args[k]) for k in ("strategy", "market_id") if args.get(k)}
        return {"scope": scope, "executor": await ctx.forward(request_id, "cancel_all", scope)}
    if name == "risk.set":
        return await _set_risk(ctx, request_id, args)
    if name in ("strategy.enable", "strategy.disable", "strategy.shadow"):
        return _set_strategy_mode(ctx, name.removeprefix("strategy."), args)
    raise CommandFailed(f"unknown command {name!r}")


async def _kill_switch(
    ctx: CommandContext, request_id: str, args: dict[str, Any]
) -> dict[str, Any]:
    on = args.get("on")
    if not isinstance(on, bool):
        raise CommandFailed("args.on must be true or false")
    _persist_override(ctx, "kill_switch", on)
    reason = str(args.get("reason", ""))[:500]
    forwarded = await ctx.forward(request_id, "kill_switch", {"on": on, "reason": reason})
    return {"kill_switch": on, "persisted": True, "executor": forwarded}


async def _set_risk(ctx: CommandContext, request_id: str, args: dict[str, Any]) -> dict[str, Any]:
    name, value = args.get("name"), args.get("value")
    fields = RiskLimits.model_fields
    if not isinstance(name, str) or name not in fields:
        raise CommandFailed(f"args.name must be one of {', '.join(fields)}")
    if value is None:
        raise CommandFailed("args.value is required")
    limits = _persist_override(ctx, name, value)
    forwarded = await ctx.forward(
        request_id, "set_risk_limits", {"limits": limits.model_dump(mode="json")}
    )
    return {"name": name, "value": limits.model_dump(mode="json")[name], "executor": forwarded}


def _persist_override(ctx: CommandContext, name: str, value: Any) -> RiskLimits:
    state = files.read_risk_state(ctx.data_dir)
    candidate = {**state.limits, name: value}
    try:
        # Validate against the model before persisting: a bad value must not reach the file.
        limits = RiskLimits.model_validate({**ctx.configured.model_dump(), **candidate})
    except ValidationError as exc:
        problems = "; ".join(e["msg"] for e in exc.errors())
        raise CommandFailed(f"invalid value for {name}: {problems}") from None
    stored = limits.model_dump(mode="json")[name]
    files.write_risk_state(
        ctx.data_dir, files.RiskState(limits={**state.limits, name: stored}, updated_ms=wall_ms())
    )
    return limits


def _set_strategy_mode(ctx: CommandContext, mode: str, args: dict[str, Any]) -> dict[str, Any]:
    strategy = args.get("strategy")
    if not isinstance(strategy, str) or not strategy:
        raise CommandFailed("args.strategy must name a strategy instance")
    with ctx.sessions() as session, session.begin():
        row = queries.latest_configs(session).get(strategy)
        if row is None:
            known = ", ".join(sorted(queries.latest_configs(session))) or "none configured"
            raise CommandFailed(f"no strategy {strategy!r} in strategy_configs (known: {known})")
        row.is_enabled = mode != "disable"
    modes = files.read_strategy_modes(ctx.data_dir)
    if mode == "shadow":
        modes.modes[strategy] = "shadow"
    elif mode == "enable":
        modes.modes[strategy] = "live"  # enable means trade for real
    modes.updated_ms = wall_ms()
    files.write_strategy_modes(ctx.data_dir, modes)
    effective = "disabled" if mode == "disable" else modes.mode(strategy)
    return {"strategy": strategy, "mode": effective, "config_hash": row.config_hash}

"""Strategies: list, create/update a typed config, enable/disable, shadow on/off, runs, logs.

A config is validated against the strategy's own ``StrategyConfig`` (unknown keys get a "did you
mean" hint) before a new ``strategy_configs`` version is stored; the runner picks it up on its
next poll. Modes go through the state service, which persists and audits them.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, HTTPException, Path, Query
from sqlalchemy import delete

from polybot.core.errors import ConfigError
from polybot.statecmd import files, queries
from polybot.storage.journal import record_audit
from polybot.storage.models import StrategyConfig
from polybot.strategies.base import Strategy, build_config
from services.api.auth import AuthDep
from services.api.deps import (
    CommandRefused,
    CtxDep,
    ServiceUnavailable,
    SessionDep,
    WriteSessionDep,
)
from services.api.routes.markets import utc
from services.api.schemas import (
    CommandResult,
    StrategyConfigRequest,
    StrategyLogLine,
    StrategyOut,
    StrategyRun,
    errors,
)

router = APIRouter(prefix="/strategies", tags=["strategies"])

StrategyName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,100}$")]
_MODULE = re.compile(r"^polybot\.strategies\.[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")
_PACKAGE = "polybot.strategies"


def resolve_strategy(name: str) -> type[Strategy]:
    """Return the strategy class for a registry name or ``polybot.strategies.<module>:<Class>``."""
    if ":" in name:
        module_name, _, class_name = name.partition(":")
        if not _MODULE.match(module_name):
            raise ConfigError(f"strategy classes live in {_PACKAGE}.<module>, not {module_name!r}")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            raise ConfigError(f"no strategy module {module_name!r}") from None
        found = getattr(module, class_name, None)
        if isinstance(found, type) and issubclass(found, Strategy) and found is not Strategy:
            return found
        raise ConfigError(f"{module_name} has no strategy class {class_name!r}")
    known = strategy_classes()
    if name in known:
        return known[name]
    raise ConfigError(f"unknown strategy {name!r}; known: {', '.join(sorted(known))}")


def strategy_classes() -> dict[str, type[Strategy]]:
    """Return every strategy class shipped in ``polybot.strategies`` by registry name."""
    package = importlib.import_module(_PACKAGE)
    found: dict[str, type[Strategy]] = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name == "base" or info.ispkg:
            continue
        module = importlib.import_module(f"{_PACKAGE}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Strategy)
                and value.__module__ == module.__name__
            ):
                found[value.strategy_name()] = value
    return found


def _config_dict(text: str) -> dict[str, Any]:
    for decode in (json.loads, msgspec.toml.decode):
        try:
            value = decode(text)
        except (ValueError, msgspec.DecodeError):
            continue
        if isinstance(value, dict):
            return value
    return {"raw": text}


async def _runner_states(ctx: CtxDep) -> dict[str, Any] | None:
    try:
        result = await ctx.runner.call("runner.status")
    except (ServiceUnavailable, CommandRefused):
        return None
    states = result.get("strategies") if isinstance(result, dict) else None
    return states if isinstance(states, dict) else {}


def _strategy_out(row: StrategyConfig, mode: str, runtime: dict[str, Any] | None) -> StrategyOut:
    live = (runtime or {}).get(row.strategy, {})
    live = live if isinstance(live, dict) else {}
    return StrategyOut(
        strategy=row.strategy,
        strategy_class=row.strategy_class,
        config_hash=row.config_hash,
        config=_config_dict(row.config),
        enabled=row.is_enabled,
        mode="disabled" if not row.is_enabled else ("shadow" if mode == "shadow" else "live"),
        state=str(live.get("state", "NOT_RUNNING")) if runtime is not None else "UNKNOWN",
        error=str(live.get("error", "")),
        updated_at=row.created_at,
    )


async def _strategy_answer(ctx: CtxDep, row: StrategyConfig) -> StrategyOut:
    """Return one instance as the API shows it: its mode and the runner's state (asked now).

    Call it with no transaction open: waiting on the runner must not hold a SQLite snapshot.
    """
    runtime = await _runner_states(ctx)
    return _strategy_out(row, files.read_strategy_modes(ctx.data_dir).mode(row.strategy), runtime)


@router.get("", response_model=list[StrategyOut], responses=errors(503))
async def list_strategies(ctx: CtxDep, session: SessionDep) -> list[StrategyOut]:
    """List configured strategy instances (state is UNKNOWN while the runner is down)."""
    configs = queries.latest_configs(session)
    session.rollback()  # end the read before waiting on the runner
    modes = files.read_strategy_modes(ctx.data_dir)
    runtime = await _runner_states(ctx)
    return [_strategy_out(row, modes.mode(name), runtime) for name, row in sorted(configs.items())]


@router.get("/{name}", response_model=StrategyOut, responses=errors(404, 422, 503))
async def get_strategy(ctx: CtxDep, session: SessionDep, name: StrategyName) -> StrategyOut:
    """Return one strategy instance."""
    row = queries.latest_configs(session).get(name)
    session.rollback()
    if row is None:
        raise HTTPException(404, f"no strategy {name!r} (see GET /strategies)")
    return await _strategy_answer(ctx, row)


@router.put(
    "/{name}",
    response_model=StrategyOut,
    dependencies=[AuthDep],
    responses=errors(401, 422, 503),
)
async def put_strategy(
    ctx: CtxDep, session: WriteSessionDep, name: StrategyName, body: StrategyConfigRequest
) -> StrategyOut:
    """Create or update a strategy instance's config; it is validated before it is stored.

    Answers the stored version with the runner's current state of the instance (``UNKNOWN``
    while the runner is down); the runner picks the new version up on its next poll.
    """
    try:
        strategy_type = resolve_strategy(body.strategy_class)
        config = build_config(strategy_type, None, dict(body.config))
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from None
    class_path = f"{strategy_type.__module__}:{strategy_type.__qualname__}"
    text = msgspec.json.encode(config.to_dict()).decode()
    with session.begin():
        # An identical earlier version is moved to the front rather than duplicated.
        session.execute(
            delete(StrategyConfig).where(
                StrategyConfig.strategy == name, StrategyConfig.config_hash == config.config_hash
            )
        )
        row = StrategyConfig(
            strategy=name,
            strategy_class=class_path,
            config_hash=config.config_hash,
            config=text,
            is_enabled=body.enabled,
        )
        session.add(row)
        record_audit(
            session,
            actor="api",
            command="strategy.configure",
            args={"strategy": name, "strategy_class": class_path, "config": config.to_dict()},
            result=config.config_hash,
            is_ok=True,
        )
    session.refresh(row)  # the stored created_at
    session.close()  # end the read (row stays loaded) before waiting on the runner
    ctx.count("strategy_configs_written")
    return await _strategy_answer(ctx, row)


async def _mode_command(ctx: CtxDep, command: str, name: str) -> CommandResult:
    result = await ctx.state.call(command, {"strategy": name, "actor": "api"}, token=ctx.token)
    return CommandResult(command=command, result=result)


_MODE_ERRORS = errors(400, 401, 403, 422, 503)


@router.post(
    "/{name}/enable", response_model=CommandResult, dependencies=[AuthDep], responses=_MODE_ERRORS
)
async def enable_strategy(ctx: CtxDep, name: StrategyName) -> CommandResult:
    """Enable a strategy and make it trade for real (clears shadow mode)."""
    return await _mode_command(ctx, "strategy.enable", name)


@router.post(
    "/{name}/disable", response_model=CommandResult, dependencies=[AuthDep], responses=_MODE_ERRORS
)
async def disable_strategy(ctx: CtxDep, name: StrategyName) -> CommandResult:
    """Disable a strategy (the runner stops it)."""
    return await _mode_command(ctx, "strategy.disable", name)


@router.post(
    "/{name}/shadow", response_model=CommandResult, dependencies=[AuthDep], responses=_MODE_ERRORS
)
async def set_shadow(
    ctx: CtxDep, name: StrategyName, on: Annotated[bool, Query()] = True
) -> CommandResult:
    """Shadow on: the strategy runs and logs but sends no orders. Shadow off: trade for real."""
    return await _mode_command(ctx, "strategy.shadow" if on else "strategy.enable", name)


@router.get("/{name}/runs", response_model=list[StrategyRun], responses=errors(422, 503))
async def list_runs(
    ctx: CtxDep, name: StrategyName, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> list[StrategyRun]:
    """List the strategy's runs, newest first (from the runner's strategy_logs database)."""
    rows = await ctx.runner.query(
        "SELECT run_id, strategy, mode, config_hash, started_at, ended_at, status, pid "
        "FROM strategy_runs WHERE strategy = ? ORDER BY started_at DESC LIMIT ?",
        [name, limit],
    )
    return [StrategyRun.model_validate(utc(r)) for r in rows]


@router.get("/{name}/logs", response_model=list[StrategyLogLine], responses=errors(422, 503))
async def list_logs(
    ctx: CtxDep,
    name: StrategyName,
    run_id: Annotated[str | None, Query(max_length=100)] = None,
    level: Annotated[
        str | None,
        Query(
            pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL|DECISION)$",
            description="a logging level, or DECISION (orders, cancels and fates the runner "
            "recorded)",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> list[StrategyLogLine]:
    """Return the strategy's newest log lines (optionally of one run and level)."""
    sql = "SELECT run_id, strategy, ts, level, message, data FROM strategy_logs WHERE strategy = ?"
    params: list[Any] = [name]
    if run_id:
        sql += " AND run_id = ?"
        params.append(run_id)
    if level:
        sql += " AND level = ?"
        params.append(level)
    rows = await ctx.runner.query(sql + " ORDER BY ts DESC LIMIT ?", [*params, limit])
    return [StrategyLogLine.model_validate({**utc(r), "data": _data(r.get("data"))}) for r in rows]


def _data(text: Any) -> Any:
    if not isinstance(text, str) or not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text

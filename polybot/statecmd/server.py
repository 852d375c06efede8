"""The state service's request handler: read-only queries, token-checked audited commands.

Every request is a ``Command`` on ``bus.state_req`` answered by a ``Response``. Queries need no
token. Commands that change state need ``Command.token`` equal to the local token
(``data/api_token``); a missing or wrong token is refused with a clear error and the refusal is
audited. Every command — applied, failed or refused — leaves one ``audit_log`` row keyed by its
``request_id``, and a request id that is already in the audit log is answered from there without
applying the command again (the Replier's in-memory cache covers REQ resends; this covers a
resend that arrives after the state service restarted).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pynng
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from polybot.bus.endpoints import Replier
from polybot.bus.messages import Command, Response
from polybot.core.clock import wall_ms
from polybot.statecmd import queries
from polybot.statecmd.commands import CommandContext, CommandFailed, run_command
from polybot.statecmd.token import token_matches
from polybot.storage.journal import record_audit
from polybot.storage.models import AuditLogEntry

log = logging.getLogger(__name__)

QUERY_NAMES = (
    "ping",
    "positions",
    "orders",
    "trades",
    "balances",
    "pnl",
    "risk",
    "strategies",
    "audit",
)
COMMAND_NAMES = (
    "kill_switch",
    "cancel_all",
    "strategy.enable",
    "strategy.disable",
    "strategy.shadow",
    "risk.set",
)
_SECRET_WORDS = ("token", "secret", "key", "passphrase", "password")

RunnerStates = Callable[[], Awaitable[dict[str, Any] | None]]


def sanitize(args: dict[str, Any]) -> dict[str, Any]:
    """Return ``args`` without anything that looks like a secret (for the audit log)."""
    return {
        k: ("***" if any(w in k.lower() for w in _SECRET_WORDS) else v) for k, v in args.items()
    }


class StateHandler:
    """Answer one ``Command`` at a time (serve it with ``Replier.aserve``)."""

    def __init__(
        self,
        *,
        ctx: CommandContext,
        sessions: sessionmaker[Session],
        token: str,
        runner_states: RunnerStates,
        marks: dict[str, float],
        count: Callable[[str], None] | None = None,
    ) -> None:
        self._ctx = ctx
        self._sessions = sessions
        self._token = token
        self._runner_states = runner_states
        self._marks = marks
        self.counters: dict[str, int] = {}
        self._on_count = count
        self.stopping = False
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def __call__(self, command: Command) -> Response:
        """Dispatch ``command`` and return its response (errors become ``ok=False``)."""
        name = command.command
        if self.stopping:
            return _fail(command, "the state service is stopping; retry when it is back")
        if name in COMMAND_NAMES:
            self.in_flight += 1
            self.idle.clear()
            try:
                return await self._command(command)
            finally:
                self.in_flight -= 1
                if not self.in_flight:
                    self.idle.set()
        if name not in QUERY_NAMES:
            return _fail(
                command,
                f"unknown command {name!r}; queries: {', '.join(QUERY_NAMES)}; "
                f"commands (token required): {', '.join(COMMAND_NAMES)}",
            )
        self._count("queries")
        try:
            return _ok(command, await self._query(name, command.args))
        except (ValueError, KeyError) as exc:
            return _fail(command, f"{name}: {exc}")

    async def _query(self, name: str, args: dict[str, Any]) -> Any:
        if name == "ping":
            return {"service": "state", "time_ms": wall_ms()}
        if name == "balances":
            control = self._ctx.executor
            return {
                "balances": control.balances if control else None,
                "as_of_ms": control.balances_ms if control else 0,
            }
        if name == "strategies":
            return await self._strategies()
        with self._sessions() as session:
            if name == "positions":
                return queries.positions(session, args)
            if name == "orders":
                return queries.orders(session, args)
            if name == "trades":
                return queries.trades(session, args)
            if name == "pnl":
                return queries.pnl(session, self._marks)
            if name == "risk":
                return queries.risk(session, self._ctx.limits(), self._marks)
            return queries.audit(session, args)

    async def _strategies(self) -> dict[str, Any]:
        with self._sessions() as session:
            configs = queries.latest_configs(session)
        modes = self._ctx.modes()
        live = await self._runner_states()
        runtime = (live or {}).get("strategies", {})
        return {
            "runner": "up" if live is not None else "unreachable",
            "strategies": [
                {
                    "strategy": name,
                    "strategy_class": row.strategy_class,
                    "config_hash": row.config_hash,
                    "enabled": row.is_enabled,
                    "mode": modes.mode(name) if row.is_enabled else "disabled",
                    "state": runtime.get(name, {}).get("state", "NOT_RUNNING"),
                    "error": runtime.get(name, {}).get("error", ""),
                    "run_id": runtime.get(name, {}).get("run_id", ""),
                }
                for name, row in sorted(configs.items())
            ],
        }

    async def _command(self, command: Command) -> Response:
        args = dict(command.args)
        actor = str(args.pop("actor", "bus"))[:100]
        audit_args = sanitize(args)
        if not command.token or not token_matches(self._token, command.token):
            self._count("commands_unauthorized")
            reason = "missing token" if not command.token else "invalid token"
            self._audit(actor, command, audit_args, f"rejected: {reason}", ok=False)
            log.warning("refused %s from %s: %s", command.command, actor, reason)
            return _fail(
                command,
                f"unauthorized: {reason} for {command.command!r} — send the "
                "local token from data/api_token in Command.token",
            )
        previous = self._previous(command.request_id)
        if previous is not None:
            # Already applied before a restart: answer as then, never apply twice.
            self._count("commands_replayed")
            result = json.loads(previous.result) if previous.is_ok else previous.result
            return _ok(command, result) if previous.is_ok else _fail(command, previous.result)
        try:
            result = await run_command(self._ctx, command.request_id, command.command, args)
        except (CommandFailed, ValueError, KeyError) as exc:
            self._count("commands_failed")
            text = str(exc)
            self._audit(actor, command, audit_args, text, ok=False)
            return _fail(command, f"{command.command}: {text}")
        self._count("commands_applied")
        self._audit(actor, command, audit_args, json.dumps(result, default=str), ok=True)
        log.info(
            "applied %s for %s", command.command, actor, extra={"request_id": command.request_id}
        )
        return _ok(command, result)

    def _previous(self, request_id: str) -> AuditLogEntry | None:
        with self._sessions() as session:
            return session.scalar(
                select(AuditLogEntry)
                .where(AuditLogEntry.request_id == request_id, AuditLogEntry.result != "")
                .where(~AuditLogEntry.result.startswith("rejected:"))
                .order_by(AuditLogEntry.id)
                .limit(1)
            )

    def _audit(
        self, actor: str, command: Command, args: dict[str, Any], result: str, *, ok: bool
    ) -> None:
        with self._sessions() as session, session.begin():
            record_audit(
                session,
                actor=actor,
                command=command.command,
                args=args,
                result=result,
                is_ok=ok,
                request_id=command.request_id,
            )

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1
        if self._on_count is not None:
            self._on_count(name)


def _ok(command: Command, result: Any) -> Response:
    return Response(request_id=command.request_id, ok=True, result=result, timestamp=wall_ms())


def _fail(command: Command, error: str) -> Response:
    return Response(request_id=command.request_id, ok=False, error=error, timestamp=wall_ms())


async def serve_replier(replier: Replier) -> None:
    """Run ``replier.aserve()`` until the replier is closed.

    ``aserve`` lets NNG's receive timeout escape when no request arrives within
    ``recv_timeout_ms``; an idle endpoint must keep serving, so it is simply resumed.
    """
    while not replier.closed:
        try:
            await replier.aserve()
        except pynng.Timeout:
            continue

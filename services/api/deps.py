"""What routes depend on: the API context, database sessions, and links to the other services.

Every bus call has a timeout and checks first that the serving service is connected at all, so a
route answers at once with a 503 that names the missing service instead of hanging:
``{"detail": "the executor is not running (signals.push has no peer)"}``.

Reads of operational data (markets, orders, positions, trades, wallets, strategy configs) go
straight to ``polybot.db`` through a read-only engine: SQLite in WAL mode lets any number of
readers work beside the writers, so these routes keep answering while the state service is down.
Commands go through the state service, which authenticates, persists and audits them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from polybot.bus.endpoints import Requester, new_request_id
from polybot.bus.messages import AnyMessage, Command, Event, OrderUpdate, Signal
from polybot.bus.nng import Pusher
from polybot.config.settings import Settings
from polybot.core.clock import wall_ms
from polybot.core.errors import BusError, BusTimeout, PolybotError
from polybot.storage.duck_query import QUERY_COMMAND, read_arrow_stream
from polybot.storage.duck_read import MAX_REPLY_BYTES
from polybot.storage.sqlite import make_engine, make_session_factory

APPLIED = "command_applied"  # the executor's answers to commands on its PULL (statecmd contract)
FAILED = "command_failed"


class ServiceUnavailable(PolybotError):
    """A service the route needs is down or did not answer in time (HTTP 503)."""


class CommandRefused(PolybotError):
    """A service answered but refused the request; the message is its reason (HTTP 4xx)."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code


class FateTimeout(PolybotError):
    """The executor took a signal/command but announced nothing within the bound (HTTP 504)."""


class ServiceLink:
    """A REQ socket to one service's REP endpoint, with a peer check and a bounded wait."""

    def __init__(
        self,
        service: str,
        socket_name: str,
        address: str,
        timeout_s: float,
        command_timeout_s: float | None = None,
    ) -> None:
        self.service = service
        self.socket_name = socket_name
        self.timeout_s = timeout_s
        # Commands may wait on a third service (the state service forwards to the executor and
        # waits up to 5 s for its answer), so they get a longer bound than queries.
        self.command_timeout_s = command_timeout_s or timeout_s
        # Re-send rarely: the state service is idempotent by request id, analytics queries
        # simply re-run, and our own timeout is far shorter anyway.
        self.requester = Requester(address, resend_time=30.0)
        self.requester.socket.recv_max_size = MAX_REPLY_BYTES

    @property
    def connected(self) -> bool:
        """Return True when the serving service is connected."""
        return self.requester.peers > 0

    async def call(
        self, command: str, args: dict[str, Any] | None = None, *, token: str = ""
    ) -> Any:
        """Send ``command`` and return the response's ``result``.

        Raises ``ServiceUnavailable`` when the service is not connected or does not answer in
        time, and ``CommandRefused`` when it answers ``ok=False``. Calls carrying a token
        (commands) get ``command_timeout_s``.
        """
        timeout_s = self.command_timeout_s if token else self.timeout_s
        if not self.connected:
            raise ServiceUnavailable(
                f"the {self.service} is not running ({self.socket_name} has no peer)"
            )
        request = Command(
            request_id=new_request_id(),
            command=command,
            args=args or {},
            token=token,
            timestamp=wall_ms(),
        )
        try:
            response = await self.requester.arequest(request, timeout=timeout_s)
        except BusTimeout:
            raise ServiceUnavailable(
                f"the {self.service} did not answer {command!r} on {self.socket_name} "
                f"within {timeout_s:g} s"
            ) from None
        except BusError as exc:
            raise ServiceUnavailable(f"the {self.service} cannot be reached: {exc}") from None
        if not response.ok:
            status = 403 if response.error.startswith("unauthorized") else 400
            raise CommandRefused(f"the {self.service} refused: {response.error}", status)
        return response.result

    async def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Run a read-only SQL query on a DuckDB owner's endpoint; return its rows."""
        args: dict[str, Any] = {"sql": sql}
        if params is not None:
            args["params"] = params
        result = await self.call(QUERY_COMMAND, args)
        if not isinstance(result, bytes):
            raise ServiceUnavailable(f"the {self.service} sent no Arrow data for a query")
        table: pa.Table = read_arrow_stream(result)
        rows: list[dict[str, Any]] = table.to_pylist()
        return rows

    def close(self) -> None:
        """Close the socket."""
        self.requester.close()


@dataclass
class _Waiter:
    future: asyncio.Future[AnyMessage]
    kind: str  # "signal" or "command"


class ExecutorLink:
    """Signals and commands into the executor's PULL, answers awaited on ``events.pub``.

    A waiter is registered *before* the frame is pushed, so an answer that arrives immediately is
    never missed; ``on_message`` is fed every message of the events bus by the WebSocket hub.
    """

    def __init__(self, address: str, fate_timeout_s: float, send_timeout_s: float) -> None:
        self.fate_timeout_s = fate_timeout_s
        self.send_timeout_s = send_timeout_s
        self.pusher = Pusher(address, linger=0.5)
        self._waiters: dict[str, _Waiter] = {}

    @property
    def connected(self) -> bool:
        """Return True when the executor's PULL is connected."""
        return self.pusher.peers > 0

    @property
    def pending(self) -> int:
        """Return how many answers are awaited."""
        return len(self._waiters)

    def on_message(self, message: AnyMessage) -> None:
        """Resolve the waiter this message answers, if any (called on the event loop)."""
        key = ""
        if isinstance(message, Event):
            data = message.data
            if message.event_type in (APPLIED, FAILED):
                key = str(data.get("request_id", ""))
            else:
                key = str(data.get("signal_id", ""))
        elif isinstance(message, OrderUpdate):
            key = message.signal_id
        waiter = self._waiters.get(key) if key else None
        if waiter is not None and not waiter.future.done():
            waiter.future.set_result(message)

    async def place(self, signal: Signal) -> AnyMessage:
        """Push ``signal`` and return the executor's first fate message about it."""
        return await self._send(signal.signal_id, "signal", signal)

    async def command(self, command: str, args: dict[str, Any]) -> Event:
        """Push a ``Command`` to the executor and return its ``command_applied|failed`` event."""
        request = Command(
            request_id=new_request_id(), command=command, args=args, timestamp=wall_ms()
        )
        answer = await self._send(request.request_id, "command", request)
        assert isinstance(answer, Event)  # only events carry request_id answers
        return answer

    async def _send(self, key: str, kind: str, message: Signal | Command) -> AnyMessage:
        if not self.connected:
            raise ServiceUnavailable("the executor is not running (signals.push has no peer)")
        if key in self._waiters:
            raise CommandRefused(f"{kind} {key!r} is already being waited for", 409)
        loop = asyncio.get_running_loop()
        waiter = _Waiter(loop.create_future(), kind)
        self._waiters[key] = waiter
        try:
            try:
                # send() may wait for buffer space; keep that off the event loop.
                await asyncio.to_thread(self.pusher.send, message, self.send_timeout_s)
            except BusTimeout:
                raise ServiceUnavailable(
                    "the executor is not taking messages (signals.push send timed out)"
                ) from None
            except BusError as exc:
                raise ServiceUnavailable(f"the executor cannot be reached: {exc}") from None
            try:
                return await asyncio.wait_for(waiter.future, self.fate_timeout_s)
            except TimeoutError:
                raise FateTimeout(
                    f"the executor took {kind} {key!r} but announced nothing on events.pub "
                    f"within {self.fate_timeout_s:g} s; check GET /orders before retrying"
                ) from None
        finally:
            self._waiters.pop(key, None)

    def close(self) -> None:
        """Fail every waiter and close the socket (lingers briefly so queued frames leave)."""
        for waiter in self._waiters.values():
            if not waiter.future.done():
                waiter.future.cancel()
        self.pusher.close()


@dataclass
class ApiContext:
    """Everything the routes share, created by the app's lifespan."""

    settings: Settings
    data_dir: Path
    token: str
    state: ServiceLink
    analytics: ServiceLink
    runner: ServiceLink
    executor: ExecutorLink
    hub: Any  # services.api.ws.Hub (typed loosely to keep this module import-cycle free)
    read_engine: Engine
    write_engine: Engine
    counters: dict[str, int] = field(default_factory=dict)

    def count(self, name: str, amount: int = 1) -> None:
        """Add to one of the API's counters (shown in the status file and /metrics)."""
        self.counters[name] = self.counters.get(name, 0) + amount

    def links(self) -> list[tuple[str, str, bool]]:
        """Return ``(socket, service, connected)`` for every bus link."""
        return [
            (self.state.socket_name, self.state.service, self.state.connected),
            ("signals.push", "executor", self.executor.connected),
            (self.analytics.socket_name, self.analytics.service, self.analytics.connected),
            (self.runner.socket_name, self.runner.service, self.runner.connected),
            *self.hub.links(),
        ]


def open_engines(settings: Settings) -> tuple[Engine, Engine]:
    """Return (read-only, write) engines on ``polybot.db``; neither connects until used."""
    return make_engine(settings.sqlite_path, read_only=True), make_engine(settings.sqlite_path)


def get_ctx(request: Request) -> ApiContext:
    """Return the API context created by the lifespan."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


CtxDep = Annotated[ApiContext, Depends(get_ctx)]


def get_session(ctx: CtxDep) -> Iterator[Session]:
    """Yield a read-only session on ``polybot.db``."""
    with make_session_factory(ctx.read_engine)() as session:
        yield session


def get_write_session(ctx: CtxDep) -> Iterator[Session]:
    """Yield a write session on ``polybot.db`` (callers commit with ``session.begin()``)."""
    with make_session_factory(ctx.write_engine)() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
WriteSessionDep = Annotated[Session, Depends(get_write_session)]


def new_signal_id() -> str:
    """Return a fresh signal id for an API-placed order."""
    return f"api-{uuid.uuid4().hex}"

"""Wiring of the state service: SQLite, the local token, the executor link, marks, REP.

SIGTERM: new requests are refused, the request in flight finishes, sockets close, the database
engine is disposed; everything it changed is already persisted (audit rows, state files).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pynng

from polybot.bus import codec
from polybot.bus.aio import AsyncSubscriber
from polybot.bus.endpoints import Replier, Requester, new_request_id
from polybot.bus.ipc import SocketOptions
from polybot.bus.messages import AnyMessage, Command, Price
from polybot.core.clock import wall_ms
from polybot.core.errors import BusError
from polybot.stack.runtime import ServiceRuntime
from polybot.statecmd.commands import CommandContext
from polybot.statecmd.executor_link import ExecutorControl
from polybot.statecmd.server import StateHandler, serve_replier
from polybot.statecmd.token import ensure_token
from polybot.storage.migrate import init_db
from polybot.storage.sqlite import make_engine, make_session_factory

log = logging.getLogger("polybot.state")
STOP_GRACE_S = 10.0


async def main(runtime: ServiceRuntime) -> None:
    """Serve ``bus.state_req`` until SIGTERM."""
    settings = runtime.settings
    bus = settings.bus
    options = SocketOptions.from_settings(bus)
    data_dir = settings.data_dir
    await asyncio.to_thread(init_db, settings.sqlite_path)
    token = ensure_token(data_dir)  # never logged: only its path is
    engine = make_engine(settings.sqlite_path)
    marks: dict[str, float] = {}

    def on_price(message: AnyMessage) -> None:
        if isinstance(message, Price):
            marks[message.token_id] = message.mid

    prices = AsyncSubscriber(
        bus.prices_pub,
        topics=[codec.subscription_prefix(Price)],
        callback=on_price,
        options=options,
    )
    control = ExecutorControl(bus.signals_push, bus.events_pub, options=options)
    runner = Requester(bus.strategy_logs_req, options=options)

    async def runner_states() -> dict[str, Any] | None:
        command = Command(request_id=new_request_id(), command="runner.status", timestamp=wall_ms())
        try:
            response = await runner.arequest(command, timeout=1.0)
        except (BusError, pynng.NNGException):
            # arequest can surface NNG's own send timeout when no runner is listening.
            return None
        return response.result if response.ok and isinstance(response.result, dict) else None

    handler = StateHandler(
        ctx=CommandContext(
            data_dir=data_dir,
            sessions=make_session_factory(engine),
            configured=settings.risk,
            executor=control,
        ),
        sessions=make_session_factory(engine),
        token=token,
        runner_states=runner_states,
        marks=marks,
        count=runtime.count,
    )
    replier = Replier(bus.state_req, handler, options=options)
    serving = asyncio.create_task(serve_replier(replier))
    runtime.ready(f"serving {bus.state_req}; token in {data_dir / 'api_token'}")
    try:
        await runtime.stopping.wait()
    finally:
        handler.stopping = True
        # aserve answers requests one at a time: give the one in flight time to finish, then close.
        await _drain(handler, STOP_GRACE_S)
        replier.close()
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        runner.close()
        control.close()
        prices.close()
        engine.dispose()


async def _drain(handler: StateHandler, grace_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(handler.idle.wait(), grace_s)

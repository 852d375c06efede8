"""Wiring of the executor: sockets, the venue, the pipeline, upkeep, and a clean stop.

Start: bind ``signals.push`` (PULL) and ``events.pub`` (PUB) at once, so senders can queue, but
read no signal before the venue is reconciled. SIGTERM: stop reading, finish the signal in hand
and those already read, cancel resting orders if ``cancel_on_shutdown``, close the venue and the
sockets; everything is already committed to SQLite. The whole stop is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from polybot.bus.aio import AsyncPuller, AsyncSubscriber
from polybot.bus.background import BackgroundPublisher
from polybot.bus.ipc import SocketOptions
from polybot.bus.nng import Publisher
from polybot.config import Settings
from polybot.core.errors import BusTimeout, VenueError
from polybot.execution import Executor
from polybot.execution.assembly import build_executor
from polybot.stack.runtime import ServiceRuntime

log = logging.getLogger("polybot.executor")
HEARTBEAT_EVERY_S = 3.0  # the venue's dead-man switch fires after 10 s without one
RECONCILE_EVERY_S = 15.0
DRAIN_BUDGET_S = 5.0  # signals already read when SIGTERM came get this long to finish
STOP_BUDGET_S = 10.0


async def main(runtime: ServiceRuntime) -> None:
    """Run the executor until SIGTERM."""
    settings = runtime.settings
    options = SocketOptions.from_settings(settings.bus)
    events = Publisher(settings.bus.events_pub, options=options)
    outbox = BackgroundPublisher(events, name="events-pub")  # the loop never waits on NNG
    parts = await build_executor(
        settings, settings.data_dir, publish=outbox.publish, count=runtime.count
    )
    executor = parts.executor
    puller = AsyncPuller(
        settings.bus.signals_push, on_malformed=executor.on_malformed, options=options
    )
    prices = AsyncSubscriber(
        settings.bus.prices_pub, callback=executor.on_market_data, options=options
    )
    try:
        await executor.start()
        outbox.publish(executor.balance_event())
        runtime.ready(health_detail(settings, executor.venue.account))
        upkeep = asyncio.create_task(_upkeep(executor))
        await _serve(executor, puller, runtime.stopping)
        upkeep.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await upkeep
        async with asyncio.timeout(STOP_BUDGET_S):
            await executor.stop()
    finally:
        puller.close()
        prices.close()
        outbox.close()
        events.close()
        await parts.aclose()


def health_detail(settings: Settings, account: str) -> str:
    """Return the executor's health line: its mode, the configured venue and the account.

    The venue is named from ``settings.venue.kind``, not from the venue client (the local venue
    speaks the Polymarket protocol, so the same client trades on both).
    """
    if settings.venue.kind == "polymarket":
        where = "polymarket.com"
    else:
        where = f"the local venue at {settings.venue.url('clob')}"
    if settings.executor_mode == "paper":
        return f"paper trading ({account}), prices from {where}"
    return f"live on {where} ({account})"


async def _serve(executor: Executor, puller: AsyncPuller, stopping: asyncio.Event) -> None:
    while not stopping.is_set():
        try:
            message = await puller.recv(timeout=0.2)
        except BusTimeout:
            continue
        await executor.handle_message(message)
    # Frames already taken off the socket would die with the process: give them their fate.
    deadline = time.monotonic() + DRAIN_BUDGET_S
    while puller.queued and time.monotonic() < deadline:
        await executor.handle_message(await puller.recv(timeout=1.0))


async def _upkeep(executor: Executor) -> None:
    last_beat = last_reconcile = time.monotonic()
    while True:
        await asyncio.sleep(0.5)
        now = time.monotonic()
        try:
            if now - last_beat >= HEARTBEAT_EVERY_S:
                last_beat = now
                await executor.venue.maintain()
            if now - last_reconcile >= RECONCILE_EVERY_S:
                last_reconcile = now
                await executor.reconciler.run()
                await executor.tracker.settler.sweep(executor.catalog)
                executor.tracker.publish(executor.balance_event())
        except VenueError as exc:
            log.warning("venue upkeep failed (will retry): %s", exc)

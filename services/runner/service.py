"""Wiring of the strategy runner: buses in and out, the logbook, the config poll.

In: ``prices.pub`` (books, trades, ticks, resolutions) and ``events.pub`` (order fates, fills,
system events). Out: signals PUSHed to ``signals.push``; ``strategy_*`` events on ``runner.pub``;
runs and decisions in ``strategy_logs.duckdb``, queryable on ``strategy_logs_req``.

SIGTERM: stop reading the buses, stop every instance (cancelling their resting orders), let the
pusher drain, close sockets, flush and checkpoint DuckDB, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from polybot.bus import codec
from polybot.bus.aio import AsyncSubscriber
from polybot.bus.endpoints import Requester
from polybot.bus.ipc import SocketOptions
from polybot.bus.messages import Command, Event, Fill, Message, OrderUpdate, Signal
from polybot.bus.nng import Publisher, Pusher
from polybot.core.clock import wall_ms
from polybot.core.errors import BusError
from polybot.model.market import Market
from polybot.runner.configs import InstanceSpec, wanted_instances
from polybot.runner.control import RunnerEndpoint
from polybot.runner.host import StrategyRunner
from polybot.runner.logbook import Logbook, StrategyLogHandler
from polybot.runner.markets import load_markets
from polybot.runner.outbox import Outbox
from polybot.runner.recovery import SnapshotRecovery
from polybot.stack.runtime import ServiceRuntime
from polybot.statecmd.files import read_strategy_modes
from polybot.storage.migrate import init_db
from polybot.storage.sqlite import make_engine, make_session_factory

log = logging.getLogger("polybot.runner")
POLL_S = 1.0  # how soon a config change in strategy_configs takes effect
TICK_S = 0.05  # timer resolution when no market data arrives
SEND_TIMEOUT_S = 0.2  # a signal the executor cannot take fails fast instead of stalling the loop


async def main(runtime: ServiceRuntime) -> None:
    """Run the strategies until SIGTERM."""
    settings = runtime.settings
    bus = settings.bus
    options = SocketOptions.from_settings(bus)
    loop = asyncio.get_running_loop()
    await asyncio.to_thread(init_db, settings.sqlite_path)
    sql = make_engine(settings.sqlite_path, read_only=True)
    sessions = make_session_factory(sql)
    logbook = Logbook(settings.strategy_logs_path)
    pusher = Pusher(bus.signals_push, options=options)
    publisher = Publisher(bus.runner_pub, options=options)

    def send(message: Signal | Command) -> None:
        try:
            pusher.send(message, timeout=SEND_TIMEOUT_S)
        except BusError as exc:
            runtime.count("signals_undelivered")
            log.warning("could not hand %s to the executor: %s", type(message).__name__, exc)
            if isinstance(message, Signal):
                # Give the strategy its order's fate (INVALID) instead of leaving it pending.
                refusal = Event(
                    source="runner",
                    event_type="signal_rejected",
                    data={"signal_id": message.signal_id, "reason": f"executor unreachable: {exc}"},
                    timestamp=wall_ms(),
                )
                loop.call_soon(runner.on_event, refusal)
        else:
            runtime.count("signals_sent" if isinstance(message, Signal) else "commands_sent")

    # Signals leave in short bursts while a burst of market data is handled (polybot/runner/outbox).
    outbox: Outbox[Signal | Command] = Outbox(send)
    runner = StrategyRunner(
        logbook=logbook, send_signal=outbox.put, send_command=outbox.put, publish=publisher.publish
    )
    handler = StrategyLogHandler(logbook, runner.runs)
    logging.getLogger("polybot.strategy").addHandler(handler)

    snapshots = Requester(bus.snapshots_req, options=options)
    recovery = SnapshotRecovery(snapshots, runner, count=runtime.count)

    def on_event(message: Message) -> None:
        runtime.count("events_received")
        runner.on_event(message)

    def on_price(message: Message) -> None:
        outbox.hold()
        runtime.count("market_messages")
        recovery.observe(message)
        runner.on_market_data(message)
        outbox.handled()

    prices = AsyncSubscriber(
        bus.prices_pub,
        on_gap=recovery.on_gap,
        callback=on_price,
        on_drained=outbox.release,
        options=options,
    )
    events = AsyncSubscriber(
        bus.events_pub,
        topics=[codec.subscription_prefix(t) for t in (OrderUpdate, Fill, Event)],
        callback=on_event,
        options=options,
    )
    endpoint = RunnerEndpoint(
        bus.strategy_logs_req, logbook.writer.cursor, runner.status, options=options
    )
    endpoint.start()
    known_markets = 0

    def read_config() -> tuple[list[Market], dict[str, InstanceSpec]]:
        # Runs in a worker thread: SQLite and file reads must not stall the strategies' loop.
        with sessions() as session:
            markets = load_markets(session, known=known_markets)
            wanted = wanted_instances(session, read_strategy_modes(settings.data_dir))
        return markets, wanted

    async def poll() -> None:
        nonlocal known_markets
        markets, wanted = await asyncio.to_thread(read_config)
        if markets:
            known_markets = len(markets)
            runner.add_markets(markets)
        runner.apply(wanted)
        for name, value in runner.counters.items():
            runtime.counters[name] = value

    await poll()
    runtime.ready(f"{len(runner.instances)} strategies; logs {settings.strategy_logs_path}")
    try:
        await _run(runtime, runner, poll)
    finally:
        prices.close()
        outbox.release()
        events.close()
        await recovery.close()
        snapshots.close()
        runner.stop_all()
        await endpoint.close()
        pusher.close()  # lingers so queued signals and cancels reach the executor
        publisher.close()
        logging.getLogger("polybot.strategy").removeHandler(handler)
        logbook.close()
        sql.dispose()


async def _run(
    runtime: ServiceRuntime, runner: StrategyRunner, poll: Callable[[], Awaitable[None]]
) -> None:
    next_poll = asyncio.get_running_loop().time() + POLL_S
    while not runtime.stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runtime.stopping.wait(), TICK_S)
        runner.tick()
        if asyncio.get_running_loop().time() >= next_poll:
            try:
                await poll()
            except Exception:
                # A transient SQLite/config problem must not stop the strategies already running.
                runtime.count("poll_errors")
                log.exception("config poll failed")
            next_poll = asyncio.get_running_loop().time() + POLL_S

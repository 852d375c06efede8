"""The scanner assembled: universe, feed, recording, dead letters and the snapshot endpoint.

``Scanner`` is what ``services/scanner`` runs; notebooks and tests can run it in-process too::

    async with Scanner(settings, ScannerConfig(), count=runtime.count) as scanner:
        ...  # serving until the block exits

Entering discovers the universe (and writes it to SQLite), opens the market sockets, starts the
REST fallback, the snapshot REP, the periodic universe refresh and the recording flusher.
Leaving stops them in reverse order, flushes the recording and closes every socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from typing import Any

from sqlalchemy import Engine

from polybot.bus.endpoints import Replier
from polybot.bus.ipc import SocketOptions
from polybot.bus.messages import MarketResolved
from polybot.bus.nng import Publisher
from polybot.config import Settings
from polybot.core.clock import Clock, WallClock
from polybot.core.errors import VenueError
from polybot.marketdata.config import ScannerConfig
from polybot.marketdata.deadletters import DeadLetters
from polybot.marketdata.feed import FeedConfig, MarketFeed
from polybot.marketdata.recording import FeedRecording
from polybot.marketdata.snapshots import SnapshotHandler
from polybot.marketdata.universe import Universe, UniverseLimits, mark_resolved
from polybot.recording import RecordStore
from polybot.storage.sqlite import make_engine
from polybot.venues.polymarket.clob import ClobClient
from polybot.venues.polymarket.gamma import GammaClient

log = logging.getLogger(__name__)

CountFn = Callable[[str, int], None]
COUNTER_SYNC_S = 1.0


class Scanner:
    """The whole scanner as one async context manager (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        config: ScannerConfig,
        *,
        count: CountFn | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self._count = count or (lambda _name, _amount: None)
        self._clock = clock or WallClock()
        self._stack = AsyncExitStack()
        self._tasks: list[asyncio.Task[None]] = []
        self._refresh_now = asyncio.Event()
        self.engine: Engine | None = None
        self.universe: Universe | None = None
        self.feed: MarketFeed | None = None
        self.recording: FeedRecording | None = None
        self.publisher: Publisher | None = None

    async def __aenter__(self) -> Scanner:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in reversed(self._tasks):
            task.cancel()
        for task in reversed(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._stack.aclose()

    async def _start(self) -> None:
        settings, config, stack = self.settings, self.config, self._stack
        options = SocketOptions.from_settings(settings.bus)
        engine = self.engine = make_engine(settings.sqlite_path)
        stack.callback(engine.dispose)
        publisher = self.publisher = stack.enter_context(
            Publisher(settings.bus.prices_pub, options=options)
        )
        gamma = GammaClient(settings.venue.url("gamma"))
        stack.push_async_callback(gamma.aclose)
        clob = ClobClient(settings.venue.url("clob"))
        stack.push_async_callback(clob.aclose)
        if config.record:
            store = RecordStore(config.recordings_dir(settings.data_dir))
            self.recording = FeedRecording(store, self._clock)
            await asyncio.to_thread(self.recording.warm_up)
            stack.push_async_callback(self.recording.flush)  # runs after the feed stopped
        limits = UniverseLimits(config.max_markets, config.max_tokens, config.tradable_only)
        universe = self.universe = Universe(gamma, engine, limits)
        dead_letters = DeadLetters(
            engine, service="scanner", publisher=publisher, count=self._count
        )
        feed = self.feed = MarketFeed(
            FeedConfig(
                ws_url=settings.venue.url("ws_market"),
                max_assets_per_socket=config.max_assets_per_socket,
                ping_interval_s=config.ping_interval_s,
                stale_after_s=config.stale_after_s,
                backoff_initial_s=config.backoff_initial_s,
                backoff_max_s=config.backoff_max_s,
                verify_hashes=config.verify_hashes,
                health_interval_s=config.health_interval_s,
                fallback_after_s=config.fallback_after_s,
                poll_interval_s=config.poll_interval_s,
            ),
            publisher=publisher,
            clob=clob,
            count=self._count,
            recording=self.recording,
            dead_letters=dead_letters,
            on_resolved=self._on_resolved,
            on_new_market=self._refresh_now.set,
            clock=self._clock,
        )
        change = await universe.refresh()
        self._count("universe_refreshes", 1)
        await self._record_markets()
        await feed.start(universe.token_ids)
        stack.push_async_callback(feed.stop)
        self._count("tokens_subscribed", len(change.added))
        replier = stack.enter_context(
            Replier(
                settings.bus.snapshots_req,
                SnapshotHandler(feed, markets=self.markets),
                options=options,
            )
        )
        self._spawn(replier.aserve(), "snapshots")
        self._spawn(self._refresh_forever(), "universe-refresh")
        self._spawn(self._sync_counters_forever(), "counters")
        if self.recording is not None:
            self._spawn(self.recording.flush_forever(config.record_flush_interval_s), "recording")

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coroutine, name=f"scanner-{name}"))

    def markets(self) -> dict[str, list[str]]:
        """Return the tracked markets and their token ids."""
        if self.universe is None:
            return {}
        return {cid: list(m.asset_ids) for cid, m in self.universe.markets.items()}

    async def refresh(self) -> None:
        """Refresh the universe now and (un)subscribe what changed."""
        assert self.universe is not None
        assert self.feed is not None
        change = await self.universe.refresh()
        self._count("universe_refreshes", 1)
        if change.removed:
            await self.feed.unsubscribe(change.removed)
        if change.added:
            await self.feed.subscribe(change.added)
            self._count("tokens_subscribed", len(change.added))
        await self._record_markets()

    async def _record_markets(self) -> None:
        if self.recording is not None and self.universe is not None:
            await asyncio.to_thread(
                self.recording.add_markets, list(self.universe.markets.values())
            )

    async def _refresh_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._refresh_now.wait(), self.config.refresh_interval_s)
            self._refresh_now.clear()
            try:
                await self.refresh()
            except VenueError as exc:
                # Keep streaming the universe we have; the next refresh tries again.
                self._count("universe_refresh_errors", 1)
                log.warning("universe refresh failed: %s", exc)

    async def _sync_counters_forever(self) -> None:
        while True:
            await asyncio.sleep(COUNTER_SYNC_S)
            if self.feed is not None:
                self.feed.sync_counters()

    def _on_resolved(self, message: MarketResolved) -> None:
        assert self.universe is not None
        if message.market_id not in self.universe.markets:
            return
        tokens = self.universe.drop_market(message.market_id)
        # After this frame: unsubscribing inside the stream's own callback would reenter it, and
        # the SQLite write must not hold up the frames behind this one.
        self._spawn(
            self._retire(message.market_id, message.winning_token_id, tokens),
            f"resolved-{message.market_id[:10]}",
        )

    async def _retire(self, market_id: str, winning_token_id: str, tokens: tuple[str, ...]) -> None:
        assert self.engine is not None
        await asyncio.to_thread(mark_resolved, self.engine, market_id, winning_token_id)
        if tokens and self.feed is not None:
            await self.feed.unsubscribe(list(tokens))

"""Market-channel client: sharded, self-healing WebSocket feed of exact local books.

:class:`ChannelConnection` is one reconnecting socket (first frame, text ``PING``, stale detection,
exponential backoff with jitter); the user channel reuses it. :class:`MarketStream` shards tokens
over several connections, keeps a :class:`~polybot.venues.polymarket.book.LocalBook` per token and
delivers bus messages to a callback or an async iterator. See docs/book-sync.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from polybot.bus import messages as bus
from polybot.core.clock import Clock, WallClock
from polybot.core.errors import VenueError
from polybot.venues.polymarket import ws_parse as wp
from polybot.venues.polymarket.book import ApplyResult, BookState, LocalBook
from polybot.venues.polymarket.contracts import WS_MARKET_URL

log = logging.getLogger(__name__)

MarketOutput = (
    bus.BookSnapshot
    | bus.BookDelta
    | bus.Price
    | bus.Trade
    | bus.TickSizeChange
    | bus.MarketResolved
    | bus.FeedHealth
    | wp.BestBidAskMsg
    | wp.NewMarketMsg
    | wp.UnknownEvent
)
ResnapshotFn = Callable[[str, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    """Keep-alive and reconnect policy of one socket."""

    url: str
    ping_interval_s: float = 10.0  # text PING cadence (reference §4.1)
    stale_after_s: float = 30.0  # no frame (PONG included) for this long → reconnect
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    backoff_jitter: float = 0.5  # each delay is cut by up to this fraction, at random
    open_timeout_s: float = 10.0


class Backoff:
    """Exponential backoff with jitter; reset after a connection that delivered data."""

    def __init__(self, initial: float, maximum: float, jitter: float, rng: random.Random) -> None:
        self.initial, self.maximum, self.jitter, self._rng = initial, maximum, jitter, rng
        self.attempt = 0

    def next_delay(self) -> float:
        """Return the next delay and move one step up."""
        base = min(self.maximum, self.initial * (1 << min(self.attempt, 30)))
        self.attempt += 1
        return base * (1 - self.jitter * self._rng.random())

    def reset(self) -> None:
        """Start again from ``initial``."""
        self.attempt = 0


FrameHandler = Callable[[str], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]
DisconnectHook = Callable[[str], Awaitable[None]]


class ChannelConnection:
    """One WebSocket that keeps itself alive: reconnects, re-sends its first frame, pings."""

    def __init__(
        self,
        config: ConnectionConfig,
        *,
        first_frame: Callable[[], Mapping[str, Any]],
        on_frame: FrameHandler,
        on_connect: Hook | None = None,
        on_disconnect: DisconnectHook | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._first_frame, self._on_frame = first_frame, on_frame
        self._on_connect, self._on_disconnect = on_connect, on_disconnect
        self._backoff = Backoff(
            config.backoff_initial_s,
            config.backoff_max_s,
            config.backoff_jitter,
            rng or random.Random(),
        )
        self._ws: ClientConnection | None = None
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.connects = 0
        self.disconnects = 0
        self.stale_disconnects = 0
        self.pongs = 0
        self.last_error = ""
        self._last_rx = 0.0
        self._stale = False
        self.frame_errors = 0

    @property
    def running(self) -> bool:
        """Return True while the connect/read loop is alive (connected or backing off)."""
        return self._task is not None

    def start(self) -> None:
        """Start the connect/read loop in the background."""
        if self._task is None:
            self._closing.clear()
            self._task = asyncio.create_task(self._run(), name=f"ws:{self.config.url}")

    async def stop(self) -> None:
        """Close for good and wait for the loop to finish."""
        self._closing.set()
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def send_json(self, payload: Mapping[str, Any]) -> bool:
        """Send one JSON frame now; False when not connected (the first frame will cover it)."""
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(json.dumps(payload))
        except WebSocketException:
            return False
        return True

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closing.is_set():
            reason = "closed by server"
            try:
                async with connect(
                    self.config.url,
                    ping_interval=None,
                    open_timeout=self.config.open_timeout_s,
                    close_timeout=1,
                    max_size=None,
                ) as ws:
                    await ws.send(json.dumps(self._first_frame()))
                    self._ws, self._last_rx = ws, loop.time()
                    self.connects += 1
                    if self._on_connect is not None:
                        await self._on_connect()
                    self.connected.set()
                    reason = await self._read(ws)
            except (OSError, TimeoutError, WebSocketException) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            self._ws = None
            self.connected.clear()
            if self._closing.is_set():
                return
            self.disconnects += 1
            self.last_error = reason
            log.info("ws %s disconnected: %s", self.config.url, reason)
            if self._on_disconnect is not None:
                await self._on_disconnect(reason)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self._backoff.next_delay())

    async def _read(self, ws: ClientConnection) -> str:
        keepalive = asyncio.create_task(self._keepalive(ws))
        loop = asyncio.get_running_loop()
        try:
            async for message in ws:
                self._last_rx = loop.time()
                text = message if isinstance(message, str) else message.decode()
                if text == "PONG":
                    self.pongs += 1
                    continue
                self._backoff.reset()  # this connection works: next failure starts small again
                try:
                    await self._on_frame(text)
                except Exception:
                    # One poisoned frame must not end the read loop; it is logged with a trace.
                    self.frame_errors += 1
                    log.exception("ws frame handler failed")
        finally:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive
        return "stale" if self._stale else "closed by server"

    async def _keepalive(self, ws: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        self._stale = False
        tick = min(self.config.ping_interval_s, self.config.stale_after_s) / 2
        next_ping = loop.time()
        while True:
            now = loop.time()
            if now - self._last_rx > self.config.stale_after_s:
                self._stale = True
                self.stale_disconnects += 1
                await ws.close()  # ends the read loop, which then reconnects
                return
            if now >= next_ping:
                with contextlib.suppress(WebSocketException):
                    await ws.send("PING")
                next_ping = now + self.config.ping_interval_s
            await asyncio.sleep(tick)


@dataclass(frozen=True, slots=True)
class MarketStreamConfig:
    """Everything a :class:`MarketStream` can be tuned with."""

    url: str = WS_MARKET_URL
    max_assets_per_socket: int = 200
    custom_feature_enabled: bool = True
    ping_interval_s: float = 10.0
    stale_after_s: float = 30.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    backoff_jitter: float = 0.5
    verify_hashes: bool = True
    match_settle_s: float = 5.0  # a deferred (mid-match) entry unconfirmed this long = mismatch
    health_interval_s: float = 5.0  # FeedHealth cadence; 0 disables
    queue_size: int = 100_000

    def connection(self) -> ConnectionConfig:
        """Return the per-socket part."""
        return ConnectionConfig(
            self.url,
            self.ping_interval_s,
            self.stale_after_s,
            self.backoff_initial_s,
            self.backoff_max_s,
            self.backoff_jitter,
        )


@dataclass(slots=True)
class TokenFeed:
    """Per-token sync state: the book plus health counters."""

    book: LocalBook
    shard: int
    last_update_ms: int = 0
    gaps: int = 0  # continuity breaks: the socket dropped or went stale
    resnapshots: int = 0  # snapshots requested after a mismatch, tick change or unsettled match


class _Shard:
    def __init__(self, stream: MarketStream, index: int) -> None:
        self.index, self.assets = index, set[str]()
        self.conn = ChannelConnection(
            stream.config.connection(),
            first_frame=lambda: {
                "type": "market",
                "assets_ids": sorted(self.assets),
                "custom_feature_enabled": stream.config.custom_feature_enabled,
            },
            on_frame=stream._on_frame,
            on_disconnect=lambda reason: stream._on_shard_lost(self, reason),
            rng=stream._rng,
        )


_STOP = object()


class MarketStream:
    """Live books for many tokens over sharded market-channel sockets.

    Use as ``async with MarketStream(ids) as s: async for msg in s: ...`` or pass ``on_event``.
    ``on_resnapshot(token, reason)`` lets the owner fetch REST ``/book`` and hand it to
    :meth:`apply_rest_book`; without it the token is re-subscribed, which makes the server send a
    fresh ``book``.
    """

    def __init__(
        self,
        asset_ids: Iterable[str] = (),
        config: MarketStreamConfig | None = None,
        *,
        on_event: Callable[[MarketOutput], Awaitable[None] | None] | None = None,
        on_resnapshot: ResnapshotFn | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config or MarketStreamConfig()
        self._on_event, self._on_resnapshot = on_event, on_resnapshot
        self._clock = clock or WallClock()
        self._rng = rng or random.Random()
        self._initial = list(dict.fromkeys(asset_ids))
        self.feeds: dict[str, TokenFeed] = {}
        self.shards: list[_Shard] = []
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._house: asyncio.Task[None] | None = None
        self.dropped_events = 0
        self.parse_errors = 0

    async def __aenter__(self) -> MarketStream:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __aiter__(self) -> AsyncIterator[MarketOutput]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[MarketOutput]:
        while (item := await self._queue.get()) is not _STOP:
            yield item  # type: ignore[misc]

    async def start(self) -> None:
        """Open the sockets for the initial tokens and start housekeeping."""
        await self.subscribe(self._initial)
        self._house = asyncio.create_task(self._housekeeping())

    async def stop(self) -> None:
        """Close every socket and end the async iterator."""
        if self._house is not None:
            self._house.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._house
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(shard.conn.stop() for shard in self.shards))
        self._queue.put_nowait(_STOP)

    # -- subscriptions ---------------------------------------------------------------------------

    async def subscribe(self, asset_ids: Iterable[str]) -> None:
        """Add tokens, filling shards up to ``max_assets_per_socket`` before opening a new one."""
        added: dict[int, list[str]] = {}
        for asset in asset_ids:
            if asset in self.feeds:
                continue
            shard = next(
                (s for s in self.shards if len(s.assets) < self.config.max_assets_per_socket),
                None,
            )
            if shard is None:
                shard = _Shard(self, len(self.shards))
                self.shards.append(shard)
            shard.assets.add(asset)
            self.feeds[asset] = TokenFeed(
                LocalBook(asset, verify=self.config.verify_hashes),
                shard.index,
            )
            added.setdefault(shard.index, []).append(asset)
        for index, assets in added.items():
            shard = self.shards[index]
            if not shard.conn.running:
                shard.conn.start()  # its first frame lists the assets
            else:
                await shard.conn.send_json(self._op("subscribe", assets))

    async def unsubscribe(self, asset_ids: Iterable[str]) -> None:
        """Drop tokens and their books; a shard left empty closes its socket."""
        removed: dict[int, list[str]] = {}
        for asset in asset_ids:
            feed = self.feeds.pop(asset, None)
            if feed is not None:
                self.shards[feed.shard].assets.discard(asset)
                removed.setdefault(feed.shard, []).append(asset)
        for index, assets in removed.items():
            shard = self.shards[index]
            if shard.assets:
                await shard.conn.send_json({"operation": "unsubscribe", "assets_ids": assets})
            else:
                await shard.conn.stop()

    def _op(self, operation: str, assets: list[str]) -> dict[str, Any]:
        return {
            "operation": operation,
            "assets_ids": assets,
            "custom_feature_enabled": self.config.custom_feature_enabled,
        }

    # -- reading state ---------------------------------------------------------------------------

    def book(self, asset_id: str) -> LocalBook | None:
        """Return the token's book when it is usable (synced or mid-match), else None."""
        feed = self.feeds.get(asset_id)
        return feed.book if feed is not None and feed.book.usable else None

    def health(self, asset_id: str) -> bus.FeedHealth:
        """Return the token's feed health now."""
        feed = self.feeds[asset_id]
        now = self._clock.now_ms()
        return bus.FeedHealth(
            market_id=feed.book.market or "?",
            token_id=asset_id,
            age_ms=now - feed.last_update_ms if feed.last_update_ms else -1,
            gaps=feed.gaps,
            hash_mismatches=feed.book.counters.hash_mismatches,
            resnapshots=feed.resnapshots,
            timestamp=now,
        )

    # -- resnapshots -----------------------------------------------------------------------------

    def apply_rest_book(self, payload: Mapping[str, Any]) -> None:
        """Install a REST ``/book`` body (e.g. fetched from ``on_resnapshot``) as the snapshot."""
        self._handle_book(wp.parse_book(payload))

    async def resnapshot(self, asset_id: str, reason: str) -> None:
        """Ask for a fresh snapshot: the owner's callback, or unsubscribe + subscribe."""
        feed = self.feeds.get(asset_id)
        if feed is None:
            return
        feed.resnapshots += 1
        if self._on_resnapshot is not None:
            await self._on_resnapshot(asset_id, reason)
            return
        conn = self.shards[feed.shard].conn
        await conn.send_json({"operation": "unsubscribe", "assets_ids": [asset_id]})
        await conn.send_json(self._op("subscribe", [asset_id]))

    def _after(self, asset_id: str, result: ApplyResult) -> None:
        if result.resnapshot is not None:
            task = asyncio.create_task(self.resnapshot(asset_id, result.resnapshot))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # -- frames ----------------------------------------------------------------------------------

    async def _on_frame(self, text: str) -> None:
        try:
            items = wp.split_frame(text)
        except VenueError as exc:
            self.parse_errors += 1
            log.warning("unparseable market frame: %s", exc)
            return
        for raw in items:
            try:
                event = wp.parse_market_message(raw)
            except VenueError as exc:
                self.parse_errors += 1
                log.warning("bad market message: %s", exc)
                continue
            for out in self._handle(event):
                await self._emit(out)

    def _handle(self, event: object) -> list[MarketOutput]:
        if isinstance(event, wp.BookMsg):
            return self._handle_book(event)
        if isinstance(event, wp.PriceChangeMsg):
            return self._handle_price_change(event)
        if isinstance(event, wp.LastTradePriceMsg):
            # Both tokens' hashes carry the same last_trade_price string (2026-09-29 capture).
            for other in self.feeds.values():
                if other.book.market == event.market or other.book.asset_id == event.asset_id:
                    other.book.apply_last_trade(str(event.price))
            self._touch(event.asset_id)
            return [wp.last_trade_to_bus(event)]
        if isinstance(event, wp.TickSizeChangeMsg):
            feed = self._touch(event.asset_id)
            if feed is not None:
                self._after(event.asset_id, feed.book.apply_tick_size_change(event))
            return [wp.tick_size_to_bus(event)]
        if isinstance(event, wp.MarketResolvedMsg):
            return [wp.resolved_to_bus(event)]
        if isinstance(event, wp.BestBidAskMsg | wp.NewMarketMsg | wp.UnknownEvent):
            return [event]
        return []

    def _touch(self, asset_id: str) -> TokenFeed | None:
        feed = self.feeds.get(asset_id)
        if feed is not None:
            feed.last_update_ms = self._clock.now_ms()
        return feed

    def _handle_book(self, msg: wp.BookMsg) -> list[MarketOutput]:
        feed = self._touch(msg.asset_id)
        if feed is None:
            return []
        result = feed.book.apply_book(msg)
        out: list[MarketOutput] = [feed.book.to_snapshot()]
        if result.top_changed:
            out.extend(feed.book.to_prices(int(msg.timestamp or 0)))
        return out

    def _handle_price_change(self, msg: wp.PriceChangeMsg) -> list[MarketOutput]:
        by_asset: dict[str, list[wp.PriceChangeEntry]] = {}
        for entry in msg.entries:
            by_asset.setdefault(entry.asset_id, []).append(entry)
        out: list[MarketOutput] = []
        ts = int(msg.timestamp or 0)
        for asset, entries in by_asset.items():
            feed = self._touch(asset)
            if feed is None:
                continue
            book = feed.book
            result = book.apply_price_change(msg.timestamp, entries)
            self._after(asset, result)
            if not (result.applied and book.usable):
                continue
            out.append(book.to_delta(ts, entries, market=msg.market))
            if result.top_changed:
                out.extend(book.to_prices(ts))
        return out

    async def _emit(self, out: MarketOutput) -> None:
        if self._on_event is not None:
            try:
                result = self._on_event(out)
                if result is not None and inspect.isawaitable(result):
                    await result
            except Exception:
                # A consumer bug must not take the feed down; it is logged with its traceback.
                log.exception("market stream callback failed")
            return
        if self._queue.qsize() >= self.config.queue_size:
            self._queue.get_nowait()  # a slow consumer loses the oldest, never the newest
            self.dropped_events += 1
        self._queue.put_nowait(out)

    async def _on_shard_lost(self, shard: _Shard, reason: str) -> None:
        for asset in shard.assets:
            feed = self.feeds.get(asset)
            if feed is not None:
                feed.book.reset()  # the resubscribe on reconnect brings a fresh `book`
                feed.gaps += 1

    async def _housekeeping(self) -> None:
        tick = min(1.0, self.config.match_settle_s / 2)
        next_health = 0.0
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(tick)
            now_ms = self._clock.now_ms()
            for asset, feed in list(self.feeds.items()):
                late = now_ms - feed.last_update_ms > self.config.match_settle_s * 1000
                if feed.book.state == BookState.PENDING and late:
                    self._after(asset, feed.book.settle_pending())
            if self.config.health_interval_s > 0 and loop.time() >= next_health:
                next_health = loop.time() + self.config.health_interval_s
                self._batch_started()
                try:
                    for asset in list(self.feeds):
                        await self._emit(self.health(asset))
                finally:
                    self._batch_done()

    def _batch_started(self) -> None:
        """Many messages follow at once (a subclass may send them as one burst)."""

    def _batch_done(self) -> None:
        """The messages announced by ``_batch_started`` have all been emitted."""

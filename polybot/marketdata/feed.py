"""The scanner's feed: verified books for every tracked token, published on the price bus.

* ``ScannerStream`` (sharded market-channel sockets, PING, stale detection, reconnect and
  resubscribe) keeps one hash-verified ``LocalBook`` per token.
* Every message it produces is published on ``prices.pub``: the seed's ``price`` on each
  top-of-book change (per frame, see below), ``book`` snapshots, ``book_delta``, ``trade``, ``tick_size_change``,
  ``market_resolved`` and periodic ``feed_health`` per token.
* A book that needs a resnapshot (hash mismatch, tick change, unsettled match) is fetched over
  REST ``/book`` and installed; if REST fails the token is resubscribed on its socket instead.
* While a shard's socket is down (longer than ``fallback_after_s``) its tokens are polled over
  REST ``/books`` every ``poll_interval_s`` so prices keep flowing; the socket's own reconnect
  brings streaming back, and polling stops by itself.
* Every frame is recorded raw and every published message normalized, with its receive time.

One frame, one state: the messages a frame makes are held while it is handled and published
when it is done, conflated per token (``polybot.marketdata.conflate``): one net ``book_delta`` and
at most one ``price`` per token and frame. The recording keeps what was published (and the raw
frames), so a replay feeds strategies exactly what the live bus did.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import msgspec

from polybot.bus.messages import (
    BookDelta,
    BookSnapshot,
    FeedHealth,
    Level,
    MarketResolved,
    Message,
    Price,
    TickSizeChange,
    Trade,
)
from polybot.bus.nng import Publisher
from polybot.core.clock import Clock, WallClock
from polybot.core.errors import BusError, VenueError
from polybot.marketdata.conflate import conflate
from polybot.marketdata.deadletters import DeadLetters
from polybot.marketdata.recording import FeedRecording
from polybot.marketdata.stream import ScannerStream
from polybot.venues.polymarket import ws_parse as wp
from polybot.venues.polymarket.clob import MAX_BOOKS_PER_REQUEST, ClobClient
from polybot.venues.polymarket.orders import compact_json
from polybot.venues.polymarket.ws_market import MarketOutput, MarketStreamConfig

log = logging.getLogger(__name__)

CountFn = Callable[[str, int], None]
_COUNTER_OF: dict[type[Message], str] = {
    Price: "prices_published",
    BookSnapshot: "books_published",
    BookDelta: "deltas_published",
    Trade: "trades_published",
    TickSizeChange: "tick_changes_published",
    MarketResolved: "resolutions_published",
    FeedHealth: "health_published",
}


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """Timing of the feed (the scanner builds it from ``ScannerConfig``)."""

    ws_url: str
    max_assets_per_socket: int = 200
    ping_interval_s: float = 10.0
    stale_after_s: float = 30.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    verify_hashes: bool = True
    health_interval_s: float = 10.0
    fallback_after_s: float = 2.0
    poll_interval_s: float = 2.0

    def stream(self) -> MarketStreamConfig:
        """Return the ``MarketStream`` part."""
        return MarketStreamConfig(
            url=self.ws_url,
            max_assets_per_socket=self.max_assets_per_socket,
            ping_interval_s=self.ping_interval_s,
            stale_after_s=self.stale_after_s,
            backoff_initial_s=self.backoff_initial_s,
            backoff_max_s=self.backoff_max_s,
            verify_hashes=self.verify_hashes,
            health_interval_s=self.health_interval_s,
        )


class MarketFeed:
    """Books and prices for a set of tokens, published as they change (see module docstring)."""

    def __init__(
        self,
        config: FeedConfig,
        *,
        publisher: Publisher,
        clob: ClobClient,
        count: CountFn | None = None,
        recording: FeedRecording | None = None,
        dead_letters: DeadLetters | None = None,
        on_resolved: Callable[[MarketResolved], None] | None = None,
        on_new_market: Callable[[], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.publisher = publisher
        self.clob = clob
        self._count = count or (lambda _name, _amount: None)
        self.recording = recording
        self.dead_letters = dead_letters
        self._on_resolved = on_resolved
        self._on_new_market = on_new_market
        self.stream = ScannerStream(
            config=config.stream(),
            on_event=self._on_event,
            on_resnapshot=self._resnapshot,
            clock=clock or WallClock(),
            on_raw=self._on_raw,
            on_bad=self._on_bad,
            on_frame_done=self._on_frame_done,
            ignore=(wp.BestBidAskMsg,),  # prices come from the verified book (see _on_event)
        )
        self._held: list[Message] = []  # messages of the frame being handled, not sent yet
        self.latest: dict[str, Price] = {}
        self._last_levels: dict[str, tuple[list[Level], list[Level]]] = {}
        self._down_since: dict[int, float] = {}
        self._poll_task: asyncio.Task[None] | None = None
        self._totals: dict[str, int] = {}
        self.polls = 0

    # -- life cycle ------------------------------------------------------------------------------

    async def start(self, token_ids: Iterable[str]) -> None:
        """Open the sockets for ``token_ids`` and start the REST fallback watcher."""
        await self.stream.start()
        await self.stream.subscribe(token_ids)
        self._poll_task = asyncio.create_task(self._fallback_forever(), name="feed-fallback")

    async def stop(self) -> None:
        """Close every socket and stop polling."""
        if self._poll_task is not None:
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll_task
        await self.stream.stop()

    async def subscribe(self, token_ids: Sequence[str]) -> None:
        """Start following more tokens."""
        await self.stream.subscribe(token_ids)

    async def unsubscribe(self, token_ids: Sequence[str]) -> None:
        """Stop following tokens and forget their books."""
        await self.stream.unsubscribe(token_ids)
        for token in token_ids:
            self.latest.pop(token, None)
            self._last_levels.pop(token, None)

    # -- reading ---------------------------------------------------------------------------------

    @property
    def token_ids(self) -> list[str]:
        """Return the tokens followed now."""
        return list(self.stream.feeds)

    def snapshots(
        self, token_ids: Iterable[str] | None = None
    ) -> tuple[list[BookSnapshot], list[str]]:
        """Return ``(books, missing)``: usable books of the tokens (all when None) and the rest."""
        wanted = self.token_ids if token_ids is None else list(token_ids)
        books: list[BookSnapshot] = []
        missing: list[str] = []
        for token in wanted:
            book = self.stream.book(token)
            if book is None:
                missing.append(token)
            else:
                books.append(book.to_snapshot())
        return books, missing

    def health(self) -> list[FeedHealth]:
        """Return the feed health of every followed token."""
        return [self.stream.health(token) for token in self.stream.feeds]

    # -- messages out ----------------------------------------------------------------------------

    def _on_event(self, out: MarketOutput) -> None:
        if type(out) is BookDelta:  # most messages: straight through
            self._publish(out)
            return
        if isinstance(out, wp.NewMarketMsg):
            self._count("new_market_events", 1)
            if self._on_new_market is not None:
                self._on_new_market()
            return
        if isinstance(out, wp.BestBidAskMsg | wp.UnknownEvent):
            return  # prices come from the verified book; unknown events are in the raw recording
        if isinstance(out, BookSnapshot):
            levels = (out.bids, out.asks)
            if self._last_levels.get(out.token_id) == levels and self._polling(out.token_id):
                return  # a poll of an unchanged book: nothing new to say
            self._last_levels[out.token_id] = levels
        elif isinstance(out, MarketResolved) and self._on_resolved is not None:
            self._on_resolved(out)
        self._publish(out)

    def _publish(self, message: Message) -> None:
        if self.stream.in_frame:
            self._held.append(message)  # published, conflated, when the frame is done
            return
        if self._held:
            self._send_held()
        self._send(message)

    def _on_frame_done(self) -> None:
        if self._held:
            self._send_held()

    def _send_held(self) -> None:
        held, self._held = self._held, []
        messages, merged = conflate(held, self.latest)
        if merged:
            self._count("messages_conflated", merged)
        for message in messages:
            self._send(message)

    def _send(self, message: Message) -> None:
        if type(message) is Price:
            assert isinstance(message, Price)
            self.latest[message.token_id] = message
        if self.recording is not None:
            self.recording.message(message, self.stream.received_ns)
        try:
            self.publisher.publish(message)
        except BusError:
            self._count("publish_errors", 1)
            log.exception("could not publish a %s", type(message).__name__)
            return
        self._count(_COUNTER_OF.get(type(message), "other_published"), 1)

    def _on_raw(self, text: str, received_ns: int) -> None:
        self._count("ws_frames", 1)
        if self.recording is not None:
            self.recording.raw("ws.market", text, received_ns)

    def _on_bad(self, payload: str, reason: str) -> None:
        self._count("ws_parse_errors", 1)
        if self._held:
            self._send_held()  # the dead letter is published directly: keep the frame's order
        if self.dead_letters is not None:
            self.dead_letters.record(payload.encode(), reason, origin="ws.market")

    # -- REST: resnapshots and the fallback ------------------------------------------------------

    async def _resnapshot(self, token: str, reason: str) -> None:
        self._count("resnapshots", 1)
        try:
            await self.poll_books([token], source="rest.book")
        except VenueError as exc:
            log.warning("REST resnapshot of %s failed (%s); resubscribing instead", token, exc)
            await self.stream.resubscribe(token)

    async def poll_books(self, tokens: Sequence[str], *, source: str = "rest.books") -> int:
        """Fetch ``tokens``' books over REST, install and publish them; return how many."""
        installed = 0
        for start in range(0, len(tokens), MAX_BOOKS_PER_REQUEST):
            chunk = tokens[start : start + MAX_BOOKS_PER_REQUEST]
            body = compact_json([{"token_id": t} for t in chunk])
            response = await self.clob.http.send("POST", "/books", body=body, idempotent=True)
            received_ns = self.stream.now_ns()
            if self.recording is not None:
                self.recording.raw(source, response.content, received_ns)
            try:
                payloads = json.loads(response.content)
            except ValueError as exc:
                raise VenueError(f"/books answered something other than JSON: {exc}") from None
            if not isinstance(payloads, list):
                raise VenueError("/books answered something other than a list", body=payloads)
            for payload in payloads:
                installed += self._install(payload, received_ns)
        self._count("rest_books", installed)
        return installed

    def _install(self, payload: object, received_ns: int) -> int:
        try:
            if not isinstance(payload, dict):
                raise VenueError("a /books item is not an object")
            outputs = self.stream.install_rest_book(payload, received_ns)
        except (VenueError, KeyError, TypeError, ValueError) as exc:
            if self.dead_letters is not None:
                raw = msgspec.json.encode(payload)
                self.dead_letters.record(raw, f"bad REST book: {exc}", origin="rest.books")
            return 0
        for out in outputs:
            self._on_event(out)
        return 1

    def _polling(self, token: str) -> bool:
        feed = self.stream.feeds.get(token)
        return feed is not None and feed.shard in self._down_since

    async def _fallback_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.config.poll_interval_s)
            now = loop.time()
            due: list[str] = []
            for shard in self.stream.shards:
                if not shard.assets or shard.conn.connected.is_set():
                    self._down_since.pop(shard.index, None)
                    continue
                since = self._down_since.setdefault(shard.index, now)
                if now - since >= self.config.fallback_after_s:
                    due.extend(sorted(shard.assets))
            if due:
                self.polls += 1
                self._count("rest_polls", 1)
                try:
                    await self.poll_books(due)
                except VenueError as exc:
                    self._count("rest_poll_errors", 1)
                    log.warning("REST fallback poll of %d tokens failed: %s", len(due), exc)

    # -- counters --------------------------------------------------------------------------------

    def sync_counters(self) -> None:
        """Add the growth of the stream's running totals to the service counters."""
        feeds = list(self.stream.feeds.values())
        totals = {
            "ws_connects": sum(s.conn.connects for s in self.stream.shards),
            "ws_disconnects": sum(s.conn.disconnects for s in self.stream.shards),
            "ws_stale_disconnects": sum(s.conn.stale_disconnects for s in self.stream.shards),
            "feed_gaps": sum(f.gaps for f in feeds),
            "hash_mismatches": sum(f.book.counters.hash_mismatches for f in feeds),
            "hashes_matched": sum(
                f.book.counters.matched + f.book.counters.inferred_ltp for f in feeds
            ),
            "unknown_ws_events": self.stream.unknown_events,
        }
        for name, total in totals.items():
            grown = total - self._totals.get(name, 0)
            if grown > 0:
                self._count(name, grown)
            # A dropped token takes its totals with it: restart from the lower total, never
            # counting backwards.
            self._totals[name] = total

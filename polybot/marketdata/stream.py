"""The scanner's market stream: ``MarketStream`` plus raw-frame capture and dead-lettering.

``MarketStream`` parses frames and keeps verified books, but it only logs a frame it cannot
parse. The scanner must keep every frame (the recording is for replay) and dead-letter the ones
it cannot parse, so this subclass takes over the per-frame entry point: it hands the frame text
and its receive time to ``on_raw`` first, then parses item by item, sending each failure to
``on_bad`` with the reason, and feeds the rest to the stream's normal handling.

It also lets the owner install REST ``/book`` payloads *and get the resulting messages back*
(``MarketStream.apply_rest_book`` discards them), which the polling fallback and resnapshots need.

Events of the types in ``ignore`` are parsed (so a malformed one is still dead-lettered) and then
dropped: the feed has no use for ``best_bid_ask`` (prices come from the verified book), and they
are about as many as the book changes. The raw frame keeps them.

While a frame is being handled ``in_frame`` is True, and ``on_frame_done()`` follows its last
item (also when handling fails). The periodic feed-health round (one message per token) is
handled the same way, as one batch. The feed holds a frame's bus messages and publishes them
conflated when it is done (see ``feed.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from polybot.core.errors import VenueError
from polybot.venues.polymarket import ws_parse as wp
from polybot.venues.polymarket.ws_market import MarketOutput, MarketStream

RawHook = Callable[[str, int], None]  # (frame text, receive time ns)
BadHook = Callable[[str, str], None]  # (payload text, reason)
FrameDoneHook = Callable[[], None]


class ScannerStream(MarketStream):
    """A ``MarketStream`` that reports raw frames and unparseable items (see module docstring).

    ``received_ns`` is the receive time of the frame being handled, so the ``on_event`` callback
    can stamp normalized messages with the time their frame arrived.
    """

    def __init__(
        self,
        *args: Any,
        on_raw: RawHook | None = None,
        on_bad: BadHook | None = None,
        on_frame_done: FrameDoneHook | None = None,
        ignore: tuple[type, ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._on_raw = on_raw
        self._on_bad = on_bad
        self._on_frame_done = on_frame_done
        self._ignore = ignore
        self.in_frame = False
        self.received_ns = 0
        self.frames = 0
        self.unknown_events = 0

    async def _on_frame(self, text: str) -> None:
        self.received_ns = self._clock.now_ns()
        self.frames += 1
        self._batch_started()
        try:
            await self._handle_frame(text)
        finally:
            self._batch_done()

    def _batch_started(self) -> None:
        self.in_frame = True

    def _batch_done(self) -> None:
        self.in_frame = False
        if self._on_frame_done is not None:
            self._on_frame_done()

    async def _handle_frame(self, text: str) -> None:
        if self._on_raw is not None:
            self._on_raw(text, self.received_ns)
        try:
            items = wp.split_frame(text)
        except VenueError as exc:
            self._reject(text, str(exc))
            return
        for raw in items:
            try:
                event = wp.parse_market_message(raw)
            except VenueError as exc:
                self._reject(json.dumps(raw, separators=(",", ":")), str(exc))
                continue
            if isinstance(event, self._ignore):
                continue  # parsed (a malformed one is dead-lettered), but nobody wants it
            if isinstance(event, wp.UnknownEvent):
                self.unknown_events += 1
            for out in self._handle(event):
                await self._emit(out)

    def install_rest_book(self, payload: Mapping[str, Any], received_ns: int) -> list[MarketOutput]:
        """Install a REST ``/book`` body as the token's snapshot; return the messages it makes.

        Raises ``VenueError`` when the payload is not a book.
        """
        self.received_ns = received_ns
        return self._handle_book(wp.parse_book(payload))

    def now_ns(self) -> int:
        """Return the stream clock's time (receive times of REST answers use it too)."""
        return self._clock.now_ns()

    async def resubscribe(self, asset_id: str) -> None:
        """Unsubscribe and subscribe ``asset_id`` again: the server answers with a fresh book."""
        feed = self.feeds.get(asset_id)
        if feed is None:
            return
        conn = self.shards[feed.shard].conn
        await conn.send_json({"operation": "unsubscribe", "assets_ids": [asset_id]})
        await conn.send_json(self._op("subscribe", [asset_id]))

    def _reject(self, payload: str, reason: str) -> None:
        self.parse_errors += 1
        if self._on_bad is not None:
            self._on_bad(payload, reason)

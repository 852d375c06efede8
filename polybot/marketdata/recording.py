"""The scanner's recording hook: every market frame raw, every market message normalized.

Rows go to a ``polybot.recording.Recorder`` (Parquet partitions by day and market). Writing a
flush can take a while with many markets, so two recorders take turns: the feed keeps appending
to the active one on the event loop while the other is written out in a worker thread. A
recorder is never touched by two threads at once, and each flush only writes new immutable
files, so readers of the recording never see a partial one.
"""

from __future__ import annotations

import asyncio
import logging

from polybot.bus.messages import (
    BookDelta,
    BookSnapshot,
    MarketResolved,
    Message,
    TickSizeChange,
    Trade,
)
from polybot.core.clock import Clock
from polybot.model.market import Market
from polybot.recording import Recorder, RecordStore
from polybot.recording.recorder import warm_up as _load_arrow

log = logging.getLogger(__name__)

RECORDED_TYPES = (BookSnapshot, BookDelta, Trade, TickSizeChange, MarketResolved)


class FeedRecording:
    """Buffers raw frames and normalized messages; ``flush`` writes them without blocking."""

    def __init__(self, store: RecordStore, clock: Clock) -> None:
        self.store = store
        self._active = Recorder(store, clock)
        self._spare = Recorder(store, clock)
        self._lock = asyncio.Lock()  # one flush at a time; the spare must be empty to swap
        self.frames = 0
        self.messages = 0
        self.flushes = 0

    def raw(self, source: str, payload: str | bytes, ts_recv_ns: int, *, market: str = "") -> None:
        """Keep one frame exactly as received (``source`` e.g. ``ws.market``, ``rest.books``)."""
        data = payload.encode() if isinstance(payload, str) else payload
        self._active.record_raw(source, data, market=market, ts_recv_ns=ts_recv_ns)
        self.frames += 1

    def message(self, message: Message, ts_recv_ns: int) -> None:
        """Keep one market message (book, delta, trade, tick change, resolution); skip others."""
        if isinstance(message, RECORDED_TYPES):
            self._active.record(message, ts_recv_ns)
            self.messages += 1

    @staticmethod
    def warm_up() -> None:
        """Pay the first flush's one-off costs (lazy imports) now, before the stream starts."""
        _load_arrow()

    def add_markets(self, markets: list[Market]) -> None:
        """Record market metadata next to the data (replay needs tokens, ticks, fees)."""
        self.store.write_markets(markets)

    async def flush(self) -> int:
        """Write everything buffered so far; return the normalized rows written."""
        async with self._lock:
            full, self._active = self._active, self._spare
            try:
                rows = await asyncio.to_thread(full.flush)
            finally:
                # On failure its rows stay buffered in it and go out when it is flushed again.
                self._spare = full
            self.flushes += 1
            return rows

    async def flush_forever(self, interval_s: float) -> None:
        """Flush every ``interval_s`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.flush()
            except OSError:
                # Disk trouble must not stop the feed; the rows stay buffered for the next try.
                log.exception("recording flush to %s failed", self.store.root)

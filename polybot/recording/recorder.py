"""The Recorder: turns bus messages (and raw frames) into buffered rows and flushes partitions.

The scanner calls :meth:`Recorder.record` for every market-data message with its receive time
and :meth:`Recorder.record_raw` for the frame as received. Rows are buffered in plain lists and
written as new immutable Parquet parts by :meth:`flush` (call it on a timer and at shutdown),
so a running stack's readers are never disturbed.

``flush`` usually runs in a worker thread next to a busy event loop. Turning a Python list into an
Arrow array is one C call that holds the GIL throughout — tens of ms for a 30 s buffer of raw
frames — so the buffers are converted ``CHUNK_ROWS`` rows at a time, and the loop gets the GIL
back between chunks (within the switch interval, see ``polybot.stack.runtime``).
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from polybot.bus.messages import (
    BookDelta,
    BookSnapshot,
    Event,
    MarketResolved,
    Message,
    TickSizeChange,
    Trade,
)
from polybot.core.clock import Clock
from polybot.model.market import Market
from polybot.recording.schema import (
    ASK,
    BID,
    BOOK,
    DELTA,
    NORMALIZED,
    RAW,
    RESOLVED,
    TICK,
    TRADE,
    WALLET_TRADE,
)
from polybot.recording.store import RecordStore

_COLUMNS = NORMALIZED.names
CHUNK_ROWS = 1024  # rows converted to Arrow per GIL-holding call (see the module docstring)


def to_table(columns: dict[str, list[object]], schema: pa.Schema) -> pa.Table:
    """Return the buffered ``columns`` as a table of ``schema``, converted chunk by chunk."""
    rows = len(columns[schema.names[0]])
    batches = [
        pa.record_batch(
            [pa.array(columns[f.name][start : start + CHUNK_ROWS], f.type) for f in schema],
            schema=schema,
        )
        for start in range(0, rows, CHUNK_ROWS)
    ]
    return pa.Table.from_batches(batches, schema=schema)


def warm_up() -> None:
    """Load what the first conversion would (pyarrow imports pandas lazily, ~0.5 s): at start-up,
    not in the middle of a stream."""
    pa.array([0], pa.int64())


class Recorder:
    """Buffers normalized rows and raw frames; :meth:`flush` writes them to the store."""

    def __init__(self, store: RecordStore, clock: Clock, *, flush_rows: int = 200_000) -> None:
        self.store = store
        self._clock = clock
        self._flush_rows = flush_rows
        self._cols: dict[str, list[object]] = {name: [] for name in _COLUMNS}
        self._raw: dict[str, list[object]] = {name: [] for name in RAW.names}
        self._msg = 0
        self._last_ts_recv = 0
        self.rows_written = 0
        self.messages = 0

    # ---- input ------------------------------------------------------------------------------
    def add_markets(self, markets: Iterable[Market]) -> None:
        """Record market metadata (tokens, tick, min size, fees, neg-risk grouping)."""
        self.store.write_markets(markets)

    def record(self, message: Message, ts_recv_ns: int | None = None) -> None:
        """Append one market-data message; unsupported message types raise ``TypeError``."""
        ts_recv = self._stamp(ts_recv_ns)
        self._msg += 1
        self.messages += 1
        add = self._add
        match message:
            case BookSnapshot():
                add(
                    ts_recv,
                    message.timestamp,
                    BOOK,
                    message.market_id,
                    message.token_id,
                    0,
                    message.tick_size,
                    0.0,
                    message.hash,
                    "",
                )
                for level in message.bids:
                    add(
                        ts_recv,
                        message.timestamp,
                        BOOK,
                        message.market_id,
                        message.token_id,
                        BID,
                        level.price,
                        level.size,
                        "",
                        "",
                    )
                for level in message.asks:
                    add(
                        ts_recv,
                        message.timestamp,
                        BOOK,
                        message.market_id,
                        message.token_id,
                        ASK,
                        level.price,
                        level.size,
                        "",
                        "",
                    )
            case BookDelta():
                last = len(message.changes) - 1
                for i, change in enumerate(message.changes):
                    add(
                        ts_recv,
                        message.timestamp,
                        DELTA,
                        message.market_id,
                        message.token_id,
                        BID if change.side == "BUY" else ASK,
                        change.price,
                        change.size,
                        message.hash if i == last else "",
                        "",
                    )
            case Trade():
                add(
                    ts_recv,
                    message.timestamp,
                    TRADE,
                    message.market_id,
                    message.token_id,
                    BID if message.side == "BUY" else ASK,
                    message.price,
                    message.size,
                    "",
                    str(message.fee_rate_bps),
                )
            case TickSizeChange():
                add(
                    ts_recv,
                    message.timestamp,
                    TICK,
                    message.market_id,
                    message.token_id,
                    0,
                    message.new_tick_size,
                    message.old_tick_size,
                    "",
                    "",
                )
            case MarketResolved():
                add(
                    ts_recv,
                    message.timestamp,
                    RESOLVED,
                    message.market_id,
                    message.winning_token_id,
                    0,
                    1.0,
                    0.0,
                    "",
                    message.winning_outcome,
                )
            case Event(event_type="wallet_trade"):
                data = message.data
                add(
                    ts_recv,
                    message.timestamp,
                    WALLET_TRADE,
                    str(data["market_id"]),
                    str(data["token_id"]),
                    BID if data["side"] == "BUY" else ASK,
                    float(data["price"]),
                    float(data["size"]),
                    "",
                    str(data["wallet"]),
                )
            case _:
                raise TypeError(f"the recorder does not store {type(message).__name__}")
        if len(self._cols["ts_recv"]) >= self._flush_rows:
            self.flush()

    def record_raw(
        self, source: str, payload: bytes, *, market: str = "", ts_recv_ns: int | None = None
    ) -> None:
        """Append one frame exactly as received (kept for audits and re-normalization)."""
        ts_recv = self._stamp(ts_recv_ns)
        for name, value in (
            ("ts_recv", ts_recv),
            ("source", source),
            ("market", market),
            ("payload", payload),
        ):
            self._raw[name].append(value)

    def _stamp(self, ts_recv_ns: int | None) -> int:
        ts = self._clock.now_ns() if ts_recv_ns is None else ts_recv_ns
        # Receive time is the replay order, so it must never run backwards within a session.
        ts = max(ts, self._last_ts_recv)
        self._last_ts_recv = ts
        return ts

    def _add(
        self,
        ts_recv: int,
        ts: int,
        kind: int,
        market: str,
        token: str,
        side: int,
        price: float,
        size: float,
        hash_: str,
        text: str,
    ) -> None:
        cols = self._cols
        cols["ts_recv"].append(ts_recv)
        cols["ts"].append(ts)
        cols["msg"].append(self._msg)
        cols["kind"].append(kind)
        cols["market"].append(market)
        cols["token"].append(token)
        cols["side"].append(side)
        cols["price"].append(price)
        cols["size"].append(size)
        cols["hash"].append(hash_)
        cols["text"].append(text)

    # ---- output -----------------------------------------------------------------------------
    def flush(self) -> int:
        """Write buffered rows and raw frames as new partitions; return the rows written."""
        rows = len(self._cols["ts_recv"])
        if rows:
            self.store.write_normalized(to_table(self._cols, NORMALIZED))
            self._cols = {name: [] for name in _COLUMNS}
            self.rows_written += rows
        if self._raw["ts_recv"]:
            self.store.write_raw(to_table(self._raw, RAW))
            self._raw = {name: [] for name in RAW.names}
        return rows

    def close(self) -> None:
        """Flush what is left."""
        self.flush()

"""Replay recorded data: columnar arrays for the engine's hot loop, or messages for anything else.

:class:`ReplayData` holds the rows of a time range as flat Python lists (market and token are
small integer codes into ``markets``/``tokens``), plus ``msg_end[i]`` = "row *i* is the last row
of its message". The engine walks these lists with an index, so replay allocates no object per
row. :func:`messages` rebuilds the exact bus message sequence from the same rows.

Anti-look-ahead: ``ReplayData.market_info`` has every outcome/winner field stripped, and a
market's resolution appears only as its ``RESOLVED`` row at the time it happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from polybot.bus.messages import (
    BookDelta,
    BookSnapshot,
    Event,
    Level,
    LevelChange,
    MarketResolved,
    Message,
    TickSizeChange,
    Trade,
)
from polybot.model.market import Market
from polybot.recording.schema import BID, BOOK, DELTA, RESOLVED, TICK, TRADE, WALLET_TRADE
from polybot.recording.store import RecordStore, strip_resolution


def _codes(column: pa.ChunkedArray) -> tuple[list[int], list[str]]:
    if pa.types.is_dictionary(column.type):
        # Read with ``read_dictionary``: reuse Parquet's dictionary instead of re-hashing strings.
        encoded = column.unify_dictionaries().combine_chunks()
    else:
        encoded = pc.dictionary_encode(column).combine_chunks()
    return encoded.indices.to_pylist(), [str(v) for v in encoded.dictionary.to_pylist()]


@dataclass(slots=True)
class ReplayData:
    """Rows of a recording as parallel lists; build with :meth:`from_table` or :meth:`load`."""

    ts_recv: list[int]
    ts: list[int]
    kind: list[int]
    market: list[int]
    token: list[int]
    side: list[int]
    price: list[float]
    size: list[float]
    hash: list[str]
    text: list[str]
    msg_end: list[bool]
    markets: list[str]  # code -> condition id
    tokens: list[str]  # code -> token id
    market_info: dict[str, Market] = field(default_factory=dict)  # stripped of outcomes

    @classmethod
    def from_table(cls, table: pa.Table, markets: Sequence[Market] = ()) -> ReplayData:
        """Build from a ``NORMALIZED`` table already in replay order."""
        market_codes, market_names = _codes(table["market"])
        token_codes, token_names = _codes(table["token"])
        msg = table["msg"].to_numpy()
        ts_recv = table["ts_recv"].to_numpy()
        end = np.ones(len(msg), dtype=bool)
        if len(msg) > 1:
            # A message ends where the next row belongs to another message.
            end[:-1] = (msg[1:] != msg[:-1]) | (ts_recv[1:] != ts_recv[:-1])
        return cls(
            ts_recv=ts_recv.tolist(),
            ts=table["ts"].to_pylist(),
            kind=table["kind"].to_pylist(),
            market=market_codes,
            token=token_codes,
            side=table["side"].to_pylist(),
            price=table["price"].to_pylist(),
            size=table["size"].to_pylist(),
            hash=table["hash"].to_pylist(),
            text=table["text"].to_pylist(),
            msg_end=end.tolist(),
            markets=market_names,
            tokens=token_names,
            market_info={m.condition_id: strip_resolution(m) for m in markets},
        )

    @classmethod
    def load(
        cls,
        store: RecordStore | str,
        *,
        start: str | None = None,
        end: str | None = None,
        markets: Sequence[str] | None = None,
    ) -> ReplayData:
        """Read a store (or its path) for ``[start, end]`` days, optionally some markets only."""
        if not isinstance(store, RecordStore):
            store = RecordStore(store)
        table = store.read(start=start, end=end, markets=markets)
        return cls.from_table(table, store.markets())

    def __len__(self) -> int:
        return len(self.ts_recv)

    @property
    def message_count(self) -> int:
        """Return the number of venue messages (snapshots, deltas, prints, ...)."""
        return sum(self.msg_end)

    @property
    def book_message_count(self) -> int:
        """Return the number of book messages (snapshots and deltas)."""
        kinds, ends = self.kind, self.msg_end
        return sum(1 for i in range(len(kinds)) if ends[i] and kinds[i] in (BOOK, DELTA))

    def slice(self, start: int, stop: int) -> ReplayData:
        """Return rows ``[start, stop)`` (cut at message boundaries by the caller)."""
        return ReplayData(
            self.ts_recv[start:stop],
            self.ts[start:stop],
            self.kind[start:stop],
            self.market[start:stop],
            self.token[start:stop],
            self.side[start:stop],
            self.price[start:stop],
            self.size[start:stop],
            self.hash[start:stop],
            self.text[start:stop],
            self.msg_end[start:stop],
            self.markets,
            self.tokens,
            self.market_info,
        )


def messages(data: ReplayData) -> Iterator[tuple[int, Message]]:
    """Yield ``(ts_recv_ns, message)`` exactly as recorded (the slow, general path)."""
    i, n = 0, len(data)
    while i < n:
        j = i
        while not data.msg_end[j]:
            j += 1
        yield data.ts_recv[i], _message(data, i, j + 1)
        i = j + 1


def _message(d: ReplayData, i: int, stop: int) -> Message:
    kind, market, token, ts = d.kind[i], d.markets[d.market[i]], d.tokens[d.token[i]], d.ts[i]
    if kind == BOOK:
        bids = [
            Level(price=d.price[k], size=d.size[k]) for k in range(i + 1, stop) if d.side[k] == BID
        ]
        asks = [
            Level(price=d.price[k], size=d.size[k]) for k in range(i + 1, stop) if d.side[k] != BID
        ]
        return BookSnapshot(
            market_id=market,
            token_id=token,
            bids=bids,
            asks=asks,
            timestamp=ts,
            tick_size=d.price[i],
            hash=d.hash[i],
        )
    if kind == DELTA:
        changes = [
            LevelChange(
                side="BUY" if d.side[k] == BID else "SELL", price=d.price[k], size=d.size[k]
            )
            for k in range(i, stop)
        ]
        return BookDelta(
            market_id=market, token_id=token, changes=changes, timestamp=ts, hash=d.hash[stop - 1]
        )
    if kind == TRADE:
        return Trade(
            market_id=market,
            token_id=token,
            price=d.price[i],
            size=d.size[i],
            side="BUY" if d.side[i] == BID else "SELL",
            timestamp=ts,
            fee_rate_bps=int(d.text[i] or 0),
        )
    if kind == TICK:
        return TickSizeChange(
            market_id=market,
            token_id=token,
            old_tick_size=d.size[i],
            new_tick_size=d.price[i],
            timestamp=ts,
        )
    if kind == RESOLVED:
        return MarketResolved(
            market_id=market, winning_token_id=token, winning_outcome=d.text[i], timestamp=ts
        )
    if kind == WALLET_TRADE:
        return wallet_event(d, i)
    raise ValueError(f"unknown row kind {kind}")


def wallet_event(d: ReplayData, i: int) -> Event:
    """Return the ``wallet_trade`` event of row ``i``."""
    return Event(
        source="data_api",
        event_type="wallet_trade",
        timestamp=d.ts[i],
        data={
            "wallet": d.text[i],
            "market_id": d.markets[d.market[i]],
            "token_id": d.tokens[d.token[i]],
            "side": "BUY" if d.side[i] == BID else "SELL",
            "price": d.price[i],
            "size": d.size[i],
        },
    )


Hasher = Callable[[str, str, int, list[tuple[float, float]], list[tuple[float, float]]], str]
"""``(market, token, ts_ms, bids best-first, asks best-first) -> venue hash``."""


@dataclass(slots=True)
class HashReport:
    """Outcome of :func:`verify_hashes`."""

    checked: int = 0
    mismatches: list[tuple[int, str, str]] = field(default_factory=list)  # (row, want, got)

    @property
    def ok(self) -> bool:
        """Return True when every checked hash matched."""
        return not self.mismatches


def verify_hashes(data: ReplayData, hasher: Hasher) -> HashReport:
    """Rebuild every book and compare each recorded hash with ``hasher``'s.

    Snapshot hashes are checked on the full snapshot; a delta's hash is checked on the token's
    book right after that message. (Inside a trade burst Polymarket stamps post-match hashes on
    every message, so real data can legitimately mismatch there; the report lists them.)
    """
    books: dict[int, tuple[dict[float, float], dict[float, float]]] = {}
    report = HashReport()
    for i in range(len(data)):
        kind, tok = data.kind[i], data.token[i]
        if kind == BOOK and data.side[i] == 0:
            books[tok] = ({}, {})
        elif kind in (BOOK, DELTA):
            if tok not in books:
                continue  # no snapshot yet: this token's book (and hash) is unknowable
            bids, asks = books[tok]
            levels = bids if data.side[i] == BID else asks
            if data.size[i] > 0:
                levels[data.price[i]] = data.size[i]
            else:
                levels.pop(data.price[i], None)
        else:
            continue
        if not data.msg_end[i] or tok not in books:
            continue
        want = data.hash[i] if kind == DELTA else data.hash[_header(data, i)]
        if not want:
            continue
        bids, asks = books[tok]
        got = hasher(
            data.markets[data.market[i]],
            data.tokens[tok],
            data.ts[i],
            sorted(bids.items(), reverse=True),
            sorted(asks.items()),
        )
        report.checked += 1
        if got != want:
            report.mismatches.append((i, want, got))
    return report


def _header(data: ReplayData, i: int) -> int:
    while not (data.kind[i] == BOOK and data.side[i] == 0):
        i -= 1
    return i

"""The columnar layout of recorded market data (one row per book level change / print).

A normalized row is one level of a snapshot, one entry of a delta, one trade print, one tick
change, one resolution or one Data API wallet trade. Rows of the same venue message share
``msg``; replay sorts by ``(ts_recv, msg)`` so a day's partitions merge in receive order.

Snapshots start with a header row (``side`` 0) that clears the token's book and carries the
tick size in ``price``, the venue hash in ``hash`` and the wire ``last_trade_price`` in
``text``; the level rows follow. So an empty book is still one row, and replay can rebuild the
exact book sequence without any per-message object.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

BOOK: Final = 1  # snapshot header (side 0) or one snapshot level
DELTA: Final = 2  # new absolute size at one level
TRADE: Final = 3  # a public print; side = taker side (+1 BUY, −1 SELL)
TICK: Final = 4  # tick-size change; price = new tick, size = old tick
RESOLVED: Final = 5  # token = winning token; text = winning outcome label
WALLET_TRADE: Final = 6  # a Data API trade of a followed wallet; text = wallet address

KIND_NAMES: Final = {
    BOOK: "book",
    DELTA: "delta",
    TRADE: "trade",
    TICK: "tick",
    RESOLVED: "resolved",
    WALLET_TRADE: "wallet_trade",
}

BID: Final = 1
ASK: Final = -1

NORMALIZED = pa.schema(
    [
        ("ts_recv", pa.int64()),  # local receipt time, ns (the replay order)
        ("ts", pa.int64()),  # venue timestamp, ms
        ("msg", pa.int64()),  # message number within one recorder session
        ("kind", pa.int8()),
        ("market", pa.string()),
        ("token", pa.string()),
        ("side", pa.int8()),  # +1 bid / BUY, −1 ask / SELL, 0 header
        ("price", pa.float64()),
        ("size", pa.float64()),
        ("hash", pa.string()),
        ("text", pa.string()),
    ]
)

RAW = pa.schema(
    [
        ("ts_recv", pa.int64()),
        ("source", pa.string()),  # e.g. "ws.market", "rest.book", "data_api.trades"
        ("market", pa.string()),
        ("payload", pa.binary()),  # the frame exactly as received
    ]
)

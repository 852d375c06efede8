"""The CLOB book hash (reference §3.1, §4.3), reproducible byte for byte.

``sha1`` over compact JSON of the book in a fixed key order with ``hash`` set to ``""``, levels in
wire order (bids ascending, asks descending) and every value exactly as on the wire (strings).
The same recipe covers REST ``/book``, WS ``book`` and each ``price_change`` entry's ``hash``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TypedDict


class WireLevel(TypedDict):
    """A level as Polymarket sends it."""

    price: str
    size: str


def book_hash(
    *,
    market: str,
    asset_id: str,
    timestamp: str,
    bids: Sequence[WireLevel],
    asks: Sequence[WireLevel],
    min_order_size: str,
    tick_size: str,
    neg_risk: bool,
    last_trade_price: str,
) -> str:
    """Return the hex sha1 Polymarket would put in ``hash`` for this book."""
    payload = {
        "market": market,
        "asset_id": asset_id,
        "timestamp": timestamp,
        "hash": "",
        "bids": [{"price": level["price"], "size": level["size"]} for level in bids],
        "asks": [{"price": level["price"], "size": level["size"]} for level in asks],
        "min_order_size": min_order_size,
        "tick_size": tick_size,
        "neg_risk": neg_risk,
        "last_trade_price": last_trade_price,
    }
    encoded = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha1(encoded, usedforsecurity=False).hexdigest()

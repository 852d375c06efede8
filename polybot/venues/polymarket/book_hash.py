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


# ---- the same recipe, assembled from cached pieces ---------------------------------------------
#
# ``json.dumps`` of the payload above is compact JSON whose only variable parts are the scalar
# values and the two level lists. A book that changes one level per message can keep each
# level's JSON text and each side's joined list, and only the hash itself is left to compute.
# ``level_json``/``book_hash_from_json`` produce exactly the bytes ``book_hash`` hashes (tests
# compare them on random books).

_encode_str = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses for str


def json_value(value: object) -> str:
    """Return ``value`` as ``json.dumps(value, ensure_ascii=False)`` would write it."""
    if type(value) is str:
        return _encode_str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def level_json(price: str, size: str) -> str:
    """Return one level as it appears inside the hashed payload."""
    return '{"price":' + json_value(price) + ',"size":' + json_value(size) + "}"


def book_hash_from_json(
    *,
    market: str,
    asset_id: str,
    timestamp: str,
    bids_json: str,
    asks_json: str,
    min_order_size: str,
    tick_size: str,
    neg_risk: bool,
    last_trade_price: str,
) -> str:
    """Return ``book_hash`` of a book whose sides are given as joined ``level_json`` texts.

    ``bids_json``/``asks_json`` are the levels in wire order joined with ``,`` (no brackets).
    """
    encoded = "".join(
        (
            '{"market":',
            json_value(market),
            ',"asset_id":',
            json_value(asset_id),
            ',"timestamp":',
            json_value(timestamp),
            ',"hash":"","bids":[',
            bids_json,
            '],"asks":[',
            asks_json,
            '],"min_order_size":',
            json_value(min_order_size),
            ',"tick_size":',
            json_value(tick_size),
            ',"neg_risk":',
            "true" if neg_risk else "false",
            ',"last_trade_price":',
            json_value(last_trade_price),
            "}",
        )
    ).encode()
    return hashlib.sha1(encoded, usedforsecurity=False).hexdigest()

"""Importers for real Polymarket capture formats into bus messages (then into a Recorder).

Supported: market-channel WebSocket frames (``book``, current and legacy ``price_change``,
``last_trade_price``, ``tick_size_change``, ``market_resolved``), REST ``/book`` responses, and
Data API trades (v1 camelCase rows and the v2 ``{data: [...]}`` envelope).

WS ``book`` levels arrive bids ascending / asks descending; bus snapshots are best first, so
both sides are reversed. A current-schema ``price_change`` may touch both tokens of a market;
it becomes one ``BookDelta`` per token (in first-seen order), carrying that token's last hash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

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
from polybot.recording.recorder import Recorder

Frame = Mapping[str, Any]


def _levels(raw: Iterable[Frame]) -> list[Level]:
    return [Level(price=float(x["price"]), size=float(x["size"])) for x in raw]


def _tick(frame: Frame) -> float:
    tick = frame.get("tick_size") or "0.01"
    return float(tick)


def book_from_wire(frame: Frame) -> BookSnapshot:
    """Return the snapshot in a WS ``book`` frame or a REST ``/book`` response."""
    bids = _levels(frame.get("bids") or [])
    asks = _levels(frame.get("asks") or [])
    # Wire order is worst first on both sides (bids asc, asks desc); sort defensively.
    bids.sort(key=lambda level: -level.price)
    asks.sort(key=lambda level: level.price)
    return BookSnapshot(
        market_id=frame["market"],
        token_id=frame["asset_id"],
        bids=bids,
        asks=asks,
        timestamp=int(frame.get("timestamp") or 0),
        tick_size=_tick(frame),
        hash=frame.get("hash") or "",
    )


def messages_from_ws(frame: Frame) -> list[Message]:
    """Return the bus messages of one market-channel frame (empty for unknown event types)."""
    kind = frame.get("event_type")
    ts = int(frame.get("timestamp") or 0)
    if kind == "book":
        return [book_from_wire(frame)]
    if kind == "price_change":
        if "price_changes" in frame:
            entries = list(frame["price_changes"])
        else:  # pre-2025-09 schema: one asset, ``changes`` list or flattened single change
            entries = [
                {**change, "asset_id": frame["asset_id"], "hash": frame.get("hash", "")}
                for change in frame.get("changes") or [frame]
            ]
        per_token: dict[str, list[Frame]] = {}
        for entry in entries:
            per_token.setdefault(entry["asset_id"], []).append(entry)
        return [
            BookDelta(
                market_id=frame["market"],
                token_id=token,
                changes=[
                    LevelChange(side=e["side"], price=float(e["price"]), size=float(e["size"]))
                    for e in items
                ],
                timestamp=ts,
                best_bid=float(items[-1].get("best_bid") or 0.0),
                best_ask=float(items[-1].get("best_ask") or 0.0),
                hash=items[-1].get("hash") or "",
            )
            for token, items in per_token.items()
        ]
    if kind == "last_trade_price":
        return [
            Trade(
                market_id=frame["market"],
                token_id=frame["asset_id"],
                price=float(frame["price"]),
                size=float(frame["size"]),
                side=frame["side"],
                timestamp=ts,
                fee_rate_bps=int(frame.get("fee_rate_bps") or 0),
            )
        ]
    if kind == "tick_size_change":
        return [
            TickSizeChange(
                market_id=frame["market"],
                token_id=frame["asset_id"],
                old_tick_size=float(frame["old_tick_size"]),
                new_tick_size=float(frame["new_tick_size"]),
                timestamp=ts,
            )
        ]
    if kind == "market_resolved":
        return [
            MarketResolved(
                market_id=frame["market"],
                winning_token_id=frame["winning_asset_id"],
                winning_outcome=frame.get("winning_outcome", ""),
                timestamp=ts,
            )
        ]
    return []


def wallet_trade_from_data_api(row: Frame) -> Event:
    """Return a ``wallet_trade`` event for one Data API trade row (v1 camelCase or v2 snake)."""
    wallet = row.get("proxy_wallet") or row.get("proxyWallet") or ""
    token = row.get("token_id") or row.get("asset") or ""
    market = row.get("condition_id") or row.get("conditionId") or ""
    ts_ms = int(row["timestamp"]) * 1000  # the Data API speaks unix seconds
    return Event(
        source="data_api",
        event_type="wallet_trade",
        timestamp=ts_ms,
        data={
            "wallet": wallet,
            "market_id": market,
            "token_id": token,
            "side": row["side"],
            "price": float(row["price"]),
            "size": float(row["size"]),
            "outcome": row.get("outcome", ""),
            "transaction_hash": row.get("transaction_hash") or row.get("transactionHash") or "",
        },
    )


def data_api_rows(payload: Any) -> list[Frame]:
    """Return trade rows from a v1 bare array or a v2 ``{"data": [...]}`` envelope."""
    if isinstance(payload, Mapping):
        payload = payload.get("data") or []
    return list(payload)


def _frames(payload: Any) -> Iterator[Frame]:
    if isinstance(payload, list):
        for item in payload:
            yield from _frames(item)
    elif isinstance(payload, Mapping):
        yield payload


def import_ws_capture(
    recorder: Recorder, path: str | Path, *, ts_recv_ns: int | None = None
) -> int:
    """Record every frame of a WS capture file (a frame or a list); return messages recorded.

    Receive time defaults to each frame's venue timestamp, which keeps a capture's own order.
    """
    raw = Path(path).read_bytes()
    count = 0
    for frame in _frames(json.loads(raw)):
        frame_recv = (
            ts_recv_ns if ts_recv_ns is not None else int(frame.get("timestamp") or 0) * 1_000_000
        )
        recorder.record_raw(
            "ws.market",
            json.dumps(frame).encode(),
            market=frame.get("market", ""),
            ts_recv_ns=frame_recv,
        )
        for message in messages_from_ws(frame):
            recorder.record(message, frame_recv)
            count += 1
    return count


def import_rest_book(recorder: Recorder, path: str | Path, *, ts_recv_ns: int | None = None) -> int:
    """Record a REST ``/book`` response as a snapshot; return 1."""
    frame = json.loads(Path(path).read_bytes())
    snap = book_from_wire(frame)
    recv = ts_recv_ns if ts_recv_ns is not None else snap.timestamp * 1_000_000
    recorder.record_raw(
        "rest.book", json.dumps(frame).encode(), market=snap.market_id, ts_recv_ns=recv
    )
    recorder.record(snap, recv)
    return 1


def import_data_api_trades(
    recorder: Recorder, path: str | Path, *, wallets: Iterable[str] | None = None
) -> int:
    """Record Data API trades (optionally only ``wallets``) as ``wallet_trade`` rows, oldest first."""
    wanted = {w.lower() for w in wallets} if wallets is not None else None
    events = [
        wallet_trade_from_data_api(r) for r in data_api_rows(json.loads(Path(path).read_bytes()))
    ]
    events.sort(key=lambda e: e.timestamp)
    count = 0
    for event in events:
        if wanted is not None and str(event.data["wallet"]).lower() not in wanted:
            continue
        recorder.record(event, event.timestamp * 1_000_000)
        count += 1
    return count

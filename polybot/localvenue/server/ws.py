"""CLOB WebSockets (reference §4): ``/ws/market`` and ``/ws/user``.

Protocol as the real venue speaks it:

* text ``PING`` → text ``PONG`` (not JSON);
* market channel: first frame ``{"type":"market","assets_ids":[…],"custom_feature_enabled":…}``,
  then ``{"operation":"subscribe"|"unsubscribe","assets_ids":[…]}``; each newly subscribed
  asset gets its ``book`` snapshot; ``best_bid_ask``/``new_market``/``market_resolved`` only
  reach connections that enabled custom features;
* user channel: ``{"type":"user","auth":{"apiKey","secret","passphrase"},"markets":[…]}``
  (omit ``markets`` for all), dynamic ``subscribe``/``unsubscribe`` of markets;
* server frames are one JSON object, or a JSON array when several events are ready at once.

The exchange core publishes wire-shaped events synchronously on the event loop; the hub routes
each to the connections that want it (an asset → connections index keeps fan-out cheap with
thousands of markets) and wakes their writer tasks. Fault knobs (``silent``/``stale`` feeds,
random and forced drops) are applied here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter
from starlette.websockets import WebSocket, WebSocketDisconnect

from polybot.localvenue.events import NewMarket, PriceChange, UserEvent, VenueEvent
from polybot.localvenue.server.context import venue_of
from polybot.localvenue.server.faults import FeedMode

if TYPE_CHECKING:
    from polybot.localvenue.exchange import Exchange
    from polybot.localvenue.server.clob_auth import ApiKeyStore
    from polybot.localvenue.server.faults import Faults

router = APIRouter()

# Beyond ~500 assets on one socket the real venue stops sending initial snapshots (Nautilus,
# undocumented); the local venue does the same so clients learn to shard their subscriptions.
SNAPSHOT_ASSET_LIMIT = 500
MAX_BATCH = 200             # events per array frame
MAX_BACKLOG = 50_000        # a consumer this far behind is disconnected (1008)
INVALID = "INVALID OPERATION"


class Connection:
    """One WebSocket subscriber: its filters, its outgoing backlog and a wake-up event."""

    def __init__(self, ws: WebSocket, channel: str) -> None:
        self.ws = ws
        self.channel = channel
        self.assets: set[str] = set()
        self.markets: set[str] = set()       # user channel filter (empty = all)
        self.api_key = ""
        self.custom = False
        self.backlog: deque[Any] = deque()
        self.wake = asyncio.Event()
        self.closing: int | None = None      # close code requested by the hub

    def push(self, message: Any) -> None:
        """Queue one wire message and wake the writer."""
        if len(self.backlog) >= MAX_BACKLOG:
            self.close(1008)
            return
        self.backlog.append(message)
        self.wake.set()

    def close(self, code: int) -> None:
        """Ask the writer to close the socket with ``code``."""
        self.closing = code
        self.wake.set()


class WsHub:
    """Routes exchange events to WebSocket connections."""

    def __init__(self, exchange: Exchange, faults: Faults) -> None:
        self.exchange = exchange
        self.faults = faults
        self.by_asset: dict[str, set[Connection]] = {}
        self.custom_market: set[Connection] = set()
        self.users: dict[str, set[Connection]] = {}
        self.connections: set[Connection] = set()
        self.sent_frames = 0
        self.sent_messages = 0
        self._unsubscribe = exchange.subscribe(self.publish)

    def close(self) -> None:
        """Stop listening to the exchange and close every socket."""
        self._unsubscribe()
        for conn in list(self.connections):
            conn.close(1001)

    def drop_all(self) -> int:
        """Fault: drop every open socket now (1011, like a server-side failure)."""
        dropped = 0
        for conn in list(self.connections):
            conn.close(1011)
            dropped += 1
        return dropped

    # ---- routing ----------------------------------------------------------------------
    def publish(self, event: VenueEvent) -> None:
        """Exchange listener: deliver ``event`` to every interested connection."""
        if self.faults.feed is not FeedMode.LIVE or not self.connections:
            return
        if isinstance(event, UserEvent):
            for conn in self.users.get(event.api_key, ()):
                if not conn.markets or event.market in conn.markets:
                    conn.push(event.to_wire())
            return
        if isinstance(event, NewMarket):
            # A new market has no subscribers yet: announce it to every custom-feature socket.
            wire = event.to_wire()
            for conn in self.custom_market:
                conn.push(wire)
            return
        targets: set[Connection] = set()
        for asset in event.asset_ids:
            targets.update(self.by_asset.get(asset, ()))
        if not targets:
            return
        wire = event.to_wire()
        for conn in targets:
            if event.custom_feature and not conn.custom:
                continue
            if isinstance(event, PriceChange) and not conn.assets.issuperset(event.asset_ids):
                partial = event.for_assets(conn.assets)
                if partial is not None:
                    conn.push(partial)
                continue
            conn.push(wire)

    def add_assets(self, conn: Connection, assets: list[str]) -> None:
        """Subscribe ``conn`` to ``assets`` and queue their ``book`` snapshots."""
        fresh = [a for a in dict.fromkeys(assets) if a not in conn.assets]
        for asset in fresh:
            conn.assets.add(asset)
            self.by_asset.setdefault(asset, set()).add(conn)
        if self.faults.feed is not FeedMode.LIVE or len(conn.assets) > SNAPSHOT_ASSET_LIMIT:
            return
        for asset in fresh:
            try:
                self.exchange.market_by_asset(asset)
            except KeyError:
                continue   # unknown assets are accepted silently, as on the real venue
            conn.push(self.exchange.book_summary(asset).to_ws())

    def remove_assets(self, conn: Connection, assets: list[str]) -> None:
        """Unsubscribe ``conn`` from ``assets``."""
        for asset in assets:
            conn.assets.discard(asset)
            subscribers = self.by_asset.get(asset)
            if subscribers is not None:
                subscribers.discard(conn)
                if not subscribers:
                    del self.by_asset[asset]

    def forget(self, conn: Connection) -> None:
        """Remove every trace of a closed connection."""
        self.connections.discard(conn)
        self.custom_market.discard(conn)
        self.remove_assets(conn, list(conn.assets))
        if conn.api_key:
            subscribers = self.users.get(conn.api_key)
            if subscribers is not None:
                subscribers.discard(conn)
                if not subscribers:
                    del self.users[conn.api_key]

    # ---- per-socket tasks -------------------------------------------------------------
    async def writer(self, conn: Connection) -> None:
        """Send queued events, batching whatever is ready into one array frame."""
        while True:
            await conn.wake.wait()
            conn.wake.clear()
            if conn.closing is not None:
                with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                    await conn.ws.close(conn.closing)
                return
            while conn.backlog:
                if self.faults.feed is not FeedMode.LIVE:
                    conn.backlog.clear()
                    break
                count = min(len(conn.backlog), MAX_BATCH)
                batch = [conn.backlog.popleft() for _ in range(count)]
                frame = batch[0] if count == 1 else batch
                await conn.ws.send_text(orjson.dumps(frame).decode())
                self.sent_frames += 1
                self.sent_messages += count
                if self.faults.draw_ws_drop():
                    conn.close(1011)
                    break
            if conn.closing is not None:
                conn.wake.set()


def _parse(text: str) -> dict[str, Any] | None:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _str_list(value: Any) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


async def _serve(ws: WebSocket, conn: Connection, hub: WsHub, handle: Any) -> None:
    hub.connections.add(conn)
    writer = asyncio.create_task(hub.writer(conn))
    try:
        while not writer.done():
            receive = asyncio.ensure_future(ws.receive_text())
            done, _ = await asyncio.wait({receive, writer}, return_when=asyncio.FIRST_COMPLETED)
            if receive not in done:
                receive.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                    await receive
                break
            text = receive.result()
            if text == "PING":
                if hub.faults.feed is not FeedMode.STALE:
                    await ws.send_text("PONG")
                continue
            reply = handle(text)
            if reply is not None:
                await ws.send_text(reply)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.forget(conn)
        if not writer.done():
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await writer


@router.websocket("/ws/market")
async def market_channel(ws: WebSocket) -> None:
    """Serve the market channel."""
    venue = venue_of(ws)
    hub = venue.hub
    await ws.accept()
    conn = Connection(ws, "market")

    def handle(text: str) -> str | None:
        data = _parse(text)
        if data is None:
            return INVALID
        assets = _str_list(data.get("assets_ids"))
        if assets is None:
            return INVALID
        operation = str(data.get("operation") or "").lower()
        kind = str(data.get("type") or "").lower()
        if "custom_feature_enabled" in data:
            conn.custom = bool(data["custom_feature_enabled"])
            (hub.custom_market.add if conn.custom else hub.custom_market.discard)(conn)
        if operation == "unsubscribe":
            hub.remove_assets(conn, assets)
        elif operation == "subscribe" or kind == "market":
            hub.add_assets(conn, assets)
        else:
            return INVALID
        return None

    await _serve(ws, conn, hub, handle)


@router.websocket("/ws/user")
async def user_channel(ws: WebSocket) -> None:
    """Serve the user channel (auth in the subscribe frame)."""
    venue = venue_of(ws)
    hub, keys = venue.hub, venue.keys
    await ws.accept()
    conn = Connection(ws, "user")

    def handle(text: str) -> str | None:
        data = _parse(text)
        if data is None:
            return INVALID
        markets = _str_list(data.get("markets"))
        if markets is None:
            return INVALID
        operation = str(data.get("operation") or "").lower()
        if str(data.get("type") or "").lower() == "user":
            if not _authenticate(keys, data.get("auth")):
                conn.close(1008)
                return "INVALID AUTH"
            conn.api_key = str(data["auth"]["apiKey"])
            conn.markets = set(markets)
            hub.users.setdefault(conn.api_key, set()).add(conn)
            return None
        if not conn.api_key:
            return INVALID
        if operation == "subscribe":
            conn.markets.update(markets)
            hub.users.setdefault(conn.api_key, set()).add(conn)
        elif operation == "unsubscribe":
            conn.markets.difference_update(markets)
            if not conn.markets:
                # Unsubscribing the last market must not widen the filter to "everything".
                hub.users.get(conn.api_key, set()).discard(conn)
        else:
            return INVALID
        return None

    await _serve(ws, conn, hub, handle)


def _authenticate(keys: ApiKeyStore, auth: Any) -> bool:
    if not isinstance(auth, dict):
        return False
    record = keys.lookup(str(auth.get("apiKey", "")))
    return (
        record is not None
        and record.secret == auth.get("secret")
        and record.passphrase == auth.get("passphrase")
    )

"""The WebSocket bridge: selected bus messages to browsers, plus the latest market state.

One ``Hub`` per API process subscribes to ``prices.pub``, ``events.pub`` and ``runner.pub`` with
asyncio readers on the sockets' fds (``polybot.bus.aio``). For every message it:

1. updates the latest state the REST routes read (mids, books) and resolves order fates;
2. encodes the message to JSON **once** (only if some client wants its channel);
3. offers the text to every subscribed client's bounded queue — when a queue is full the oldest
   item is dropped and counted, so a slow client only ever loses its own data.

Each connection runs a receiver task (control messages; notices a vanished client) and a sender
task (coalesces everything queued into one JSON-array frame), raced with ``FIRST_COMPLETED``: a
send-only handler would never notice a disconnect and would hang uvicorn's shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec
import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from polybot.bus.aio import AsyncSubscriber
from polybot.bus.ipc import SocketOptions
from polybot.bus.messages import AnyMessage, BookDelta, BookSnapshot, Event, Price, Trade
from polybot.config.settings import Settings
from polybot.engine.book import L2Book
from services.api.auth import token_is_valid

log = logging.getLogger("polybot.api.ws")

CHANNELS = ("prices", "books", "trades", "events")
AUTH_TIMEOUT_S = 10.0  # a client without a query token must authenticate this quickly
SEND_TIMEOUT_S = 10.0  # a client that cannot take one frame in this long is disconnected
MAX_CONTROL_BYTES = 16_384
_CHANNEL_OF: dict[type, str] = {
    Price: "prices",
    BookSnapshot: "books",
    BookDelta: "books",
    Trade: "trades",
}

MessageListener = Callable[[AnyMessage], None]


class Client:
    """One WebSocket connection's subscriptions and bounded outgoing queue."""

    __slots__ = (
        "channels",
        "closing",
        "control",
        "dropped",
        "markets",
        "queue",
        "reported_dropped",
        "wake",
    )

    def __init__(self, queue_size: int) -> None:
        self.queue: deque[str] = deque(maxlen=queue_size)
        self.control: deque[str] = deque(maxlen=64)  # replies to the client's own requests
        self.wake = asyncio.Event()
        self.channels: set[str] = set()
        self.markets: frozenset[str] | None = None  # None: every market
        self.dropped = 0
        self.reported_dropped = 0
        self.closing = False

    def wants(self, channel: str, market_id: str | None) -> bool:
        """Return True when this client subscribed to ``channel`` for ``market_id``."""
        if channel not in self.channels:
            return False
        return self.markets is None or market_id is None or market_id in self.markets

    def offer(self, text: str) -> bool:
        """Queue ``text``; return True when that pushed out (dropped) the oldest item."""
        full = len(self.queue) == self.queue.maxlen
        if full:
            self.dropped += 1
        self.queue.append(text)  # deque(maxlen) discards the oldest item itself
        self.wake.set()
        return full

    def reply(self, payload: dict[str, Any]) -> None:
        """Queue a control reply (sent before data, never dropped for data)."""
        self.control.append(orjson.dumps(payload).decode())
        self.wake.set()


class Hub:
    """Bus subscriptions, latest market state, and the set of connected WebSocket clients."""

    def __init__(
        self,
        settings: Settings,
        counters: dict[str, int],
        *,
        queue_size: int = 2000,
        max_batch: int = 500,
    ) -> None:
        self._settings = settings
        self.counters = counters
        self.queue_size = queue_size
        self.max_batch = max_batch
        self.clients: set[Client] = set()
        self.marks: dict[str, float] = {}
        self.prices: dict[str, Price] = {}
        self.books: dict[str, L2Book] = {}
        self.listeners: list[MessageListener] = []
        self._subscribers: dict[str, tuple[str, AsyncSubscriber]] = {}

    def start(self) -> None:
        """Dial the publishers (without blocking; they may start later)."""
        bus = self._settings.bus
        options = SocketOptions.from_settings(bus)
        for socket, service, address, callback in (
            ("prices.pub", "scanner", bus.prices_pub, self._on_market_data),
            ("events.pub", "executor", bus.events_pub, self._on_event),
            ("runner.pub", "strategy runner", bus.runner_pub, self._on_event),
        ):
            subscriber = AsyncSubscriber(address, callback=callback, options=options)
            self._subscribers[socket] = (service, subscriber)

    def links(self) -> list[tuple[str, str, bool]]:
        """Return ``(socket, service, connected)`` of every subscription."""
        return [
            (socket, service, sub.receiver.peers > 0)
            for socket, (service, sub) in self._subscribers.items()
        ]

    def is_connected(self, socket: str) -> bool:
        """Return True when the publisher behind ``socket`` (e.g. ``prices.pub``) is connected."""
        entry = self._subscribers.get(socket)
        return entry is not None and entry[1].receiver.peers > 0

    def add(self) -> Client:
        """Register a new client."""
        client = Client(self.queue_size)
        self.clients.add(client)
        return client

    def remove(self, client: Client) -> None:
        """Forget a client."""
        self.clients.discard(client)

    def close_clients(self) -> None:
        """Ask every client's sender to close its connection (server shutting down)."""
        for client in self.clients:
            client.closing = True
            client.wake.set()

    def close(self) -> None:
        """Close every client and bus subscription (idempotent)."""
        self.close_clients()
        for _service, subscriber in self._subscribers.values():
            subscriber.close()
        self._subscribers.clear()

    # ---- bus callbacks (run on the event loop, one message at a time) --------------------

    def _on_market_data(self, message: AnyMessage) -> None:
        if isinstance(message, Price):
            self.marks[message.token_id] = message.mid
            self.prices[message.token_id] = message
        elif isinstance(message, BookSnapshot):
            book = self.books.get(message.token_id)
            if book is None:
                book = self.books[message.token_id] = L2Book(message.market_id, message.token_id)
            book.clear()
            for level in message.bids:
                book.set_level(True, level.price, level.size)
            for level in message.asks:
                book.set_level(False, level.price, level.size)
            book.tick_size = message.tick_size
            book.timestamp_ms = message.timestamp
        elif isinstance(message, BookDelta):
            # A delta before any snapshot cannot be applied: the scanner re-snapshots on gaps.
            known = self.books.get(message.token_id)
            if known is not None:
                for change in message.changes:
                    known.set_level(change.side == "BUY", change.price, change.size)
                known.timestamp_ms = message.timestamp
        self._fan_out(_CHANNEL_OF.get(type(message), "events"), message)

    def _on_event(self, message: AnyMessage) -> None:
        for listener in self.listeners:
            try:
                listener(message)
            except Exception:
                self.counters["listener_errors"] = self.counters.get("listener_errors", 0) + 1
                log.exception("an events listener failed")
        self._fan_out("events", message)

    def _fan_out(self, channel: str, message: AnyMessage) -> None:
        counters = self.counters
        counters["ws_messages_in"] = counters.get("ws_messages_in", 0) + 1
        market_id = _market_of(message)
        text: str | None = None
        for client in self.clients:
            if client.wants(channel, market_id):
                if text is None:  # encode once, only when someone wants it
                    text = (
                        '{"channel":"' + channel + '",' + msgspec.json.encode(message)[1:].decode()
                    )
                if client.offer(text):
                    counters["ws_dropped"] = counters.get("ws_dropped", 0) + 1

    @property
    def dropped(self) -> int:
        """Return how many queued items were dropped for slow clients in total."""
        return self.counters.get("ws_dropped", 0)


def _market_of(message: AnyMessage) -> str | None:
    market_id = getattr(message, "market_id", None)
    if market_id is None and isinstance(message, Event):
        value = message.data.get("market_id")
        market_id = value if isinstance(value, str) else None
    return market_id


router = APIRouter()


@router.websocket("/ws")
async def websocket_bridge(websocket: WebSocket, token: str | None = None) -> None:
    """Stream subscribed bus channels to one browser (protocol: docs/api.md)."""
    ctx = websocket.app.state.ctx
    hub: Hub = ctx.hub
    await websocket.accept()
    if not await _authenticate(websocket, ctx.token, token):
        ctx.count("ws_auth_failed")
        return
    client = hub.add()
    ctx.count("ws_connections")
    client.reply({"type": "welcome", "channels": list(CHANNELS), "queue_size": hub.queue_size})
    receiver = asyncio.create_task(_receive(websocket, client))
    sender = asyncio.create_task(_send(websocket, client, hub))
    try:
        await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.remove(client)
        for task in (receiver, sender):
            task.cancel()
        await asyncio.gather(receiver, sender, return_exceptions=True)
        code = 1001 if client.closing else 1000
        if websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):  # the peer may already be gone: nothing to do
                await websocket.close(code)


async def _authenticate(websocket: WebSocket, expected: str, token: str | None) -> bool:
    if token is not None:
        if token_is_valid(expected, token):
            return True
        await _refuse(websocket, "the token query parameter is wrong (see `polybot api token`)")
        return False
    try:
        async with asyncio.timeout(AUTH_TIMEOUT_S):
            text = await websocket.receive_text()
    except (TimeoutError, WebSocketDisconnect, RuntimeError, KeyError):
        await _refuse(websocket, 'authenticate first: send {"op":"auth","token":"…"}')
        return False
    request = _parse(text)
    if request.get("op") == "auth" and token_is_valid(expected, _str(request.get("token"))):
        return True
    await _refuse(websocket, 'the first message must be {"op":"auth","token":"<API token>"}')
    return False


async def _refuse(websocket: WebSocket, detail: str) -> None:
    with contextlib.suppress(Exception):  # the client may have gone already
        await websocket.send_text(orjson.dumps({"type": "error", "detail": detail}).decode())
        await websocket.close(1008, "unauthorized")


async def _receive(websocket: WebSocket, client: Client) -> None:
    """Handle control messages until the client disconnects."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            raw = message.get("bytes") or b""
            text = raw.decode("utf-8", "replace")
        if len(text) > MAX_CONTROL_BYTES:
            client.reply({"type": "error", "detail": "control message too large"})
            continue
        _handle_control(client, _parse(text))


def _handle_control(client: Client, request: dict[str, Any]) -> None:
    op = request.get("op")
    if op == "ping":
        client.reply({"type": "pong", "id": request.get("id")})
        return
    if op == "auth":
        client.reply({"type": "authenticated"})
        return
    if op not in ("subscribe", "unsubscribe"):
        client.reply(
            {
                "type": "error",
                "detail": 'unknown op; send {"op":"subscribe"|"unsubscribe"|"ping", …}',
            }
        )
        return
    channels = request.get("channels", [])
    if not isinstance(channels, list) or not all(c in CHANNELS for c in channels):
        client.reply(
            {"type": "error", "detail": f"channels must be a list drawn from {list(CHANNELS)}"}
        )
        return
    markets = request.get("markets")
    if markets is not None and (
        not isinstance(markets, list) or not all(isinstance(m, str) for m in markets)
    ):
        client.reply({"type": "error", "detail": "markets must be a list of market ids"})
        return
    if op == "subscribe":
        client.channels.update(channels)
        if markets is not None:
            client.markets = frozenset(markets) if markets else None
    else:
        client.channels.difference_update(channels)
    client.reply(
        {
            "type": "subscribed",
            "channels": sorted(client.channels),
            "markets": sorted(client.markets) if client.markets is not None else None,
        }
    )


async def _send(websocket: WebSocket, client: Client, hub: Hub) -> None:
    """Send control replies and coalesced data frames until closing or the client is too slow."""
    counters = hub.counters
    while True:
        if not (client.control or client.queue or client.closing):
            await client.wake.wait()
        client.wake.clear()
        if client.closing:
            return
        while client.control:
            await _send_text(websocket, client.control.popleft())
        if client.dropped != client.reported_dropped:
            client.reported_dropped = client.dropped
            await _send_text(websocket, f'{{"type":"dropped","total":{client.dropped}}}')
        queue = client.queue
        while queue and not client.closing:
            items = [queue.popleft() for _ in range(min(len(queue), hub.max_batch))]
            await _send_text(websocket, "[" + ",".join(items) + "]")
            counters["ws_frames_out"] = counters.get("ws_frames_out", 0) + 1
            if client.control:
                break  # answer the client's requests promptly even under load


async def _send_text(websocket: WebSocket, text: str) -> None:
    async with asyncio.timeout(SEND_TIMEOUT_S):
        await websocket.send_text(text)


def _parse(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"op": "<invalid JSON>"}
    return value if isinstance(value, dict) else {"op": "<not an object>"}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None

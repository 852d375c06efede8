"""A small real WebSocket server speaking the Polymarket channel protocol, for tests.

It runs ``websockets.serve`` on 127.0.0.1 port 0 and records everything clients send. Market
side: answers text ``PING`` with ``PONG`` (unless told to stay silent), sends each subscribed
asset's ``book`` on ``type: market`` and on ``operation: subscribe`` (one array frame when
``batch_books``). User side: records the auth frame. Tests push further frames with :meth:`push`
and cut connections with :meth:`drop_all`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from polybot.venues.polymarket.book_hash import WireLevel, book_hash


def make_book(
    asset_id: str, *, market: str = "0xmarket", timestamp: str = "1790000000000",
    bids: Sequence[tuple[str, str]] = (("0.40", "100"),),
    asks: Sequence[tuple[str, str]] = (("0.60", "100"),), tick_size: str = "0.01",
    last_trade_price: str = "0.5",
) -> dict[str, Any]:
    """Return a WS ``book`` frame with a correct venue hash (min size 5, not neg-risk)."""
    wire_bids: list[WireLevel] = [{"price": p, "size": s} for p, s in bids]
    wire_asks: list[WireLevel] = [{"price": p, "size": s} for p, s in asks]
    digest = book_hash(
        market=market, asset_id=asset_id, timestamp=timestamp, bids=wire_bids, asks=wire_asks,
        min_order_size="5", tick_size=tick_size, neg_risk=False, last_trade_price=last_trade_price,
    )
    return {
        "market": market, "asset_id": asset_id, "timestamp": timestamp, "hash": digest,
        "bids": wire_bids, "asks": wire_asks, "tick_size": tick_size, "event_type": "book",
        "last_trade_price": last_trade_price,
    }


@dataclass
class ClientRecord:
    """One accepted connection and what it sent."""

    ws: ServerConnection
    frames: list[dict[str, Any]] = field(default_factory=list)
    pings: int = 0
    assets: set[str] = field(default_factory=set)


class PolyWsServer:
    """The test server; use ``async with PolyWsServer(...) as server: server.url``."""

    def __init__(
        self, books: dict[str, dict[str, Any]] | None = None, *, answer_pings: bool = True,
        batch_books: bool = False,
    ) -> None:
        self.books = dict(books or {})
        self.answer_pings = answer_pings
        self.batch_books = batch_books
        self.clients: list[ClientRecord] = []
        self._server: Server | None = None
        self.url = ""

    async def __aenter__(self) -> PolyWsServer:
        self._server = await serve(self._handle, "127.0.0.1", 0, ping_interval=None)
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        client = ClientRecord(ws)
        self.clients.append(client)
        try:
            async for message in ws:
                if message == "PING":
                    client.pings += 1
                    if self.answer_pings:
                        await ws.send("PONG")
                    continue
                frame = json.loads(message)
                client.frames.append(frame)
                await self._on_frame(client, frame)
        except ConnectionClosed:
            pass

    async def _on_frame(self, client: ClientRecord, frame: dict[str, Any]) -> None:
        op = frame.get("operation")
        if frame.get("type") == "market" or op == "subscribe":
            assets = list(frame.get("assets_ids", []))
            client.assets.update(assets)
            books = [self.books[a] for a in assets if a in self.books]
            if self.batch_books and books:
                await client.ws.send(json.dumps(books))
            else:
                for book in books:
                    await client.ws.send(json.dumps(book))
        elif op == "unsubscribe":
            client.assets.difference_update(frame.get("assets_ids", []))

    async def push(self, payload: Any, client: ClientRecord | None = None) -> None:
        """Send one frame (object or array) to ``client`` or to every open connection."""
        text = json.dumps(payload)
        targets = [client] if client is not None else self.clients
        for target in targets:
            try:
                await target.ws.send(text)
            except ConnectionClosed:
                continue

    async def drop_all(self) -> None:
        """Close every open connection from the server side (a venue restart)."""
        await asyncio.gather(*(c.ws.close() for c in self.clients), return_exceptions=True)


async def wait_until(predicate: Callable[[], bool], within_s: float = 5.0, what: str = "") -> None:
    """Poll ``predicate`` until true or fail at the deadline (no fixed sleeps in tests)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.005)

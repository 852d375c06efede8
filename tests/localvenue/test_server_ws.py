"""Market and user WebSocket channels over real sockets (reference §4)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from venue_markets import protocol_v1_markets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from polybot.localvenue.server.harness import LocalTrader, VenueServer, quick_config
from polybot.localvenue.server.run import build_venue
from polybot.venues.polymarket.book_hash import book_hash

WAIT_S = 10.0


@pytest.fixture(scope="module")
def server() -> Iterator[VenueServer]:
    with VenueServer(build_venue(quick_config(markets=80))) as running:
        yield running



@pytest.fixture(scope="module")
def markets(http: httpx.Client) -> list[dict[str, Any]]:
    """Binary protocol-v1 markets."""
    return protocol_v1_markets(http, binary_only=True)


async def _frames(ws: ClientConnection) -> list[dict[str, Any]]:
    """Receive one frame; return its events (a frame is an object or an array of them)."""
    raw = await asyncio.wait_for(ws.recv(), WAIT_S)
    data = json.loads(raw)
    return data if isinstance(data, list) else [data]


async def _until(ws: ClientConnection, wanted: Any) -> list[dict[str, Any]]:
    """Collect events until one satisfies ``wanted``; return everything received."""
    seen: list[dict[str, Any]] = []
    while True:
        frame = await _frames(ws)
        seen.extend(frame)   # keep the whole frame: a batch may hold more than the match
        if any(wanted(event) for event in frame):
            return seen


def _book(http: httpx.Client, token: str) -> dict[str, Any]:
    return dict(http.get("/book", params={"token_id": token}).json())


def _tokens(market: dict[str, Any]) -> list[str]:
    return [t["token_id"] for t in market["tokens"]]


async def test_ping_pong_and_invalid_frames(server: VenueServer) -> None:
    async with connect(server.ws_url + "/ws/market") as ws:
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), WAIT_S) == "PONG"
        await ws.send("{not json")
        assert await asyncio.wait_for(ws.recv(), WAIT_S) == "INVALID OPERATION"


async def test_subscribe_sends_one_book_per_asset_in_a_batch_frame(
    server: VenueServer, markets: list[dict[str, Any]]
) -> None:
    assets = _tokens(markets[0]) + _tokens(markets[1])[:1] + ["123"]
    async with connect(server.ws_url + "/ws/market") as ws:
        await ws.send(json.dumps({"type": "market", "assets_ids": assets}))
        raw = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
    assert isinstance(raw, list)     # three books ready at once -> one array frame
    assert [b["asset_id"] for b in raw] == assets[:3]   # unknown "123" is ignored
    for book in raw:
        assert book["event_type"] == "book"
        assert "min_order_size" not in book
        assert "neg_risk" not in book
        market = next(m for m in markets if book["asset_id"] in _tokens(m))
        expected = book_hash(
            market=book["market"], asset_id=book["asset_id"], timestamp=book["timestamp"],
            bids=book["bids"], asks=book["asks"],
            min_order_size=str(market["minimum_order_size"]),
            tick_size=book["tick_size"], neg_risk=market["neg_risk"],
            last_trade_price=book["last_trade_price"],
        )
        assert book["hash"] == expected


def _apply(book: dict[str, Any], change: dict[str, Any]) -> None:
    levels = book["bids" if change["side"] == "BUY" else "asks"]
    levels[:] = [lv for lv in levels if lv["price"] != change["price"]]
    if change["size"] != "0":
        levels.append({"price": change["price"], "size": change["size"]})
    levels.sort(key=lambda lv: float(lv["price"]), reverse=change["side"] == "SELL")


async def test_price_change_is_mirrored_and_hashes_replay(
    server: VenueServer, http: httpx.Client, markets: list[dict[str, Any]]
) -> None:
    market = markets[2]
    yes, no = _tokens(market)
    trader = LocalTrader(http)
    async with connect(server.ws_url + "/ws/market") as ws:
        await ws.send(json.dumps({"type": "market", "assets_ids": [yes, no]}))
        books: dict[str, dict[str, Any]] = {}
        while len(books) < 2:
            books.update({b["asset_id"]: b for b in await _frames(ws) if b["event_type"] == "book"})
        tick = float(market["minimum_tick_size"])
        placed = trader.post("/order", trader.order(market, price=tick, size=7))
        assert placed.json()["success"] is True
        events = await _until(ws, lambda e: e["event_type"] == "price_change")
    change = events[-1]
    entries = {e["asset_id"]: e for e in change["price_changes"]}
    assert set(entries) == {yes, no}
    assert (entries[yes]["side"], entries[no]["side"]) == ("BUY", "SELL")
    assert float(entries[yes]["price"]) + float(entries[no]["price"]) == pytest.approx(1.0)
    assert entries[yes]["size"] == entries[no]["size"]
    for asset, entry in entries.items():
        book = books[asset]
        _apply(book, entry)
        recomputed = book_hash(
            market=book["market"], asset_id=asset, timestamp=change["timestamp"],
            bids=book["bids"], asks=book["asks"],
            min_order_size=str(market["minimum_order_size"]), tick_size=book["tick_size"],
            neg_risk=market["neg_risk"], last_trade_price=book["last_trade_price"],
        )
        assert entry["hash"] == recomputed
        assert entry["best_bid"] == book["bids"][-1]["price"]
        assert entry["best_ask"] == book["asks"][-1]["price"]


async def test_custom_feature_events_only_when_enabled(
    server: VenueServer, http: httpx.Client, markets: list[dict[str, Any]]
) -> None:
    market = markets[3]
    assets = _tokens(market)
    async with connect(server.ws_url + "/ws/market") as plain, \
            connect(server.ws_url + "/ws/market") as custom:
        await plain.send(json.dumps({"type": "market", "assets_ids": assets}))
        await custom.send(json.dumps({"type": "market", "assets_ids": assets,
                                      "custom_feature_enabled": True}))
        for ws in (plain, custom):   # the snapshots prove each subscription is in place
            assert {e["event_type"] for e in await _frames(ws)} == {"book"}
        resolved = await asyncio.to_thread(
            http.post, "/_polybot/admin/resolve",
            json={"condition_id": market["condition_id"], "outcome": "Yes"})
        assert resolved.status_code == 200
        custom_events = await _until(custom, lambda e: e["event_type"] == "market_resolved")
        # The plain socket sees the book changes of the cancelled orders but never a
        # custom-feature event; PONG marks the end of what the server sent before the PING.
        await plain.send("PING")
        plain_events: list[dict[str, Any]] = []
        while (raw := await asyncio.wait_for(plain.recv(), WAIT_S)) != "PONG":
            data = json.loads(raw)
            plain_events.extend(data if isinstance(data, list) else [data])
    assert custom_events[-1]["winning_asset_id"] == assets[0]
    assert custom_events[-1]["winning_outcome"] == "Yes"
    custom_kinds = {"best_bid_ask", "new_market", "market_resolved"}
    assert not custom_kinds & {e["event_type"] for e in plain_events}


async def test_dynamic_subscribe_and_unsubscribe(
    server: VenueServer, http: httpx.Client, markets: list[dict[str, Any]]
) -> None:
    first, second = markets[4], markets[5]
    async with connect(server.ws_url + "/ws/market") as ws:
        await ws.send(json.dumps({"type": "market", "assets_ids": _tokens(first)[:1]}))
        await _until(ws, lambda e: e["event_type"] == "book")
        await ws.send(json.dumps({"operation": "subscribe",
                                  "assets_ids": _tokens(second)[:1]}))
        got = await _until(ws, lambda e: e["event_type"] == "book")
        assert got[-1]["asset_id"] == _tokens(second)[0]
        await ws.send(json.dumps({"operation": "unsubscribe", "assets_ids": _tokens(first)}))
        await ws.send("PING")   # frames are handled in order: PONG means unsubscribed
        while await asyncio.wait_for(ws.recv(), WAIT_S) != "PONG":
            pass
        trader = LocalTrader(http)
        tick = float(first["minimum_tick_size"])
        placed = trader.post("/order", trader.order(first, price=tick, size=10)).json()
        assert placed.get("success"), placed
        await ws.send("PING")
        leftovers = []
        while (raw := await asyncio.wait_for(ws.recv(), WAIT_S)) != "PONG":
            leftovers.append(raw)
    assert leftovers == []


async def test_user_channel_auth_orders_and_trade_lifecycle(
    server: VenueServer, http: httpx.Client, markets: list[dict[str, Any]]
) -> None:
    market = next(m for m in reversed(markets)   # any untouched book with asks to take
                  if _book(http, _tokens(m)[0])["asks"])
    trader = LocalTrader(http)
    auth = {"apiKey": trader.creds.api_key, "secret": trader.creds.secret,
            "passphrase": trader.creds.passphrase}
    async with connect(server.ws_url + "/ws/user") as bad:
        await bad.send(json.dumps({"type": "user", "auth": {**auth, "secret": "x"}}))
        assert await asyncio.wait_for(bad.recv(), WAIT_S) == "INVALID AUTH"
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(bad.recv(), WAIT_S)
    async with connect(server.ws_url + "/ws/user") as ws:
        await ws.send(json.dumps({"type": "user", "auth": auth,
                                  "markets": [market["condition_id"]]}))
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), WAIT_S) == "PONG"   # subscribed
        book = await asyncio.to_thread(_book, http, _tokens(market)[0])
        best_ask = float(book["asks"][-1]["price"])
        taker = trader.order(market, price=best_ask, size=10, order_type="FAK")
        assert trader.post("/order", taker).json()["status"] == "matched"
        events = await _until(ws, lambda e: e["event_type"] == "trade"
                              and e["status"] == "CONFIRMED")
    orders = [e for e in events if e["event_type"] == "order"]
    assert orders[0]["type"] == "PLACEMENT"
    assert orders[0]["owner"] == trader.creds.api_key
    statuses = [e["status"] for e in events if e["event_type"] == "trade"]
    assert statuses == ["MATCHED", "MINED", "CONFIRMED"]
    trade = events[-1]
    assert trade["trader_side"] == "TAKER"
    assert trade["transaction_hash"].startswith("0x")
    assert trade["market"] == market["condition_id"]

"""WebSocket bridge: real publishers on NNG, a real uvicorn server, real WebSocket clients."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from api_harness import MARKET_ID, YES, Api, ApiServer, make_settings, short_tmp
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from polybot.bus.messages import BookDelta, BookSnapshot, Event, Level, LevelChange, Price
from polybot.bus.nng import Publisher
from polybot.core.clock import wall_ms
from services.api.app import ApiOptions, create_app


@pytest.fixture(scope="module")
def ws_api(stack_dir: Any) -> Iterator[tuple[Api, Publisher, Publisher]]:
    """Yield an API with small client queues plus publishers on prices.pub and events.pub."""
    settings = make_settings(stack_dir)
    app = create_app(settings, options=ApiOptions(ws_queue_size=256, ws_max_batch=100))
    with (
        ApiServer(app) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
        Publisher(settings.bus.prices_pub) as prices,
        Publisher(settings.bus.events_pub) as events,
    ):
        prices.wait_for_peers(1, timeout=20)
        events.wait_for_peers(1, timeout=20)
        token = (settings.data_dir / "api_token").read_text().strip()
        yield Api(settings, server, client, token), prices, events


def price(market: str, mid: float, token: str = "tok") -> Price:
    """Return a Price message."""
    return Price(
        market_id=market,
        token_id=token,
        bid=mid - 0.01,
        ask=mid + 0.01,
        mid=mid,
        timestamp=wall_ms(),
    )


def open_client(
    api: Api, channels: list[str], markets: list[str] | None = None
) -> ClientConnection:
    """Connect with the token, subscribe, and return once the subscription is confirmed."""
    ws = connect(
        f"{api.server.ws_url}?token={api.token}", max_size=None, open_timeout=20, legacy=True
    )
    assert json.loads(ws.recv(timeout=20))["type"] == "welcome"
    request: dict[str, Any] = {"op": "subscribe", "channels": channels}
    if markets is not None:
        request["markets"] = markets
    ws.send(json.dumps(request))
    reply = json.loads(ws.recv(timeout=20))
    assert reply["type"] == "subscribed", reply
    return ws


def receive_until(
    ws: ClientConnection, done: Any, timeout: float = 30.0
) -> tuple[list[dict[str, Any]], list[int]]:
    """Collect data messages until ``done(message)``; return them and each frame's size."""
    messages: list[dict[str, Any]] = []
    frames: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.01)))
        if isinstance(frame, dict):
            continue  # control messages (dropped notices, pongs)
        frames.append(len(frame))
        messages.extend(frame)
        if any(done(m) for m in frame):
            return messages, frames


def test_ws_without_token_is_refused(ws_api: tuple[Api, Publisher, Publisher]) -> None:
    api, _, _ = ws_api
    with connect(f"{api.server.ws_url}?token=wrong", open_timeout=20) as wrong:
        refusal = json.loads(wrong.recv(timeout=20))
        with pytest.raises(ConnectionClosed) as closed:
            wrong.recv(timeout=20)
    with connect(api.server.ws_url, open_timeout=20) as silent:
        silent.send(json.dumps({"op": "subscribe", "channels": ["prices"]}))
        second_refusal = json.loads(silent.recv(timeout=20))

    assert refusal["type"] == "error"
    assert "token" in refusal["detail"]
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert second_refusal["type"] == "error"
    assert "auth" in second_refusal["detail"]


def test_ws_first_message_auth_then_subscribe_and_ping(
    ws_api: tuple[Api, Publisher, Publisher],
) -> None:
    api, _, _ = ws_api
    with connect(api.server.ws_url, open_timeout=20) as ws:
        ws.send(json.dumps({"op": "auth", "token": api.token}))
        welcome = json.loads(ws.recv(timeout=20))
        ws.send(json.dumps({"op": "subscribe", "channels": ["trades", "nope"]}))
        bad = json.loads(ws.recv(timeout=20))
        ws.send("not json")
        garbage = json.loads(ws.recv(timeout=20))
        ws.send(json.dumps({"op": "ping", "id": 7}))
        pong = json.loads(ws.recv(timeout=20))

    assert welcome["type"] == "welcome"
    assert welcome["channels"] == [
        "prices",
        "books",
        "trades",
        "events",
    ]
    assert bad["type"] == "error"
    assert "channels" in bad["detail"]
    assert garbage["type"] == "error"
    assert pong == {"type": "pong", "id": 7}


def test_ws_bridges_prices_filtered_by_market(ws_api: tuple[Api, Publisher, Publisher]) -> None:
    api, prices, _ = ws_api
    with open_client(api, ["prices"], markets=["0xA"]) as ws:
        for index in range(20):
            prices.publish(price("0xB", 0.3))
            prices.publish(price("0xA", 0.5 + index / 100))
        prices.publish(price("0xA", 0.9, token="marker"))

        messages, _ = receive_until(ws, lambda m: m["token_id"] == "marker")

    assert {m["market_id"] for m in messages} == {"0xA"}
    assert [m["mid"] for m in messages[:20]] == [0.5 + i / 100 for i in range(20)]
    first = messages[0]
    assert (first["channel"], first["type"]) == ("prices", "price")
    assert isinstance(first["timestamp"], int)
    assert first["seq"] > 0


def test_ws_batches_a_burst_into_array_frames(ws_api: tuple[Api, Publisher, Publisher]) -> None:
    api, prices, _ = ws_api
    with open_client(api, ["prices"], markets=["0xBurst"]) as ws:
        for _ in range(200):
            prices.publish(price("0xBurst", 0.5))
        prices.publish(price("0xBurst", 0.5, token="marker"))

        messages, frames = receive_until(ws, lambda m: m["token_id"] == "marker")

    assert len(messages) == 201  # 201 < the queue size: nothing dropped
    assert max(frames) > 1  # coalesced: several messages per frame
    assert max(frames) <= 100  # ws_max_batch


def test_ws_events_channel_and_book_state_for_rest(
    ws_api: tuple[Api, Publisher, Publisher],
) -> None:
    api, prices, events = ws_api
    with open_client(api, ["events", "books"]) as ws:
        events.publish(
            Event(source="executor", event_type="order_filled", data={"x": 1}, timestamp=wall_ms())
        )
        event_messages, _ = receive_until(ws, lambda m: m["type"] == "event")
        prices.publish(
            BookSnapshot(
                market_id=MARKET_ID,
                token_id=YES,
                bids=[Level(0.40, 10), Level(0.39, 5)],
                asks=[Level(0.42, 7)],
                timestamp=wall_ms(),
            )
        )
        prices.publish(
            BookDelta(
                market_id=MARKET_ID,
                token_id=YES,
                changes=[LevelChange("BUY", 0.41, 3), LevelChange("SELL", 0.42, 0)],
                timestamp=wall_ms(),
            )
        )
        book_messages, _ = receive_until(ws, lambda m: m["type"] == "book_delta")
    book = api.client.get(f"/markets/{MARKET_ID}/book").json()

    assert event_messages[-1]["channel"] == "events"
    assert event_messages[-1]["data"] == {"x": 1}
    assert book_messages[0]["bids"] == [[0.40, 10.0], [0.39, 5.0]]
    assert book["bids"] == [
        {"price": 0.41, "size": 3.0},
        {"price": 0.40, "size": 10.0},
        {"price": 0.39, "size": 5.0},
    ]
    assert book["asks"] == []
    assert book["best_bid"] == 0.41
    assert book["mid"] is None


def raw_client(port: int, token: str, subscribe: dict[str, Any]) -> socket.socket:
    """Open a WebSocket by hand with a tiny receive buffer, subscribe, and never read again."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0]
    payload = json.dumps(subscribe).encode()
    mask = os.urandom(4)
    sock.sendall(
        bytes([0x81, 0x80 | len(payload)])
        + mask
        + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    )
    return sock


def big_book(index: int) -> BookSnapshot:
    """Return a deep book (about 4 kB of JSON) so a stuck client's buffers fill quickly."""
    levels = [Level(round(0.01 * (1 + i % 98), 2), 100.0 + i) for i in range(150)]
    return BookSnapshot(
        market_id="0xDeep", token_id=f"deep-{index}", bids=levels, asks=levels, timestamp=wall_ms()
    )


def test_ws_slow_client_does_not_stall_a_fast_one(ws_api: tuple[Api, Publisher, Publisher]) -> None:
    api, prices, _ = ws_api
    dropped_before = api.client.get("/health").json()["websocket"]["dropped"]
    stuck = raw_client(api.server.port, api.token, {"op": "subscribe", "channels": ["books"]})
    try:
        with open_client(api, ["books"], markets=["0xDeep"]) as fast:
            for index in range(4000):
                prices.publish(big_book(index))
                if index % 500 == 0:
                    # Pace the burst below NNG's buffer so the API itself never loses frames.
                    received, _ = receive_until(
                        fast, lambda m, i=index: m["token_id"] == f"deep-{i}"
                    )
            prices.publish(big_book(-1))
            received, _ = receive_until(fast, lambda m: m["token_id"] == "deep--1", timeout=60)
        api.server.wait_until(
            lambda: api.client.get("/health").json()["websocket"]["dropped"] > dropped_before,
            "the stuck client's queue to drop",
        )
    finally:
        stuck.close()

    assert received[-1]["token_id"] == "deep--1"


def test_ws_vanished_clients_are_forgotten(ws_api: tuple[Api, Publisher, Publisher]) -> None:
    api, prices, _ = ws_api
    api.server.wait_until(
        lambda: api.client.get("/health").json()["websocket"]["clients"] == 0, "idle"
    )
    clients = [open_client(api, ["prices"]) for _ in range(3)]
    raw = raw_client(api.server.port, api.token, {"op": "subscribe", "channels": ["prices"]})
    api.server.wait_until(
        lambda: api.client.get("/health").json()["websocket"]["clients"] == 4, "4"
    )

    clients[0].close()
    for ws in clients[1:]:
        ws.socket.close()  # vanish without a close frame
    raw.close()
    prices.publish(price("0xGone", 0.5))

    api.server.wait_until(
        lambda: api.client.get("/health").json()["websocket"]["clients"] == 0, "clients to be gone"
    )


def test_ws_server_shutdown_closes_idle_and_stuck_clients() -> None:
    with short_tmp() as base:
        settings = make_settings(base)
        app = create_app(settings)
        server = ApiServer(app)
        with server:
            token = (settings.data_dir / "api_token").read_text().strip()
            idle = connect(f"{server.ws_url}?token={token}", open_timeout=20, legacy=True)
            assert json.loads(idle.recv(timeout=20))["type"] == "welcome"
            stuck = raw_client(server.port, token, {"op": "subscribe", "channels": ["prices"]})
        # Leaving the block stopped uvicorn and joined its thread (ApiServer asserts that).
        with pytest.raises(ConnectionClosed):
            idle.recv(timeout=20)
        stuck.close()
        idle.close()

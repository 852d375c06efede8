"""Fault knobs over real HTTP/WS: injected errors, IP limits, trading modes, WS drops and feeds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from polybot.localvenue.server.harness import LocalTrader, VenueServer, quick_config
from polybot.localvenue.server.run import build_venue

WAIT_S = 10.0


@pytest.fixture(scope="module")
def server() -> Iterator[VenueServer]:
    with VenueServer(build_venue(quick_config(markets=60))) as running:
        yield running


@pytest.fixture
def http(server: VenueServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client
        # every test leaves the venue healthy for the next one
        client.post("/_polybot/admin/faults", json={"reset": True})
        client.post("/_polybot/admin/ratelimits", json={"ip_scale": 1.0})


@pytest.fixture(scope="module")
def market(server: VenueServer) -> dict[str, Any]:
    with httpx.Client(base_url=server.url) as client:
        v1 = {m["conditionId"] for m in client.get(
            "/gamma/markets", params={"limit": 500, "version": "v1"}).json()}
        return next(m for m in client.get("/markets").json()["data"]
                    if m["condition_id"] in v1 and not m["neg_risk"])


def _set(http: httpx.Client, **knobs: Any) -> dict[str, Any]:
    response = http.post("/_polybot/admin/faults", json=knobs)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_injected_errors_hit_only_the_chosen_paths(http: httpx.Client,
                                                   market: dict[str, Any]) -> None:
    token = market["tokens"][0]["token_id"]
    _set(http, error_5xx_rate=1.0, path_prefixes=["/book"])
    failed = http.get("/book", params={"token_id": token})
    assert (failed.status_code, failed.json()) == (500, {"error": "Internal Server Error"})
    assert http.get("/midpoint", params={"token_id": token}).status_code == 200
    assert http.get("/_polybot/admin/state").status_code == 200   # admin is never faulted
    _set(http, error_5xx_rate=0.0, error_425_rate=1.0)
    assert http.get("/book", params={"token_id": token}).status_code == 425
    _set(http, error_425_rate=0.0, error_429_rate=1.0)
    limited = http.get("/book", params={"token_id": token})
    assert limited.status_code == 429
    assert limited.json() == {"error": "Too Many Requests"}
    assert limited.headers["Retry-After"] == "1"


def test_bad_knobs_are_rejected(http: httpx.Client) -> None:
    assert http.post("/_polybot/admin/faults", json={"error_5xx_rate": 2}).status_code == 400
    assert http.post("/_polybot/admin/faults", json={"bogus": 1}).status_code == 400
    assert http.post("/_polybot/admin/faults", json={"trading_mode": "nap"}).status_code == 400


def test_timeouts_make_clients_time_out(http: httpx.Client) -> None:
    _set(http, timeout_rate=1.0, timeout_s=1.0, path_prefixes=["/time"])
    with pytest.raises(httpx.ReadTimeout):
        http.get("/time", timeout=0.1)


def test_ip_rate_limit_answers_429_with_retry_after(http: httpx.Client) -> None:
    http.post("/_polybot/admin/ratelimits", json={"ip_scale": 0.001})   # /ok: 1 per 10 s
    assert http.get("/ok").status_code == 200
    limited = http.get("/ok")
    assert limited.status_code == 429
    assert limited.json() == {"error": "Too Many Requests"}
    assert int(limited.headers["Retry-After"]) >= 1


def test_trading_modes(http: httpx.Client, market: dict[str, Any]) -> None:
    trader = LocalTrader(http)
    tick = float(market["minimum_tick_size"])
    resting = trader.post("/order", trader.order(market, price=tick, size=10)).json()
    assert resting["success"] is True
    _set(http, trading_mode="cancel-only")
    refused = trader.post("/order", trader.order(market, price=tick, size=10))
    assert refused.status_code == 503
    assert refused.json()["error"] == (
        "Trading is currently cancel-only. New orders are not accepted, but cancels are allowed.")
    _set(http, trading_mode="post-only")
    post_only = trader.post("/order", trader.order(market, price=tick, size=10))
    assert post_only.status_code == 503
    assert post_only.json()["code"] == "post_only_mode"
    _set(http, trading_mode="disabled")
    cancel = trader.request("DELETE", "/order", {"orderID": resting["orderID"]})
    assert cancel.status_code == 503
    assert cancel.json() == {
        "error": "Trading is currently disabled. Check polymarket.com for updates"}
    _set(http, trading_mode="cancel_only")
    cancel = trader.request("DELETE", "/order", {"orderID": resting["orderID"]})
    assert cancel.json() == {"canceled": [resting["orderID"]], "not_canceled": {}}


async def test_admin_drop_closes_every_socket(http: httpx.Client, server: VenueServer,
                                              market: dict[str, Any]) -> None:
    async with connect(server.ws_url + "/ws/market") as ws:
        await ws.send(json.dumps({"type": "market", "assets_ids": [
            market["tokens"][0]["token_id"]]}))
        await asyncio.wait_for(ws.recv(), WAIT_S)   # the snapshot: subscribed
        dropped = await asyncio.to_thread(http.post, "/_polybot/admin/drop-ws")
        assert dropped.json()["dropped"] >= 1
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), WAIT_S)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1011


async def test_random_drops_after_a_frame(http: httpx.Client, server: VenueServer,
                                          market: dict[str, Any]) -> None:
    _set(http, ws_drop_rate=1.0)
    async with connect(server.ws_url + "/ws/market") as ws:
        await ws.send(json.dumps({"type": "market", "assets_ids": [
            market["tokens"][0]["token_id"]]}))
        first = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
        assert first["event_type"] == "book"
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), WAIT_S)


async def test_silent_and_stale_feeds(http: httpx.Client, server: VenueServer,
                                      market: dict[str, Any]) -> None:
    trader = LocalTrader(http)
    tick = float(market["minimum_tick_size"])
    async with connect(server.ws_url + "/ws/market") as ws:
        await ws.send(json.dumps({"type": "market", "assets_ids": [
            market["tokens"][0]["token_id"]]}))
        await asyncio.wait_for(ws.recv(), WAIT_S)
        # silent: book changes are not sent, but PING is still answered
        _set(http, feed="silent")
        assert trader.post("/order", trader.order(market, price=tick, size=10)).json()["success"]
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), WAIT_S) == "PONG"
        # stale: not even PONG. The next PONG seen is the one after going live again.
        _set(http, feed="stale")
        await ws.send("PING")
        await ws.send("STALE-MARKER")   # answered INVALID OPERATION: proves the PING was read
        assert await asyncio.wait_for(ws.recv(), WAIT_S) == "INVALID OPERATION"
        _set(http, feed="live")
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), WAIT_S) == "PONG"

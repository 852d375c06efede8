"""UserStream against a real local WebSocket server: auth frame, keep-alive, trade life cycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fixture_files import load_fixture
from ws_server import PolyWsServer, wait_until

from polybot.venues.polymarket.ws_parse import OrderEvent
from polybot.venues.polymarket.ws_user import (
    UserCredentials,
    UserOutput,
    UserStream,
    UserStreamConfig,
    UserTrade,
)

CREDS = UserCredentials("3e2c94ca-8124-c4c1-c7ea-be1ea21b71fe", "c2VjcmV0", "pass-phrase")
TAKER_TRADE: dict[str, Any] = load_fixture("nt2024_ws_user_trade2.json")   # our taker BUY, MATCHED
MAKER_TRADE: dict[str, Any] = load_fixture("nt2024_ws_user_trade1.json")


@pytest.fixture
async def server() -> AsyncIterator[PolyWsServer]:
    async with PolyWsServer() as srv:
        yield srv


def _config(server: PolyWsServer, **kw: Any) -> UserStreamConfig:
    return UserStreamConfig(
        url=server.url, ping_interval_s=0.05, stale_after_s=5.0, backoff_initial_s=0.01,
        backoff_max_s=0.05, **kw,
    )


def _trades(events: list[UserOutput]) -> list[UserTrade]:
    return [e for e in events if isinstance(e, UserTrade)]


async def test_auth_frame_with_and_without_markets(server: PolyWsServer) -> None:
    async with UserStream(CREDS, _config(server, markets=("0xabc",))):
        await wait_until(lambda: len(server.clients) == 1 and bool(server.clients[0].frames))
    assert server.clients[0].frames[0] == {
        "type": "user",
        "auth": {"apiKey": CREDS.api_key, "secret": "c2VjcmV0", "passphrase": "pass-phrase"},
        "markets": ["0xabc"],
    }
    async with UserStream(CREDS, _config(server)):
        await wait_until(lambda: len(server.clients) == 2 and bool(server.clients[1].frames))
    assert "markets" not in server.clients[1].frames[0]
    assert "c2VjcmV0" not in repr(CREDS)


async def test_trade_lifecycle_matched_mined_confirmed(server: PolyWsServer) -> None:
    events: list[UserOutput] = []
    async with UserStream(CREDS, _config(server), on_event=events.append) as stream:
        await wait_until(lambda: bool(server.clients) and server.clients[0].pings >= 1)
        await wait_until(lambda: stream.conn.pongs >= 1, what="pong")
        for status in ("MATCHED", "MINED", "CONFIRMED", "MINED"):
            await server.push({**TAKER_TRADE, "status": status})
        await wait_until(lambda: len(_trades(events)) == 4)
    matched, mined, confirmed, late = _trades(events)
    assert (matched.first_seen, matched.previous_status, matched.terminal) == (True, None, False)
    assert (mined.first_seen, mined.previous_status) == (False, "MATCHED")
    assert (confirmed.terminal, confirmed.in_order) == (True, True)
    assert (late.in_order, late.terminal) == (False, True)   # a late MINED does not undo CONFIRMED
    assert stream.lifecycle.status[TAKER_TRADE["id"]] == "CONFIRMED"
    assert stream.lifecycle.out_of_order == 1
    (fill,) = matched.fills
    assert (fill.liquidity, fill.side, str(fill.size), fill.status) == ("TAKER", "BUY", "5", "MATCHED")
    assert confirmed.fills[0].status == "CONFIRMED"


async def test_retrying_then_failed(server: PolyWsServer) -> None:
    events: list[UserOutput] = []
    async with UserStream(CREDS, _config(server), on_event=events.append):
        await wait_until(lambda: bool(server.clients))
        await server.push([{**TAKER_TRADE, "status": s} for s in ("MATCHED", "RETRYING", "FAILED")])
        await wait_until(lambda: len(_trades(events)) == 3)
    assert [t.in_order for t in _trades(events)] == [True, True, True]
    assert _trades(events)[-1].terminal


async def test_maker_fill_by_address_and_order_events_in_one_array_frame(
    server: PolyWsServer,
) -> None:
    maker = MAKER_TRADE["maker_orders"][0]
    config = _config(server, addresses=(maker["maker_address"].lower(),))
    stream = UserStream(UserCredentials("other-key", "s", "p"), config)
    got: list[UserOutput] = []
    async with stream:
        await wait_until(lambda: bool(server.clients))
        await server.push([
            load_fixture("nt2024_ws_order_placement.json"), MAKER_TRADE,
            load_fixture("nt2026_ws_user_order_fok_killed_sanitized.json"),
        ])
        async for event in stream:
            got.append(event)
            if len(got) == 3:
                break
    placed, trade, killed = got
    assert isinstance(placed, OrderEvent)
    assert placed.status == "LIVE"
    assert isinstance(trade, UserTrade)
    (fill,) = trade.fills   # only the maker order at our address; trader_side MAKER → no taker leg
    assert (fill.order_id, fill.asset_id, fill.side) == (maker["order_id"], maker["asset_id"], "BUY")
    assert isinstance(killed, OrderEvent)
    assert killed.status_base == "CANCELED"


async def test_reconnect_reauthenticates_and_dynamic_markets(server: PolyWsServer) -> None:
    async with UserStream(CREDS, _config(server, markets=("0x1",))) as stream:
        await wait_until(lambda: bool(server.clients) and bool(server.clients[0].frames))
        await stream.subscribe(["0x2"])
        await stream.unsubscribe(["0x1"])
        await wait_until(lambda: len(server.clients[0].frames) == 3)
        assert server.clients[0].frames[1:] == [
            {"operation": "subscribe", "markets": ["0x2"]},
            {"operation": "unsubscribe", "markets": ["0x1"]},
        ]
        await server.drop_all()
        await wait_until(lambda: len(server.clients) == 2 and bool(server.clients[1].frames))
        assert server.clients[1].frames[0]["markets"] == ["0x2"]
        assert stream.conn.disconnects == 1


async def test_silent_user_feed_reconnects() -> None:
    async with PolyWsServer(answer_pings=False) as server:
        config = UserStreamConfig(
            url=server.url, ping_interval_s=0.05, stale_after_s=0.3, backoff_initial_s=0.01,
            backoff_max_s=0.05,
        )
        async with UserStream(CREDS, config) as stream:
            await wait_until(lambda: len(server.clients) >= 2, what="stale reconnect")
            assert stream.conn.stale_disconnects >= 1

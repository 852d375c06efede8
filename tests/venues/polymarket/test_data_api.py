"""DataApiClient against the loopback server (mounted under /data-api like the local venue)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from fixture_files import load_fixture
from http_server import FixtureServer, Recorded, Reply, shared_server

from polybot.core.errors import NotFound
from polybot.venues.polymarket.data_api import DataApiClient

PREFIX = "/data-api"
WALLET = "0x1111111111111111111111111111111111111111"


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    srv = shared_server()
    srv.reset()
    yield srv
    srv.reset()


def client(server: FixtureServer) -> DataApiClient:
    return DataApiClient(server.base_url + PREFIX)


async def test_v2_trades_follow_the_cursor(server: FixtureServer) -> None:
    rows = load_fixture("nt2026_dataapi_v2_trades_sanitized_2026-08.json")["data"]

    def handler(req: Recorded) -> Reply:
        if req.param("cursor") is None:
            return Reply(json={"data": rows[:2],
                               "pagination": {"has_more": True, "next_cursor": "sig.abc"}})
        return Reply(json={"data": rows[2:],
                           "pagination": {"has_more": False, "next_cursor": None}})

    server.route("GET", f"{PREFIX}/v2/trades", handler)
    async with client(server) as data:
        trades = await data.get_trades(user=WALLET, condition=["0xa", "0xb"], page_size=2)
        capped = await data.get_trades(user=WALLET, max_items=1)
    assert len(trades) == len(rows)
    assert trades[0].proxy_wallet == WALLET
    assert isinstance(trades[0].price, Decimal)
    assert len(capped) == 1
    sent = server.requests(f"{PREFIX}/v2/trades")
    assert [r.param("cursor") for r in sent[:2]] == [None, "sig.abc"]
    assert all(r.param("offset") is None for r in sent)        # offset is a 400 on v2
    assert sent[1].param("user") == WALLET                     # anchors re-sent with cursor
    assert sent[0].param("condition") == "0xa,0xb"


async def test_v2_positions_holders_value_leaderboard_history(server: FixtureServer) -> None:
    position = {"proxy_wallet": WALLET, "token_id": "7", "condition_id": "0xc",
                "current_size": 12.5, "avg_price": 0.4, "current_value": 6.25,
                "realized_pnl": 0, "unrealized_pnl": 1.25, "redeemable": False,
                "negative_risk": True, "status": "OPEN", "outcome": "Yes", "outcome_index": 0}
    server.route("GET", f"{PREFIX}/v2/positions", Reply(json={
        "data": [position], "pagination": {"has_more": False}}))
    server.route("GET", f"{PREFIX}/v2/holders", Reply(json={"data": [
        {"token_id": "7", "holders": [{"proxy_wallet": WALLET, "amount": 100.5,
                                       "outcome_index": 0}]}]}))
    server.route("GET", f"{PREFIX}/v2/value", Reply(json={"data": {"proxy_wallet": WALLET,
                                                                  "value": 123.4}}))
    server.route("GET", f"{PREFIX}/v2/leaderboard", Reply(json={"data": [
        {"rank": 1, "proxy_wallet": WALLET, "name": "whale", "pnl": 1000.5, "volume": 5e5}],
        "pagination": {"has_more": False}}))
    server.route("GET", f"{PREFIX}/v2/prices-history", Reply(json={"data": [
        {"timestamp": 1700000000, "price": 0.42, "resolution_seconds": 60}]}))
    async with client(server) as data:
        positions = await data.get_positions(user=WALLET, status="OPEN")
        assert positions[0].current_size == Decimal("12.5")
        assert positions[0].negative_risk
        holders = await data.get_holders("0xc", limit=10)
        assert holders[0].holders[0].amount == Decimal("100.5")
        assert (await data.get_value(WALLET)).value == Decimal("123.4")
        board = await data.get_leaderboard(time_period="month", limit=10)
        assert board[0].name == "whale"
        assert board[0].pnl == Decimal("1000.5")
        history = await data.get_prices_history("7", interval="1d")
        assert history[0].price == Decimal("0.42")
    assert server.requests(f"{PREFIX}/v2/leaderboard")[0].param("time_period") == "month"


async def test_v1_offset_endpoints(server: FixtureServer) -> None:
    server.route("GET", f"{PREFIX}/trades",
                 Reply(json=load_fixture("nt2024_dataapi_v1_trades_sanitized.json")))
    server.route("GET", f"{PREFIX}/positions", Reply(json=[{
        "proxyWallet": WALLET, "asset": "7", "conditionId": "0xc", "size": 3, "avgPrice": 0.5,
        "initialValue": 1.5, "currentValue": 2.1, "cashPnl": 0.6, "curPrice": 0.7,
        "redeemable": True, "negativeRisk": False, "oppositeAsset": "8", "outcomeIndex": 1}]))
    server.route("GET", f"{PREFIX}/activity", Reply(json=[{
        "proxyWallet": WALLET, "timestamp": 1729000180, "conditionId": "0xc", "type": "TRADE",
        "size": 5, "usdcSize": 2.5, "price": 0.5, "asset": "7", "side": "BUY"}]))
    server.route("GET", f"{PREFIX}/holders", Reply(json=[{"token": "7", "holders": [
        {"proxyWallet": WALLET, "amount": 9, "outcomeIndex": 0, "name": "h"}]}]))
    async with client(server) as data:
        trades = await data.get_trades_v1(user=WALLET, limit=50, offset=100, takerOnly=True)
        assert trades[0].token_id.startswith("2174263314")
        assert trades[0].size == Decimal("5.4")
        position = (await data.get_positions_v1(user=WALLET))[0]
        assert (position.token_id, position.current_size, position.current_price) == (
            "7", Decimal(3), Decimal("0.7"))
        assert position.opposite_token_id == "8"
        assert position.redeemable
        activity = (await data.get_activity_v1(user=WALLET, type="TRADE"))[0]
        assert activity.usdc_size == Decimal("2.5")
        assert activity.token_id == "7"
        holders = await data.get_holders_v1("0xc")
        assert holders[0].token_id == "7"
        assert holders[0].holders[0].name == "h"
        server.route("GET", f"{PREFIX}/trades", Reply(status=404, json={"error": "not found"}))
        with pytest.raises(NotFound):
            await data.get_trades_v1(user=WALLET)
    sent = server.requests(f"{PREFIX}/trades")[0]
    assert (sent.param("limit"), sent.param("offset"), sent.param("takerOnly")) == (
        "50", "100", "true")

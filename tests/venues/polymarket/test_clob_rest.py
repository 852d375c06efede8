"""ClobClient against the loopback server: public data, cursor pages, L1/L2 auth on the wire."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from collections.abc import Iterator
from decimal import Decimal

import pytest
from fixture_files import load_fixture
from http_server import FixtureServer, Recorded, Reply, shared_server

from polybot.core.clock import ManualClock
from polybot.core.errors import InsufficientFunds, OrderRejected
from polybot.venues.polymarket.auth import ApiCreds, verify_clob_auth
from polybot.venues.polymarket.clob import END_CURSOR, START_CURSOR, ClobClient
from polybot.venues.polymarket.orders import InvalidOrderError, OrderBuilder
from polybot.venues.polymarket.signer import PrivateKeySigner

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
CREDS = ApiCreds(api_key="00000000-1111-2222-3333-444444444444",
                 secret=base64.urlsafe_b64encode(b"k" * 32).decode(), passphrase="pp")
SIGNER = PrivateKeySigner(KEY)


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    srv = shared_server()
    srv.reset()
    yield srv
    srv.reset()


def client(server: FixtureServer) -> ClobClient:
    return ClobClient(server.base_url, creds=CREDS, signer=SIGNER, chain_id=137)


def assert_l2_signed(req: Recorded) -> None:
    """Recompute the HMAC independently over ts+METHOD+path(no query)+exact body bytes."""
    h = req.headers
    assert h["poly_address"] == SIGNER.address
    assert h["poly_api_key"] == CREDS.api_key
    assert h["poly_passphrase"] == CREDS.passphrase
    message = f"{h['poly_timestamp']}{req.method}{req.path}".encode() + req.body
    digest = hmac.new(base64.urlsafe_b64decode(CREDS.secret), message, hashlib.sha256).digest()
    assert h["poly_signature"] == base64.urlsafe_b64encode(digest).decode()


async def test_public_market_data(server: FixtureServer) -> None:
    book = load_fixture("nt2026_clob_http_book_empty_ask_2026-08-03.json")
    token = book["asset_id"]
    routes = {
        ("GET", "/ok"): "OK", ("GET", "/time"): 1785734468, ("GET", "/version"): {"version": 2},
        ("GET", "/book"): book, ("POST", "/books"): [book],
        ("GET", "/price"): {"price": "0.45"},
        ("POST", "/prices"): {token: {"BUY": "0.49", "SELL": "0.51"}},
        ("GET", "/midpoint"): {"mid": "0.5"}, ("POST", "/midpoints"): {token: "0.5"},
        ("GET", "/spread"): {"spread": "0.02"}, ("POST", "/spreads"): {token: "0.02"},
        ("GET", "/last-trade-price"): {"price": "0.5", "side": "BUY"},
        ("POST", "/last-trades-prices"): [{"token_id": token, "price": "0.5", "side": ""}],
        ("GET", "/tick-size"): {"minimum_tick_size": 0.001},
        ("GET", "/neg-risk"): {"neg_risk": True}, ("GET", "/fee-rate"): {"base_fee": 0},
        ("GET", "/prices-history"): {"history": [{"t": 1700000000, "p": 0.51}]},
        ("GET", f"/markets-by-token/{token}"): {"condition_id": book["market"]},
        ("GET", f"/clob-markets/{book['market']}"): {
            "c": book["market"], "t": [{"t": token, "o": "Yes"}, {"t": "2", "o": "No"}],
            "mts": 0.001, "nr": True, "fd": {"r": 0.05, "e": 1, "to": True}, "mbf": 1000,
            "tbf": 1000, "ao": True, "mos": 5, "sd": 3, "itode": True},
        ("GET", f"/markets/{book['market']}"): load_fixture("nt2024_clob_http_market.json"),
    }
    for (method, path), payload in routes.items():
        server.route(method, path, Reply(json=payload))
    async with client(server) as clob:
        assert await clob.ok()
        assert await clob.server_time() == 1785734468
        assert await clob.version() == 2
        got = await clob.get_book(token)
        assert got.best_bid is not None
        assert got.best_bid.price == Decimal("0.002")
        assert (await clob.get_books([token]))[0] == got
        assert await clob.get_price(token, "BUY") == Decimal("0.45")
        assert (await clob.get_prices([(token, "BUY")]))[token]["SELL"] == Decimal("0.51")
        assert await clob.get_midpoint(token) == Decimal("0.5")
        assert await clob.get_midpoints([token]) == {token: Decimal("0.5")}
        assert await clob.get_spread(token) == Decimal("0.02")
        assert await clob.get_spreads([token]) == {token: Decimal("0.02")}
        assert (await clob.get_last_trade_price(token)).side == "BUY"
        assert (await clob.get_last_trades_prices([token]))[token].price == Decimal("0.5")
        assert await clob.get_tick_size(token) == Decimal("0.001")
        assert await clob.get_neg_risk(token) is True
        assert await clob.get_fee_rate_bps(token) == 0
        history = await clob.get_prices_history(token, interval="1d", fidelity_min=60)
        assert history[0].price == Decimal("0.51")
        assert await clob.get_market_by_token(token) == book["market"]
        details = await clob.get_clob_market(book["market"])
        assert details.fee_schedule.rate == Decimal("0.05")
        assert details.neg_risk
        assert details.taker_order_delay
        assert details.seconds_delay == 3
        assert (await clob.get_market(book["market"])).neg_risk
    assert server.requests("/books")[0].body == f'[{{"token_id":"{token}"}}]'.encode()
    assert server.requests("/prices-history")[0].param("market") == token
    assert "poly_signature" not in server.requests("/book")[0].headers


async def test_markets_cursor_pagination(server: FixtureServer) -> None:
    data = load_fixture("nt2024_clob_http_markets.json")["data"]
    pages = {START_CURSOR: (data[:60], "NjA="), "NjA=": (data[60:], END_CURSOR)}

    def handler(req: Recorded) -> Reply:
        items, nxt = pages[req.param("next_cursor") or ""]
        return Reply(json={"data": items, "next_cursor": nxt, "limit": 60, "count": len(items)})

    server.route("GET", "/markets", handler)
    async with client(server) as clob:
        result = [m async for m in clob.iter_markets()]
        first = await clob.markets_page()
    assert len(result) == 100
    assert first.next_cursor == "NjA="
    assert [r.param("next_cursor") for r in server.requests("/markets")][:2] == [
        START_CURSOR, "NjA="]


async def test_open_orders_pages_are_l2_signed(server: FixtureServer) -> None:
    order = {"id": "0xabc", "status": "LIVE", "market": "0x1", "asset_id": "7", "side": "BUY",
             "original_size": "10", "size_matched": "2.5", "price": "0.45",
             "created_at": 1725842520, "expiration": "0", "order_type": "GTC"}

    def handler(req: Recorded) -> Reply:
        if req.param("next_cursor") == START_CURSOR:
            return Reply(json={"data": [order], "next_cursor": "MQ==", "limit": 1, "count": 1})
        return Reply(json={"data": [{**order, "id": "0xdef"}], "next_cursor": END_CURSOR})

    server.route("GET", "/data/orders", handler)
    async with client(server) as clob:
        orders = await clob.get_open_orders(market="0x1")
    assert [o.id for o in orders] == ["0xabc", "0xdef"]
    assert orders[0].size_matched == Decimal("2.5")
    for req in server.requests("/data/orders"):
        assert req.param("market") == "0x1"
        assert_l2_signed(req)      # signed path is /data/orders although a query was sent


async def test_post_order_and_rejections(server: FixtureServer) -> None:
    builder = OrderBuilder(SIGNER, rng=random.Random(3), clock=ManualClock(1_780_000_000_000_000))
    order = builder.build_limit_order(token_id="1234", side="BUY", price="0.56", size="100",
                                      tick_size="0.01")
    server.script("POST", "/order",
                  Reply(json={"success": True, "orderID": order.order_id, "status": "live"}),
                  Reply(json={"success": False, "errorMsg": "order 0x1 is invalid. Price "
                              "(0.555) breaks minimum tick size rule: 0.01"}),
                  Reply(status=400, json={"error": "not enough balance / allowance"}))
    async with client(server) as clob:
        accepted = await clob.post_order(order)
        assert accepted.order_id == order.order_id
        assert accepted.status == "live"
        with pytest.raises(OrderRejected, match="tick size"):
            await clob.post_order(order)
        with pytest.raises(InsufficientFunds):
            await clob.post_order(order)
        with pytest.raises(InvalidOrderError):
            await clob.post_orders([order] * 16)          # validated before sending
    sent = server.requests("/order")
    assert len(sent) == 3                                   # no retries of rejections
    assert sent[0].body == order.to_json(CREDS.api_key)     # the exact payload bytes
    assert_l2_signed(sent[0])
    assert server.requests("/orders") == []


async def test_batch_cancel_account_endpoints(server: FixtureServer) -> None:
    cancel = {"canceled": ["0x1"], "not_canceled": {"0x2": "already canceled or matched"}}
    for method, path in [("DELETE", "/order"), ("DELETE", "/orders"), ("DELETE", "/cancel-all"),
                         ("DELETE", "/cancel-market-orders")]:
        server.route(method, path, Reply(json=cancel))
    server.route("POST", "/orders", Reply(json=[{"success": True, "orderID": "0x1"},
                                                {"success": False, "errorMsg": "Duplicated"}]))
    server.route("GET", "/balance-allowance", Reply(json={
        "balance": "1000000000", "allowances": {"0xE111": "5", "0xe222": "0"}}))
    server.route("GET", "/balance-allowance/update", Reply(json=""))
    server.route("GET", "/order-scoring", Reply(json={"scoring": True}))
    server.route("POST", "/orders-scoring", Reply(json={"0x1": False}))
    server.route("POST", "/v1/heartbeats", Reply(json={"heartbeat_id": "hb-2"}))
    server.route("GET", "/data/order/0x9", Reply(json=None))
    server.route("GET", "/data/trades", Reply(json={
        "data": [load_fixture("nt2024_clob_data_trade_item.json")], "next_cursor": END_CURSOR}))
    builder = OrderBuilder(SIGNER, rng=random.Random(4), clock=ManualClock(1_780_000_000_000_000))
    orders = [builder.build_limit_order(token_id="1", side="SELL", price="0.5", size="10",
                                        tick_size="0.01") for _ in range(2)]
    async with client(server) as clob:
        results = await clob.post_orders(orders)
        assert [r.success for r in results] == [True, False]
        assert (await clob.cancel_order("0x1")).not_canceled["0x2"].startswith("already")
        await clob.cancel_orders(["0x1", "0x2"])
        await clob.cancel_all()
        await clob.cancel_market_orders(market="0xm")
        balance = await clob.get_balance_allowance("COLLATERAL", signature_type=0)
        assert balance.balance == 1_000_000_000
        assert balance.allowances["0xE111"] == 5
        await clob.update_balance_allowance()
        assert await clob.is_order_scoring("0x1") is True
        assert await clob.are_orders_scoring(["0x1"]) == {"0x1": False}
        assert await clob.post_heartbeat() == "hb-2"
        assert await clob.get_order("0x9") is None
        trades = await clob.get_trades(market="0xdd")
        assert trades[0].maker_orders[0].order_id.startswith("0x6dd1")
    assert server.requests("/order", "DELETE")[0].body == b'{"orderID":"0x1"}'
    assert server.requests("/orders", "DELETE")[0].body == b'["0x1","0x2"]'
    assert server.requests("/cancel-all")[0].body == b""
    assert server.requests("/v1/heartbeats")[0].body == b'{"heartbeat_id":""}'
    for req in server.recorded:
        assert_l2_signed(req)


async def test_create_or_derive_api_key_uses_l1(server: FixtureServer) -> None:
    server.route("POST", "/auth/api-key", Reply(status=400,
                                                json={"error": "Could not create api key"}))
    server.route("GET", "/auth/derive-api-key", Reply(json={
        "apiKey": "k-1", "secret": CREDS.secret, "passphrase": "p-1"}))
    async with ClobClient(server.base_url, signer=SIGNER) as clob:
        creds = await clob.create_or_derive_api_key(nonce=0)
        assert creds.api_key == "k-1"
        assert clob.creds == creds
    for req in server.recorded:
        h = req.headers
        assert h["poly_nonce"] == "0"
        assert verify_clob_auth(h["poly_signature"], h["poly_address"], h["poly_timestamp"], 0,
                                137)
    assert [r.path for r in server.recorded] == ["/auth/api-key", "/auth/derive-api-key"]

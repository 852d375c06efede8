"""The official SDK (py_clob_client_v2, unchanged) against the local venue, plus order-rule checks.

The first half drives ``ClobClient`` exactly as a user would: keys, books, orders, cancels and
fills. The second half builds orders with PolyBot's own EIP-712 code to break one rule at a time
and checks the official error text and status (reference §3.4, §9.5).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import (
    AssetType,
    BalanceAllowanceParams,
    MarketOrderArgsV2,
    OpenOrderParams,
    OrderArgsV2,
    OrderPayload,
    OrderType,
    PostOrdersV2Args,
    TradeParams,
)
from py_clob_client_v2.exceptions import PolyApiException
from venue_markets import protocol_v1_markets

from polybot.localvenue.server.harness import LocalTrader, VenueServer, quick_config
from polybot.localvenue.server.run import build_venue
from polybot.venues.polymarket.signer import PrivateKeySigner

CHAIN = 137


@pytest.fixture(scope="module")
def server() -> Iterator[VenueServer]:
    with VenueServer(build_venue(quick_config(markets=60))) as running:
        yield running



@pytest.fixture(scope="module")
def markets(http: httpx.Client) -> list[dict[str, Any]]:
    """CLOB market objects of protocol-v1 markets (v2 ones sign for ExchangeV3)."""
    return protocol_v1_markets(http)


def _standard(markets: list[dict[str, Any]]) -> dict[str, Any]:
    return next(m for m in markets if not m["neg_risk"] and m["minimum_tick_size"] == 0.01)


def _sdk(server: VenueServer, http: httpx.Client, fund: str = "1000") -> ClobClient:
    client = ClobClient(server.url, CHAIN, key="0x" + secrets.token_hex(32))
    funded = http.post("/_polybot/admin/fund", json={"address": client.get_address(),
                                                     "amount": fund})
    assert funded.status_code == 200
    client.set_api_creds(client.create_or_derive_api_key())
    return client


def test_sdk_reads_books_and_market_info(server: VenueServer, http: httpx.Client,
                                         markets: list[dict[str, Any]]) -> None:
    client = ClobClient(server.url, CHAIN)
    token = markets[0]["tokens"][0]["token_id"]
    book = client.get_order_book(token)
    assert client.get_order_book_hash(book) == book["hash"]
    assert client.get_tick_size(token) == str(markets[0]["minimum_tick_size"])
    assert client.get_neg_risk(token) == markets[0]["neg_risk"]
    assert client.get_clob_market_info(markets[0]["condition_id"])["c"] == markets[0]["condition_id"]
    assert client.get_ok() == "OK"
    assert client.get_version() == 2


def test_sdk_keys_orders_cancels_and_fills(server: VenueServer, http: httpx.Client,
                                           markets: list[dict[str, Any]]) -> None:
    client = _sdk(server, http)
    assert client.create_or_derive_api_key().api_key == client.creds.api_key   # derive path
    market = _standard(markets)
    yes = market["tokens"][0]["token_id"]
    balance = client.get_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
    assert balance["balance"] == "1000000000"

    resting = client.create_and_post_order(OrderArgsV2(token_id=yes, price=0.05, size=20,
                                                       side="BUY"))
    assert (resting["success"], resting["status"]) == (True, "live")
    assert resting["orderID"].startswith("0x")
    assert len(resting["orderID"]) == 66
    assert [o["id"] for o in client.get_open_orders(OpenOrderParams(asset_id=yes))] == [
        resting["orderID"]]
    assert client.get_order(resting["orderID"])["status"] == "LIVE"
    cancel = client.cancel_order(OrderPayload(orderID=resting["orderID"]))
    assert cancel == {"canceled": [resting["orderID"]], "not_canceled": {}}
    again = client.cancel_order(OrderPayload(orderID=resting["orderID"]))
    assert again["not_canceled"] == {resting["orderID"]: "already canceled or matched"}

    # A marketable FOK buy: the SDK waits until the trade carries a transaction hash.
    fill = client.create_and_post_market_order(
        MarketOrderArgsV2(token_id=yes, amount=10, side="BUY"), order_type=OrderType.FOK)
    assert fill["success"]
    assert fill["status"] == "matched"
    assert fill["tradeIDs"]
    assert fill["transactionsHashes"]
    trades = client.get_trades(TradeParams(id=fill["tradeIDs"][0]))
    assert [t["id"] for t in trades] == fill["tradeIDs"]
    trade = trades[0]
    assert trade["trader_side"] == "TAKER"
    assert trade["owner"] == client.creds.api_key
    assert trade["status"] in ("MINED", "CONFIRMED")
    assert trade["transaction_hash"]
    assert trade["maker_orders"]
    shares = client.get_balance_allowance(BalanceAllowanceParams(
        asset_type=AssetType.CONDITIONAL, token_id=yes))
    assert int(shares["balance"]) == round(float(trade["size"]) * 1_000_000)


def test_sdk_batch_and_cancel_all(server: VenueServer, http: httpx.Client,
                                  markets: list[dict[str, Any]]) -> None:
    client = _sdk(server, http)
    yes = _standard(markets)["tokens"][0]["token_id"]
    orders = [client.create_order(OrderArgsV2(token_id=yes, price=0.02 + i / 100, size=10,
                                              side="BUY")) for i in range(3)]
    placed = client.post_orders([PostOrdersV2Args(order=o, orderType=OrderType.GTC) for o in orders])
    assert [p["status"] for p in placed] == ["live"] * 3
    result = client.cancel_all()
    assert sorted(result["canceled"]) == sorted(p["orderID"] for p in placed)
    assert client.get_open_orders() == []


def test_sdk_neg_risk_and_protocol_v2_markets(server: VenueServer, http: httpx.Client) -> None:
    client = _sdk(server, http)
    gamma = http.get("/gamma/markets", params={"limit": 500}).json()
    neg = next(m for m in gamma if m["negRisk"] and m.get("clobTokenIds"))
    neg_token = json.loads(neg["clobTokenIds"])[0]
    tick = float(neg["orderPriceMinTickSize"])
    placed = client.create_and_post_order(OrderArgsV2(token_id=neg_token, price=tick, size=10,
                                                      side="BUY"))
    assert placed["success"], placed       # signed for the NegRisk exchange
    v2 = next(m for m in gamma if m["version"] == "v2")
    position = v2["positionIds"][0]
    tick = float(v2["orderPriceMinTickSize"])
    placed = client.create_and_post_order(OrderArgsV2(
        token_id=None, position_id=position, price=tick, size=10, side="BUY"))
    assert placed["success"], placed       # signed for ExchangeV3, domain "3"


def test_sdk_heartbeats(server: VenueServer, http: httpx.Client) -> None:
    client = _sdk(server, http)
    first = client.post_heartbeat("")["heartbeat_id"]
    second = client.post_heartbeat(first)["heartbeat_id"]
    assert second != first
    with pytest.raises(PolyApiException) as refused:
        client.post_heartbeat(first)
    assert refused.value.status_code == 400
    assert refused.value.error_msg == {"error_msg": "Invalid Heartbeat ID", "heartbeat_id": second}


# ---------------------------------------------------------------------------------------------
# rule-by-rule conformance with hand-built orders


def _error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


def test_owner_must_be_the_api_key(http: httpx.Client, markets: list[dict[str, Any]]) -> None:
    trader = LocalTrader(http)
    other = LocalTrader(http)
    order = trader.order(_standard(markets), price=0.05, size=10, owner=other.creds.api_key)
    assert _error(trader.post("/order", order)) == (
        400, "the order owner has to be the owner of the API KEY")


def test_signer_must_be_the_api_key_address(http: httpx.Client,
                                            markets: list[dict[str, Any]]) -> None:
    trader = LocalTrader(http)
    order = trader.order(_standard(markets), price=0.05, size=10,
                         signer=PrivateKeySigner("0x" + secrets.token_hex(32)))
    assert _error(trader.post("/order", order)) == (
        400, "the order signer address has to be the address of the API KEY")


def test_signature_is_checked_against_the_market_exchange(
    http: httpx.Client, markets: list[dict[str, Any]]
) -> None:
    trader = LocalTrader(http)
    wrong_exchange = trader.order(_standard(markets), price=0.05, size=10, neg_risk=True)
    assert _error(trader.post("/order", wrong_exchange)) == (400, "invalid signature")
    tampered = trader.order(_standard(markets), price=0.05, size=10)
    tampered["order"]["takerAmount"] = str(int(tampered["order"]["takerAmount"]) + 1)
    assert _error(trader.post("/order", tampered)) == (400, "invalid signature")


def test_payload_tick_size_min_size_and_balance_rules(
    http: httpx.Client, markets: list[dict[str, Any]]
) -> None:
    trader = LocalTrader(http, fund="2")
    market = _standard(markets)
    assert _error(trader.post("/order", {"order": {"salt": 1}})) == (400, "Invalid order payload")
    off_tick = trader.order(market, price=0.055, size=10)
    status, message = _error(trader.post("/order", off_tick))
    assert status == 400
    assert message.endswith("is invalid. Price (0.055) breaks minimum tick size rule: 0.01")
    small = trader.order(market, price=0.05, size=1)
    assert _error(trader.post("/order", small))[1].endswith(
        "is invalid. Size (1) lower than the minimum: 5")
    too_big = trader.order(market, price=0.05, size=100)
    assert _error(trader.post("/order", too_big)) == (400, "not enough balance / allowance")


def test_batch_limit_is_fifteen(http: httpx.Client, markets: list[dict[str, Any]]) -> None:
    trader = LocalTrader(http)
    orders = [trader.order(_standard(markets), price=0.01, size=5) for _ in range(16)]
    assert _error(trader.post("/orders", orders)) == (
        400, "Too many orders in payload: 16, max allowed: 15")
    mixed = trader.post("/orders", [orders[0], {"order": {}}])
    assert mixed.status_code == 200
    first, second = mixed.json()
    assert first["success"] is True
    assert second == {
        "success": False, "errorMsg": "Invalid order payload", "orderID": "", "status": "",
        "makingAmount": "", "takingAmount": "", "tradeIDs": [], "transactionsHashes": []}


def test_banned_and_closed_only_addresses(http: httpx.Client,
                                          markets: list[dict[str, Any]]) -> None:
    trader = LocalTrader(http)
    address = trader.signer.address
    http.post("/_polybot/admin/address-status", json={"address": address, "status": "banned"})
    order = trader.order(_standard(markets), price=0.05, size=10)
    assert _error(trader.post("/order", order)) == (400, f"'{address}' address banned")
    http.post("/_polybot/admin/address-status",
              json={"address": address, "status": "closed_only"})
    assert _error(trader.post("/order", order)) == (400, f"'{address}' address in closed only mode")
    http.post("/_polybot/admin/address-status", json={"address": address, "status": "ok"})
    assert trader.post("/order", order).json()["success"] is True


def test_per_signer_order_bucket_answers_429_with_headers(
    http: httpx.Client, markets: list[dict[str, Any]]
) -> None:
    trader = LocalTrader(http)
    batch = [{"order": {}}] * 15     # invalid items still cost one order token each
    ok = trader.post("/orders", batch)
    assert ok.status_code == 200
    assert ok.headers["Poly-RateLimit-Tier"] == "Standard"
    assert int(ok.headers["Poly-RateLimit-Remaining"]) <= 45
    assert int(ok.headers["Poly-RateLimit-Reset"]) >= int(time.time())
    limited = None
    for _ in range(20):   # Standard: burst 60, refill 40/s; 15 per call drains it quickly
        response = trader.post("/orders", batch)
        if response.status_code == 429:
            limited = response
            break
    assert limited is not None
    assert limited.json() == {"error": "Too Many Requests"}
    assert int(limited.headers["Retry-After"]) >= 1
    assert "Poly-RateLimit-Remaining" in limited.headers

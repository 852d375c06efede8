"""Public HTTP surface of the local venue over real HTTP: CLOB L0, Gamma, Data API shapes.

Each test checks a wire rule from reference §2, §3.1 or §5 (strings vs numbers, JSON-in-string
Gamma fields, book ordering and hash recipe, cursor conventions, error texts and statuses).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from polybot.localvenue.server.harness import VenueServer, quick_config
from polybot.localvenue.server.run import build_venue
from polybot.venues.polymarket.book_hash import book_hash


@pytest.fixture(scope="module")
def server() -> Iterator[VenueServer]:
    with VenueServer(build_venue(quick_config(markets=150))) as running:
        yield running



@pytest.fixture(scope="module")
def clob_markets(http: httpx.Client) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = "MA=="
    while cursor != "LTE=":
        page = http.get("/markets", params={"next_cursor": cursor}).json()
        rows.extend(page["data"])
        cursor = page["next_cursor"]
    return rows


def test_health_time_version(http: httpx.Client) -> None:
    assert http.get("/ok").json() == "OK"
    assert isinstance(http.get("/time").json(), int)
    assert http.get("/version").json() == {"version": 2}


def test_markets_cursor_pages_cover_every_market_once(
    http: httpx.Client, clob_markets: list[dict[str, Any]]
) -> None:
    first = http.get("/markets").json()
    assert set(first) == {"limit", "count", "next_cursor", "data"}
    assert first["count"] == len(first["data"]) == first["limit"] == 100
    assert first["next_cursor"] == "MTAw"   # base64("100"), as in the recorded page
    total = http.get("/_polybot/admin/state").json()["markets"]
    ids = [m["condition_id"] for m in clob_markets]
    assert len(ids) == len(set(ids)) == total > 100
    market = clob_markets[0]
    assert isinstance(market["minimum_tick_size"], float | int)
    assert [t["outcome"] for t in market["tokens"]] == ["Yes", "No"]
    assert http.get(f"/markets/{market['condition_id']}").json() == market


def test_bad_cursor_is_400(http: httpx.Client) -> None:
    assert http.get("/markets", params={"next_cursor": "%%%"}).status_code == 400


def test_book_wire_shape_ordering_and_hash(
    http: httpx.Client, clob_markets: list[dict[str, Any]]
) -> None:
    token = clob_markets[0]["tokens"][0]["token_id"]
    book = http.get("/book", params={"token_id": token}).json()
    assert list(book) == ["market", "asset_id", "timestamp", "hash", "bids", "asks",
                          "min_order_size", "tick_size", "neg_risk", "last_trade_price"]
    assert len(book["timestamp"]) == 13
    assert book["timestamp"].isdigit()
    bids = [Decimal(level["price"]) for level in book["bids"]]
    asks = [Decimal(level["price"]) for level in book["asks"]]
    assert bids == sorted(bids)
    assert asks == sorted(asks, reverse=True)
    assert all(isinstance(level["size"], str) for level in book["bids"] + book["asks"])
    fields = {k: v for k, v in book.items() if k != "hash"}
    assert book["hash"] == book_hash(**fields)


def test_book_errors(http: httpx.Client) -> None:
    missing = http.get("/book")
    assert missing.status_code == 400
    assert missing.json() == {"error": "Invalid token id"}
    unknown = http.get("/book", params={"token_id": "123"})
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "No orderbook exists for the requested token id"}


def test_books_prices_midpoints_spreads(
    http: httpx.Client, clob_markets: list[dict[str, Any]]
) -> None:
    yes = clob_markets[1]["tokens"][0]["token_id"]
    no = clob_markets[1]["tokens"][1]["token_id"]
    books = http.post("/books", json=[{"token_id": yes}, {"token_id": no}]).json()
    assert [b["asset_id"] for b in books] == [yes, no]
    best_bid = books[0]["bids"][-1]["price"]
    best_ask = books[0]["asks"][-1]["price"]
    assert http.get("/price", params={"token_id": yes, "side": "BUY"}).json() == {"price": best_bid}
    assert http.get("/price", params={"token_id": yes, "side": "SELL"}).json() == {
        "price": best_ask}
    both = http.post("/prices", json=[{"token_id": yes, "side": "BUY"},
                                      {"token_id": yes, "side": "SELL"}]).json()
    assert both == {yes: {"BUY": best_bid, "SELL": best_ask}}
    mid = (Decimal(best_bid) + Decimal(best_ask)) / 2
    assert Decimal(http.get("/midpoint", params={"token_id": yes}).json()["mid"]) == mid
    assert Decimal(http.post("/midpoints", json=[{"token_id": yes}]).json()[yes]) == mid
    spread = Decimal(best_ask) - Decimal(best_bid)
    assert Decimal(http.get("/spread", params={"token_id": yes}).json()["spread"]) == spread
    # The NO book mirrors YES: its best bid is 1 - YES best ask.
    assert Decimal(books[1]["bids"][-1]["price"]) == 1 - Decimal(best_ask)
    bad_side = http.get("/price", params={"token_id": yes, "side": "UP"})
    assert (bad_side.status_code, bad_side.json()) == (400, {"error": "Invalid side"})
    assert http.post("/books", content=b"{").json() == {"error": "Invalid payload"}
    too_many = http.post("/books", json=[{"token_id": yes}] * 501)
    assert too_many.json() == {"error": "Payload exceeds the limit"}


def test_market_parameters(http: httpx.Client, clob_markets: list[dict[str, Any]]) -> None:
    market = clob_markets[2]
    token = market["tokens"][0]["token_id"]
    tick = http.get("/tick-size", params={"token_id": token}).json()
    assert tick == {"minimum_tick_size": market["minimum_tick_size"]}
    assert http.get(f"/tick-size/{token}").json() == tick
    assert http.get("/neg-risk", params={"token_id": token}).json() == {
        "neg_risk": market["neg_risk"]}
    assert isinstance(http.get("/fee-rate", params={"token_id": token}).json()["base_fee"], int)
    compact = http.get(f"/clob-markets/{market['condition_id']}").json()
    assert compact["c"] == market["condition_id"]
    assert [t["t"] for t in compact["t"]] == [t["token_id"] for t in market["tokens"]]
    assert compact["mts"] == market["minimum_tick_size"]
    assert ("nr" in compact) == market["neg_risk"]   # omitted when false
    by_token = http.get(f"/markets-by-token/{token}").json()
    assert by_token["condition_id"] == market["condition_id"]
    last = http.get("/last-trade-price", params={"token_id": token}).json()
    assert set(last) == {"price", "side"}
    assert http.get("/markets/0xdead").status_code == 404


def test_prices_history_requires_interval_or_range(
    http: httpx.Client, clob_markets: list[dict[str, Any]]
) -> None:
    token = clob_markets[0]["tokens"][0]["token_id"]
    assert http.get("/prices-history", params={"market": token}).status_code == 400
    history = http.get("/prices-history", params={"market": token, "interval": "max"}).json()
    assert isinstance(history["history"], list)


# ---------------------------------------------------------------------------------------------
# Gamma


def test_gamma_keyset_walks_all_markets_and_rejects_offset(http: httpx.Client) -> None:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 25}
        if cursor:
            params["after_cursor"] = cursor
        page = http.get("/gamma/markets/keyset", params=params).json()
        seen.extend(m["id"] for m in page["markets"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == http.get("/_polybot/admin/state").json()["markets"]
    rejected = http.get("/gamma/markets/keyset", params={"offset": 10})
    assert rejected.status_code == 400
    assert "error" in rejected.json()


def test_gamma_market_wire_types(http: httpx.Client) -> None:
    market = http.get("/gamma/markets", params={"limit": 1, "version": "v1"}).json()[0]
    outcomes = json.loads(market["outcomes"])
    prices = json.loads(market["outcomePrices"])
    tokens = json.loads(market["clobTokenIds"])
    assert outcomes == ["Yes", "No"]
    assert all(isinstance(p, str) for p in prices)
    assert len(tokens) == 2
    assert all(t.isdigit() for t in tokens)
    assert isinstance(market["volume"], str)
    assert isinstance(market["volumeNum"], float | int)
    assert isinstance(market["orderPriceMinTickSize"], float)
    assert market["conditionId"].startswith("0x")
    assert market["questionID"].startswith("0x")
    by_id = http.get(f"/gamma/markets/{market['id']}").json()
    by_slug = http.get(f"/gamma/markets/slug/{market['slug']}").json()
    assert by_id["conditionId"] == by_slug["conditionId"] == market["conditionId"]
    assert http.get("/gamma/markets/999999999").status_code == 404


def test_gamma_protocol_v2_markets_carry_position_ids(http: httpx.Client) -> None:
    v2 = http.get("/gamma/markets", params={"version": "v2", "limit": 5}).json()
    for market in v2:
        assert isinstance(market["positionIds"], list)
        assert "clobTokenIds" not in market


def test_gamma_filters(http: httpx.Client) -> None:
    markets = http.get("/gamma/markets", params={"limit": 3}).json()
    wanted = [m["id"] for m in markets[:2]]
    picked = http.get("/gamma/markets", params=[("id", wanted[0]), ("id", wanted[1])]).json()
    assert sorted(m["id"] for m in picked) == sorted(wanted)
    condition = markets[2]["conditionId"]
    by_condition = http.get("/gamma/markets/keyset", params={"condition_ids": condition}).json()
    assert [m["conditionId"] for m in by_condition["markets"]] == [condition]
    assert http.get("/gamma/markets", params={"closed": "true"}).json() == []


def test_gamma_events_tags_search(http: httpx.Client) -> None:
    events = http.get("/gamma/events", params={"limit": 200}).json()
    neg_risk = next(e for e in events if e["negRisk"])
    assert len(neg_risk["markets"]) >= 3
    assert all(m["negRisk"] for m in neg_risk["markets"])
    assert http.get(f"/gamma/events/{neg_risk['id']}").json()["slug"] == neg_risk["slug"]
    assert http.get(f"/gamma/events/slug/{neg_risk['slug']}").json()["id"] == neg_risk["id"]
    keyset = http.get("/gamma/events/keyset", params={"limit": 5}).json()
    assert len(keyset["events"]) == 5
    assert keyset["next_cursor"]
    tags = http.get("/gamma/tags").json()
    assert tags
    assert set(tags[0]) >= {"id", "label", "slug"}
    word = neg_risk["title"].split()[2]
    found = http.get("/gamma/public-search", params={"q": word}).json()
    assert set(found) == {"events", "tags", "profiles", "pagination"}
    assert found["pagination"]["totalResults"] >= 1


# ---------------------------------------------------------------------------------------------
# Data API


def test_data_api_v2_is_cursor_only(http: httpx.Client) -> None:
    page = http.get("/data-api/v2/trades").json()
    assert set(page) == {"data", "pagination"}
    assert http.get("/data-api/v2/trades", params={"offset": 0}).status_code == 400
    assert http.get("/data-api/v2/trades", params={"cursor": "bogus"}).status_code == 400


def test_data_api_v1_routes_answer_bare_arrays(http: httpx.Client) -> None:
    assert http.get("/data-api/trades").json() == [] or isinstance(
        http.get("/data-api/trades").json(), list)
    user = "0x" + "ab" * 20
    assert http.get("/data-api/positions", params={"user": user}).json() == []
    assert http.get("/data-api/value", params={"user": user}).json() == [{"user": user, "value": 0}]
    assert http.get("/data-api/positions").status_code == 400

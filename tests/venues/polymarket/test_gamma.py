"""GammaClient against the loopback server (Gamma mounted under /gamma like the local venue)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from fixture_files import load_fixture
from http_server import FixtureServer, Recorded, Reply, shared_server

from polybot.core.errors import NotFound
from polybot.venues.polymarket.gamma import GammaClient, MarketFilters

PREFIX = "/gamma"


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    srv = shared_server()
    srv.reset()
    yield srv
    srv.reset()


def markets(n: int, start: int = 0) -> list[dict[str, Any]]:
    base = load_fixture("nt2026_gamma_market.json")
    out = []
    for i in range(start, start + n):
        item = copy.deepcopy(base)
        item["id"] = str(i)
        item["conditionId"] = f"0x{i:064x}"
        out.append(item)
    return out


def client(server: FixtureServer) -> GammaClient:
    return GammaClient(server.base_url + PREFIX)


async def test_keyset_pagination_across_pages(server: FixtureServer) -> None:
    pages = {None: (markets(2, 0), "c1"), "c1": (markets(2, 2), "c2"), "c2": (markets(1, 4), None)}

    def handler(req: Recorded) -> Reply:
        items, nxt = pages[req.param("after_cursor")]
        return Reply(json={"markets": items, "next_cursor": nxt})

    server.route("GET", f"{PREFIX}/markets/keyset", handler)
    filters = MarketFilters(closed=False, id=["1", "2"], order=["volumeNum"], active=True)
    async with client(server) as gamma:
        result = await gamma.list_markets(filters, page_size=2)
    assert [m.id for m in result] == ["0", "1", "2", "3", "4"]
    sent = server.requests(f"{PREFIX}/markets/keyset")
    assert [r.param("after_cursor") for r in sent] == [None, "c1", "c2"]
    assert sent[0].params("id") == ["1", "2"]          # array params as repeated keys
    assert sent[0].param("closed") == "false"
    assert sent[0].param("order") == "volumeNum"
    assert sent[0].param("active") is None             # legacy-only filter not sent to keyset
    assert sent[0].param("limit") == "2"


async def test_legacy_fallback_when_keyset_is_gone(server: FixtureServer) -> None:
    server.route("GET", f"{PREFIX}/markets/keyset", Reply(status=404, json={"error": "not found"}))

    def legacy(req: Recorded) -> Reply:
        offset = int(req.param("offset") or 0)
        return Reply(json=markets(max(0, min(2, 5 - offset)), offset))

    server.route("GET", f"{PREFIX}/markets", legacy)
    async with client(server) as gamma:
        first = await gamma.list_markets(MarketFilters(active=True), page_size=2)
        assert gamma.keyset_supported is False
        again = await gamma.list_markets(page_size=2, max_items=3)
    assert [m.id for m in first] == ["0", "1", "2", "3", "4"]
    assert [m.id for m in again] == ["0", "1", "2"]
    assert len(server.requests(f"{PREFIX}/markets/keyset")) == 1   # remembered, not re-probed
    legacy_calls = server.requests(f"{PREFIX}/markets")
    assert [r.param("offset") for r in legacy_calls[:3]] == ["0", "2", "4"]
    assert legacy_calls[0].param("active") == "true"


async def test_single_market_event_tags_search(server: FixtureServer) -> None:
    market = load_fixture("nt2026_gamma_market.json")
    event = load_fixture("nt2026_gamma_event.json")[0]
    server.route("GET", f"{PREFIX}/markets/1557558", Reply(json=market))
    server.route("GET", f"{PREFIX}/markets/slug/{market['slug']}", Reply(json=market))
    server.route("GET", f"{PREFIX}/events/slug/{event['slug']}", Reply(json=event))
    server.route("GET", f"{PREFIX}/events/{event['id']}", Reply(json=event))
    server.route("GET", f"{PREFIX}/tags", Reply(json=load_fixture("nt2026_gamma_tags.json")))
    server.route("GET", f"{PREFIX}/public-search",
                 Reply(json=load_fixture("nt2026_search_response.json")))
    async with client(server) as gamma:
        by_id = await gamma.get_market("1557558")
        by_slug = await gamma.get_market_by_slug(market["slug"])
        assert by_id == by_slug
        ev = await gamma.get_event_by_slug(event["slug"])
        assert ev == await gamma.get_event(event["id"])
        assert ev.neg_risk
        assert ev.markets
        tags = await gamma.tags(limit=5)
        assert len(tags) == 5
        found = await gamma.search("election", page=2)
        assert found.has_more
        assert found.total_results == 46940
        with pytest.raises(NotFound):
            await gamma.get_market("404404")
    assert server.requests(f"{PREFIX}/public-search")[0].param("page") == "2"


async def test_protocol_v2_market_uses_position_ids(server: FixtureServer) -> None:
    item = load_fixture("nt2026_gamma_market.json")
    item["version"] = "v2"
    item["positionIds"] = ["111", "222"]
    server.route("GET", f"{PREFIX}/markets/9", Reply(json=item))
    async with client(server) as gamma:
        market = await gamma.get_market("9")
    assert market.protocol_version == "v2"
    assert market.asset_ids == ("111", "222")


async def test_events_keyset_and_discover_universe(server: FixtureServer) -> None:
    event = load_fixture("nt2026_gamma_event.json")[0]
    server.route("GET", f"{PREFIX}/events/keyset", Reply(json={"events": [event]}))
    closed = markets(1, 10)[0]
    closed["acceptingOrders"] = False
    duplicate = markets(1, 0)[0]

    def handler(req: Recorded) -> Reply:
        if req.param("after_cursor") is None:
            return Reply(json={"markets": [*markets(3), closed], "next_cursor": "n"})
        return Reply(json={"markets": [duplicate]})

    server.route("GET", f"{PREFIX}/markets/keyset", handler)
    async with client(server) as gamma:
        events = await gamma.list_events()
        assert [e.id for e in events] == [event["id"]]
        universe = await gamma.discover_universe(progress=True)
        tradable = await gamma.discover_universe(progress=False, tradable_only=True)
    assert len(universe) == 4                      # de-duplicated by condition id
    assert len(tradable) == 3
    assert server.requests(f"{PREFIX}/markets/keyset")[0].param("closed") == "false"


@pytest.mark.live
async def test_live_polymarket_public_endpoints() -> None:
    """Talks to polymarket.com: deselected by default (``-m live`` to run)."""
    async with GammaClient() as gamma:
        page = await gamma.markets_page(MarketFilters(closed=False), limit=5)
        assert page.items
        assert all(m.condition_id for m in page.items)
    from polybot.venues.polymarket.clob import ClobClient

    async with ClobClient() as clob:
        assert await clob.ok()
        asset = next(a for m in page.items for a in m.asset_ids if a)
        book = await clob.get_book(asset)
        assert book.asset_id == asset

"""The executor's market catalog against the local venue (real HTTP, real CLOB client).

What matters for settlement: a cached, still-active market must not hide a resolution. A lookup
can be forced fresh (or the entry invalidated) when the venue hints at a resolution, and a
``market_resolved`` from the price bus shows in the cached market at once, winner included.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from polybot.bus.messages import MarketResolved
from polybot.execution.markets import MarketCatalog
from polybot.execution.settlement import winner_of
from polybot.localvenue.server.harness import VenueServer, quick_config
from polybot.localvenue.server.run import build_venue
from polybot.venues.polymarket.clob import ClobClient

RESOLVED_AT_MS = 1_790_000_000_000


@pytest.fixture(scope="module")
def server() -> Iterator[VenueServer]:
    with VenueServer(build_venue(quick_config())) as running:
        yield running


@pytest.fixture(scope="module")
def markets(server: VenueServer) -> list[dict[str, Any]]:
    """The venue's markets; each test takes its own (resolving one is for good)."""
    return list(httpx.get(f"{server.url}/markets", timeout=10.0).json()["data"])


@pytest.fixture
async def clob(server: VenueServer) -> AsyncIterator[ClobClient]:
    client = ClobClient(server.url, chain_id=137)
    yield client
    await client.aclose()


def resolve_at_venue(server: VenueServer, market: dict[str, Any], outcome: str) -> None:
    answer = httpx.post(
        f"{server.url}/_polybot/admin/resolve",
        json={"condition_id": market["condition_id"], "outcome": outcome},
        timeout=10.0,
    )
    assert answer.status_code == 200, answer.text


def on_bus(market: dict[str, Any], index: int, token_id: str | None = None) -> MarketResolved:
    token = market["tokens"][index]
    return MarketResolved(
        market_id=market["condition_id"],
        winning_token_id=token_id or token["token_id"],
        winning_outcome=token["outcome"],
        timestamp=RESOLVED_AT_MS,
    )


def tokens(market: dict[str, Any]) -> tuple[str, str]:
    yes, no = (token["token_id"] for token in market["tokens"])
    return yes, no


async def test_a_fresh_lookup_sees_a_resolution_the_cached_entry_hides(
    server: VenueServer, markets: list[dict[str, Any]], clob: ClobClient
) -> None:
    market = markets[0]
    cid = market["condition_id"]
    yes, _ = tokens(market)
    catalog = MarketCatalog(clob, None)  # the executor's TTL (a minute)
    before = await catalog.get(cid)
    assert before is not None
    assert before.is_tradable
    assert winner_of(before.market) is None

    resolve_at_venue(server, market, "Yes")  # the venue cancels our orders: MARKET_RESOLVED

    assert await catalog.get(cid) is before  # what a sweep asked until the TTL ran out
    fresh = await catalog.get(cid, fresh=True)
    assert fresh is not None
    assert not fresh.is_tradable
    assert winner_of(fresh.market) == (yes, "Yes")
    assert catalog.cached(cid) is fresh
    assert await catalog.get(cid) is fresh  # and the fresh answer is what is cached now


async def test_invalidate_makes_the_next_lookup_ask_the_venue(
    server: VenueServer, markets: list[dict[str, Any]], clob: ClobClient
) -> None:
    market = markets[1]
    cid = market["condition_id"]
    _, no = tokens(market)
    catalog = MarketCatalog(clob, None)
    before = await catalog.get(cid)
    resolve_at_venue(server, market, "No")

    catalog.invalidate(cid)
    catalog.invalidate("0xnot-cached")  # nothing to do, and no harm

    assert catalog.cached(cid) is before  # the tokens stay known meanwhile (settlement checks them)
    after = await catalog.get(cid)
    assert after is not None
    assert after is not before
    assert winner_of(after.market) == (no, "No")


async def test_a_bus_resolution_shows_in_the_cached_market_at_once(
    markets: list[dict[str, Any]], clob: ClobClient
) -> None:
    market = markets[2]
    cid = market["condition_id"]
    _, no = tokens(market)
    catalog = MarketCatalog(clob, None)
    await catalog.get(cid)

    catalog.on_message(on_bus(market, 1))

    info = catalog.cached(cid)
    assert info is not None
    assert not info.is_tradable
    assert winner_of(info.market) == (no, "No")
    assert not info.market.accepting_orders
    assert info.market.closed_time == datetime.fromtimestamp(RESOLVED_AT_MS / 1000, UTC)
    assert await catalog.get(cid) is info  # within the TTL: no need to ask
    catalog.on_message(on_bus(market, 0))  # a conflicting second word: the first one stands
    assert winner_of(catalog.cached(cid).market) == (no, "No")  # type: ignore[union-attr]


async def test_a_bus_resolution_outlives_the_ttl_until_the_venue_shows_its_own_winner(
    server: VenueServer, markets: list[dict[str, Any]], clob: ClobClient
) -> None:
    market = markets[3]
    cid = market["condition_id"]
    yes, no = tokens(market)
    catalog = MarketCatalog(clob, None, ttl_s=0.0)  # every lookup asks the venue
    await catalog.get(cid)
    catalog.on_message(on_bus(market, 1))  # the venue's REST view lags the WebSocket

    lagging = await catalog.get(cid)
    assert lagging is not None
    assert not lagging.is_tradable
    assert winner_of(lagging.market) == (no, "No")

    resolve_at_venue(server, market, "Yes")  # the venue is the source of truth
    venue = await catalog.get(cid)
    assert venue is not None
    assert winner_of(venue.market) == (yes, "Yes")
    assert venue.is_tradable is False


async def test_a_resolution_arriving_during_a_fetch_is_applied_to_its_result(
    markets: list[dict[str, Any]], clob: ClobClient
) -> None:
    market = markets[4]
    cid = market["condition_id"]
    yes, _ = tokens(market)
    catalog = MarketCatalog(clob, None)
    fetch = asyncio.create_task(catalog.get(cid))
    await asyncio.sleep(0)  # the lookup is now waiting on the venue
    assert not fetch.done()

    catalog.on_message(on_bus(market, 0))

    info = await fetch
    assert info is not None
    assert winner_of(info.market) == (yes, "Yes")
    assert catalog.cached(cid) is info


async def test_a_resolution_naming_a_foreign_token_is_ignored_and_the_venue_asked_again(
    server: VenueServer, markets: list[dict[str, Any]], clob: ClobClient
) -> None:
    market = markets[5]
    cid = market["condition_id"]
    yes, _ = tokens(market)
    catalog = MarketCatalog(clob, None)
    before = await catalog.get(cid)
    assert before is not None

    catalog.on_message(on_bus(market, 0, token_id=markets[6]["tokens"][0]["token_id"]))
    assert catalog.cached(cid) is before  # no winner invented from a bad message
    catalog.on_message(on_bus(markets[7], 0))  # a market never looked up: nothing kept

    resolve_at_venue(server, market, "Yes")
    after = await catalog.get(cid)  # within the TTL, but the bad message made it ask again
    assert after is not None
    assert winner_of(after.market) == (yes, "Yes")
    untouched = await catalog.get(markets[7]["condition_id"])
    assert untouched is not None
    assert untouched.is_tradable
    assert winner_of(untouched.market) is None


async def test_the_signal_path_gets_an_old_entry_at_once_and_a_refresh_behind_it(
    server: VenueServer, markets: list[dict[str, Any]], clob: ClobClient
) -> None:
    market = markets[8]
    cid = market["condition_id"]
    yes, _ = tokens(market)
    catalog = MarketCatalog(clob, None, ttl_s=0.0)  # every entry is past its TTL at once
    before = await catalog.get(cid)
    assert before is not None
    assert before.is_tradable
    resolve_at_venue(server, market, "Yes")

    served = await catalog.get(cid, stale_ok=True)  # no wait for the venue
    assert served is before
    for _ in range(500):  # the refresh runs behind the answer
        if catalog.cached(cid) is not before:
            break
        await asyncio.sleep(0.01)
    refreshed = catalog.cached(cid)
    assert refreshed is not None
    assert not refreshed.is_tradable
    assert winner_of(refreshed.market) == (yes, "Yes")

    catalog.invalidate(cid)  # an invalidated entry is never served stale
    assert await catalog.get(cid, stale_ok=True) is not refreshed
    await catalog.aclose()

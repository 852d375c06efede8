"""MarketStream against a real local WebSocket server (loopback, port 0)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from fixture_files import load_fixture
from ws_server import PolyWsServer, make_book, wait_until

from polybot.bus import messages as bus
from polybot.core.clock import ManualClock
from polybot.venues.polymarket.book import BookState
from polybot.venues.polymarket.ws_market import MarketOutput, MarketStream, MarketStreamConfig

BURST: list[dict[str, Any]] = load_fixture(
    "nt2026_ws_market_book_price_change_burst_2026-09-29.json"
)
A = BURST[0]["asset_id"]
B = next(c["asset_id"] for c in BURST[1]["price_changes"] if c["asset_id"] != A)
FAST = MarketStreamConfig(
    url="", ping_interval_s=0.05, stale_after_s=5.0, backoff_initial_s=0.01,
    backoff_max_s=0.05, health_interval_s=0, match_settle_s=5.0,
)


@pytest.fixture
async def server() -> AsyncIterator[PolyWsServer]:
    async with PolyWsServer({A: BURST[0], B: make_book(B, market=BURST[0]["market"])}) as srv:
        yield srv


def _stream(server: PolyWsServer, ids: list[str], **overrides: Any) -> tuple[MarketStream, list[MarketOutput]]:
    events: list[MarketOutput] = []
    config = replace(FAST, url=server.url, **overrides)
    return MarketStream(ids, config, on_event=events.append), events


def _books(events: list[MarketOutput], asset: str) -> list[bus.BookSnapshot]:
    return [e for e in events if isinstance(e, bus.BookSnapshot) and e.token_id == asset]


async def test_subscribe_frame_ping_pong_and_first_snapshot(server: PolyWsServer) -> None:
    stream, events = _stream(server, [A])
    async with stream:
        await wait_until(lambda: len(_books(events, A)) == 1, what="snapshot")
        await wait_until(lambda: server.clients[0].pings >= 2, what="pings")
        await wait_until(lambda: stream.shards[0].conn.pongs >= 2, what="pongs")
    first = server.clients[0].frames[0]
    assert first == {"type": "market", "assets_ids": [A], "custom_feature_enabled": True}
    book = stream.feeds[A].book
    assert book.verifiable
    assert book.checks[0].outcome == "match"
    snap = _books(events, A)[0]
    assert snap.hash == BURST[0]["hash"]
    prices = [e for e in events if isinstance(e, bus.Price)]
    assert (prices[0].bid, prices[0].ask) == (0.3, 0.397)


async def test_array_frame_burst_replays_and_yields_deltas(server: PolyWsServer) -> None:
    stream = MarketStream([A, B], replace(FAST, url=server.url))
    got: list[MarketOutput] = []
    async with stream:
        await wait_until(lambda: stream.book(A) is not None and stream.book(B) is not None)
        await server.push(BURST[1:51])   # 49 price_changes + final book in one array frame
        async for event in stream:
            got.append(event)
            if isinstance(event, bus.BookSnapshot) and event.hash == BURST[50]["hash"]:
                break
    book = stream.feeds[A].book
    assert book.wire_bids() == BURST[50]["bids"]
    assert book.wire_asks() == BURST[50]["asks"]
    assert book.counters.hash_mismatches == 0
    assert book.counters.confirmed_later == 2
    deltas = [e for e in got if isinstance(e, bus.BookDelta) and e.token_id == A]
    assert len(deltas) == 49
    assert deltas[0].changes == [bus.LevelChange("BUY", 0.301, 1000.0)]
    # B's snapshot here is synthetic, so B's deltas are applied but cannot match venue hashes:
    # the first one defers and the next timestamp turns it into a mismatch → resnapshot.
    assert stream.feeds[B].book.counters.hash_mismatches >= 1
    assert stream.feeds[B].resnapshots >= 1


async def test_hash_mismatch_resubscribes_for_a_fresh_snapshot(server: PolyWsServer) -> None:
    stream, events = _stream(server, [A])
    async with stream:
        await wait_until(lambda: len(_books(events, A)) == 1)
        bad = copy.deepcopy(BURST[1])
        bad["price_changes"][0]["size"] = "12345"
        await server.push([bad, BURST[2]])
        await wait_until(lambda: len(_books(events, A)) == 2, what="resnapshot")
        frames = server.clients[0].frames
        assert frames[1] == {"operation": "unsubscribe", "assets_ids": [A]}
        assert frames[2] == {"operation": "subscribe", "assets_ids": [A], "custom_feature_enabled": True}
        health = stream.health(A)
        assert (health.hash_mismatches, health.resnapshots, health.gaps) == (1, 1, 0)
        assert stream.feeds[A].book.state is BookState.SYNCED


async def test_owner_resnapshot_callback_gets_rest_book(server: PolyWsServer) -> None:
    asked: list[tuple[str, str]] = []

    async def fetch_rest(token: str, reason: str) -> None:
        asked.append((token, reason))
        stream.apply_rest_book({**BURST[0], "min_order_size": "5", "neg_risk": False})

    stream = MarketStream([A], replace(FAST, url=server.url), on_resnapshot=fetch_rest)
    async with stream:
        await wait_until(lambda: stream.book(A) is not None)
        tick = {**load_fixture("nt2024_ws_tick_size_change.json"), "asset_id": A,
                "market": BURST[0]["market"]}
        await server.push(tick)
        await wait_until(lambda: bool(asked), what="resnapshot request")
        assert asked == [(A, "tick_size_change")]
        await wait_until(lambda: stream.book(A) is not None, what="REST snapshot installed")
        assert stream.feeds[A].book.counters.snapshots == 2
        assert len(server.clients[0].frames) == 1   # no resubscribe: the owner handled it


async def test_server_drop_reconnects_resubscribes_and_resnapshots(server: PolyWsServer) -> None:
    stream, events = _stream(server, [A, B])
    async with stream:
        await wait_until(lambda: len(_books(events, A)) == 1 and len(_books(events, B)) == 1)
        await server.drop_all()
        await wait_until(lambda: len(server.clients) == 2, what="reconnect")
        await wait_until(lambda: len(_books(events, A)) == 2 and len(_books(events, B)) == 2)
        assert server.clients[1].frames[0]["assets_ids"] == sorted([A, B])
        assert stream.health(A).gaps == 1
        assert stream.shards[0].conn.disconnects == 1


async def test_silent_feed_is_detected_as_stale_and_reconnected() -> None:
    async with PolyWsServer({A: BURST[0]}, answer_pings=False) as server:
        stream, events = _stream(server, [A], stale_after_s=0.3)
        async with stream:
            await wait_until(lambda: len(server.clients) >= 2, what="stale reconnect")
            await wait_until(lambda: len(_books(events, A)) >= 2, what="fresh snapshot")
            assert stream.shards[0].conn.stale_disconnects >= 1
            assert stream.shards[0].conn.last_error == "stale"
            assert stream.health(A).gaps >= 1


async def test_tokens_shard_across_sockets_and_array_books() -> None:
    ids = [f"{n}" * 3 for n in range(5)]
    async with PolyWsServer({i: make_book(i) for i in ids}, batch_books=True) as server:
        stream, _events = _stream(server, ids, max_assets_per_socket=2)
        async with stream:
            await wait_until(lambda: all(stream.book(i) is not None for i in ids))
            assert len(server.clients) == 3
            firsts = [c.frames[0]["assets_ids"] for c in server.clients]
            assert sorted(len(f) for f in firsts) == [1, 2, 2]
            assert sorted(a for f in firsts for a in f) == sorted(ids)
            assert all(stream.feeds[i].book.verifiable for i in ids)


async def test_dynamic_subscribe_and_unsubscribe(server: PolyWsServer) -> None:
    stream, _events = _stream(server, [A])
    async with stream:
        await wait_until(lambda: stream.book(A) is not None)
        await stream.subscribe([B])
        await wait_until(lambda: stream.book(B) is not None, what="B snapshot")
        await stream.unsubscribe([A])
        await wait_until(lambda: len(server.clients[0].frames) == 3)
        frames = server.clients[0].frames
        assert frames[1] == {"operation": "subscribe", "assets_ids": [B], "custom_feature_enabled": True}
        assert frames[2] == {"operation": "unsubscribe", "assets_ids": [A]}
        assert stream.book(A) is None
        assert A not in stream.feeds
        await wait_until(lambda: server.clients[0].assets == {B})


async def test_feed_health_messages(server: PolyWsServer) -> None:
    clock = ManualClock(start_ns=10**18)
    events: list[MarketOutput] = []
    config = replace(FAST, url=server.url, health_interval_s=0.05)
    async with MarketStream([A], config, on_event=events.append, clock=clock) as stream:
        await wait_until(lambda: stream.book(A) is not None)
        clock.advance_ns(1_500_000_000)
        await wait_until(lambda: any(
            isinstance(e, bus.FeedHealth) and e.age_ms == 1500 for e in events))
    health = next(e for e in events if isinstance(e, bus.FeedHealth) and e.age_ms == 1500)
    assert health.market_id == BURST[0]["market"]

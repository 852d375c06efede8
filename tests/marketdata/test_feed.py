"""MarketFeed in-process: REST fallback against the real venue, dead letters from a real socket."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from venue_process import start_venue, stop_venue
from websockets.asyncio.server import ServerConnection, serve

from polybot.bus.aio import AsyncSubscriber
from polybot.bus.messages import AnyMessage, BookDelta, BookSnapshot, Event, Price
from polybot.bus.nng import Publisher
from polybot.marketdata.deadletters import DeadLetters
from polybot.marketdata.feed import FeedConfig, MarketFeed
from polybot.storage.migrate import init_db
from polybot.storage.models import DeadLetter
from polybot.storage.sqlite import make_engine
from polybot.venues.polymarket.book_hash import book_hash
from polybot.venues.polymarket.clob import ClobClient
from polybot.venues.polymarket.gamma import GammaClient


@pytest.fixture(scope="module")
def venue_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    proc, port = start_venue(tmp_path_factory.mktemp("venue"))
    try:
        yield port
    finally:
        stop_venue(proc)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _until(
    messages: list[AnyMessage],
    predicate: Callable[[list[AnyMessage]], bool],
    within_s: float,
    what: str,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not predicate(messages):
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_rest_fallback_keeps_prices_flowing_while_the_socket_is_down(
    venue_port: int,
    tmp_path: Path,
) -> None:
    base = f"http://127.0.0.1:{venue_port}"
    async with GammaClient(f"{base}/gamma") as gamma:
        markets = await gamma.discover_universe(progress=False)
    tokens = [a for m in markets[:3] for a in m.asset_ids]
    address = f"ipc://{tmp_path}/prices.pub"
    got: list[AnyMessage] = []
    counters: dict[str, int] = {}
    with Publisher(address) as publisher:
        sub = AsyncSubscriber(address, callback=got.append)
        await sub.wait_for_peers()
        async with ClobClient(base) as clob:
            feed = MarketFeed(
                FeedConfig(
                    ws_url=f"ws://127.0.0.1:{_closed_port()}/ws/market",
                    fallback_after_s=0.2,
                    poll_interval_s=0.2,
                    health_interval_s=0,
                    backoff_initial_s=5.0,
                ),
                publisher=publisher,
                clob=clob,
                count=lambda name, n: counters.__setitem__(name, counters.get(name, 0) + n),
            )
            await feed.start(tokens)
            try:
                await _until(
                    got,
                    lambda ms: {m.token_id for m in ms if isinstance(m, Price)} == set(tokens),
                    20,
                    "a price for every token from REST polling",
                )
            finally:
                await feed.stop()
        sub.close()
    books = [m for m in got if isinstance(m, BookSnapshot)]
    assert {b.token_id for b in books} == set(tokens)
    assert all(b.hash and b.market_id != "?" for b in books)
    assert counters["rest_polls"] >= 1
    assert counters["rest_books"] >= len(tokens)
    assert all(feed.stream.feeds[t].book.verifiable for t in tokens)  # REST hashes reproduced


def _book(asset: str, bid: str) -> dict[str, object]:
    bids, asks = [{"price": bid, "size": "100"}], [{"price": "0.60", "size": "100"}]
    digest = book_hash(
        market="0xm",
        asset_id=asset,
        timestamp="1790000000000",
        bids=bids,
        asks=asks,
        min_order_size="5",
        tick_size="0.01",
        neg_risk=False,
        last_trade_price="0.5",
    )
    return {
        "event_type": "book",
        "market": "0xm",
        "asset_id": asset,
        "timestamp": "1790000000000",
        "hash": digest,
        "bids": bids,
        "asks": asks,
        "tick_size": "0.01",
        "last_trade_price": "0.5",
    }


async def test_unparseable_frames_are_dead_lettered_and_the_feed_keeps_serving(
    tmp_path: Path,
) -> None:
    async def venue(ws: ServerConnection) -> None:
        await ws.recv()  # the subscription
        await ws.send("{not json")
        await ws.send(
            json.dumps(
                [
                    {
                        "event_type": "last_trade_price",
                        "market": "0xm",
                        "asset_id": "tok",
                        "price": "oops",
                        "side": "BUY",
                        "size": "1",
                    },
                    _book("tok", "0.40"),
                ]
            )
        )
        await ws.wait_closed()

    init_db(tmp_path / "polybot.db")
    engine = make_engine(tmp_path / "polybot.db")
    got = await _feed_from(
        venue,
        tmp_path,
        engine,
        lambda ms: any(isinstance(m, Price) for m in ms),
        "the price after the bad frames",
    )
    letters = [m for m in got if isinstance(m, Event) and m.event_type == "dead_letter"]
    assert len(letters) == 2
    with Session(engine) as session:
        rows = session.scalars(select(DeadLetter).order_by(DeadLetter.id)).all()
    assert [r.source for r in rows] == ["scanner:ws.market"] * 2
    assert rows[0].payload == b"{not json"
    assert "not JSON" in rows[0].reason
    assert b'"oops"' in rows[1].payload
    assert "last_trade_price" in rows[1].reason
    assert [d.data["dead_letter_id"] for d in letters] == [r.id for r in rows]
    price = next(m for m in got if isinstance(m, Price))
    assert (price.bid, price.ask, price.token_id) == (0.40, 0.60, "tok")
    engine.dispose()


async def test_a_frame_of_many_changes_is_published_as_its_net_result(tmp_path: Path) -> None:
    # One frame: the book, then 30 changes of one level below the touch (no price moves), then a
    # bad item, then 5 more. The frame's messages go out conflated: the 30 changes as one delta
    # holding the level's final size, the dead letter in its place, the 5 as one more delta.

    def change(size: int) -> dict[str, object]:
        entry = {"asset_id": "tok", "price": "0.30", "size": str(size), "side": "BUY", "hash": ""}
        return {
            "event_type": "price_change",
            "market": "0xm",
            "timestamp": str(1790000000000 + size),
            "price_changes": [entry],
        }

    bad = {"event_type": "tick_size_change", "market": "0xm", "asset_id": "tok"}
    frame = [_book("tok", "0.40"), *map(change, range(1, 31)), bad, *map(change, range(31, 36))]

    async def venue(ws: ServerConnection) -> None:
        await ws.recv()  # the subscription
        await ws.send(json.dumps(frame))
        await ws.wait_closed()

    init_db(tmp_path / "polybot.db")
    engine = make_engine(tmp_path / "polybot.db")
    got = await _feed_from(venue, tmp_path, engine, lambda ms: len(ms) >= 5, "the whole frame")
    engine.dispose()
    kinds = [type(m).__name__ for m in got]
    assert kinds == ["BookSnapshot", "Price", "BookDelta", "Event", "BookDelta"]
    deltas = [m for m in got if isinstance(m, BookDelta)]
    assert [[(c.side, c.price, c.size) for c in d.changes] for d in deltas] == [
        [("BUY", 0.30, 30.0)],
        [("BUY", 0.30, 35.0)],
    ]
    assert [d.timestamp for d in deltas] == [1790000000030, 1790000000035]  # the last merged
    assert [m.seq for m in got] == list(range(got[0].seq, got[0].seq + 5))


async def _feed_from(
    venue: Callable[[ServerConnection], Awaitable[None]],
    tmp_path: Path,
    engine: Engine,
    done: Callable[[list[AnyMessage]], bool],
    what: str,
) -> list[AnyMessage]:
    """Run a ``MarketFeed`` on token ``tok`` against the scripted ``venue`` socket (REST down)
    until ``done`` holds for what prices.pub carried; return it."""
    address = f"ipc://{tmp_path}/prices.pub"
    got: list[AnyMessage] = []
    async with serve(venue, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        with Publisher(address) as publisher:
            sub = AsyncSubscriber(address, callback=got.append)
            await sub.wait_for_peers()
            async with ClobClient(f"http://127.0.0.1:{_closed_port()}") as clob:
                feed = MarketFeed(
                    FeedConfig(ws_url=f"ws://127.0.0.1:{port}", health_interval_s=0),
                    publisher=publisher,
                    clob=clob,
                    dead_letters=DeadLetters(engine, service="scanner", publisher=publisher),
                )
                await feed.start(["tok"])
                try:
                    await _until(got, done, 10, what)
                    assert not feed._held  # nothing left behind once a frame is handled
                finally:
                    await feed.stop()
            sub.close()
    return got

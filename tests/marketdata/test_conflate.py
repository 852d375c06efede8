"""Per-frame conflation: one net delta and at most one price per token, nothing lost."""

from __future__ import annotations

import asyncio
import json

from fixture_files import load_fixture

from polybot.bus.messages import (
    BookDelta,
    BookSnapshot,
    LevelChange,
    MarketResolved,
    Message,
    Price,
    Trade,
)
from polybot.marketdata.conflate import conflate
from polybot.marketdata.stream import ScannerStream
from polybot.venues.polymarket.book import LocalBook
from polybot.venues.polymarket.ws_market import TokenFeed

BURST = "nt2026_ws_market_book_price_change_burst_2026-09-29.json"
Book = dict[tuple[str, float], float]


def _delta(token: str, ts: int, *changes: tuple[str, float, float]) -> BookDelta:
    return BookDelta(
        market_id="0xm",
        token_id=token,
        changes=[LevelChange(side, price, size) for side, price, size in changes],
        timestamp=ts,
        hash=f"h{ts}",
    )


def _price(token: str, bid: float, ask: float, ts: int = 1) -> Price:
    return Price(
        market_id="0xm", token_id=token, bid=bid, ask=ask, mid=(bid + ask) / 2, timestamp=ts
    )


def _apply(book: Book, delta: BookDelta) -> None:
    for change in delta.changes:
        if change.size == 0:
            book.pop((change.side, change.price), None)
        else:
            book[(change.side, change.price)] = change.size


def _levels(snapshot: BookSnapshot) -> Book:
    book = {("BUY", lv.price): lv.size for lv in snapshot.bids}
    book.update({("SELL", lv.price): lv.size for lv in snapshot.asks})
    return book


def test_a_recorded_burst_as_one_frame_conflates_to_the_same_book() -> None:
    # The real 2026-09-29 capture: a snapshot, 49 price_change messages, a post-trade book. Sent
    # as one frame, every hash is still verified, and the conflated delta applied to the snapshot
    # gives exactly the book the 49 separate deltas give.
    frames = load_fixture(BURST)
    snapshot_then_changes = frames[:-1]
    out: list[Message] = []
    stream = ScannerStream([], on_event=out.append)
    tokens = {c["asset_id"] for f in frames for c in f.get("price_changes", [])}
    for token in tokens:
        stream.feeds[token] = TokenFeed(LocalBook(token, verify=True), 0)
    asyncio.run(stream._on_frame(json.dumps(snapshot_then_changes)))
    token = frames[0]["asset_id"]
    book = stream.feeds[token].book
    assert book.counters.hash_mismatches == 0
    assert book.counters.matched > 40

    conflated, merged = conflate(out, {})
    deltas = [m for m in out if isinstance(m, BookDelta)]
    merged_deltas = [m for m in conflated if isinstance(m, BookDelta)]
    assert len(deltas) >= 40
    assert len(merged_deltas) == 1
    assert merged == len(out) - len(conflated) > 0
    [snapshot] = [m for m in conflated if isinstance(m, BookSnapshot)]
    one_by_one, at_once = _levels(snapshot), _levels(snapshot)
    for delta in deltas:
        _apply(one_by_one, delta)
    _apply(at_once, merged_deltas[0])
    assert at_once == one_by_one
    assert merged_deltas[0].hash == deltas[-1].hash == book.hash
    assert merged_deltas[0].timestamp == deltas[-1].timestamp
    assert len({(c.side, c.price) for c in merged_deltas[0].changes}) == len(
        merged_deltas[0].changes
    )
    prices = [m for m in conflated if isinstance(m, Price)]
    assert len(prices) <= 2  # the snapshot's and, if the top moved, the frame's
    assert prices[-1].bid == float(book.best_bid() or 0)


def test_one_delta_and_one_price_per_token_in_the_order_first_seen() -> None:
    frame: list[Message] = [
        _delta("a", 1, ("BUY", 0.40, 10)),
        _price("a", 0.40, 0.60),
        _delta("b", 1, ("SELL", 0.55, 5)),
        _delta("a", 2, ("BUY", 0.40, 0), ("BUY", 0.41, 7)),
        _price("a", 0.41, 0.60, ts=2),
        _delta("a", 3, ("BUY", 0.39, 3)),
    ]
    out, merged = conflate(frame, {})
    assert merged == 3
    assert [(type(m).__name__, m.token_id) for m in out] == [  # type: ignore[attr-defined]
        ("BookDelta", "a"),
        ("BookDelta", "b"),
        ("Price", "a"),  # the last price's place: after every change of its token
    ]
    a = out[0]
    assert isinstance(a, BookDelta)
    assert [(c.side, c.price, c.size) for c in a.changes] == [
        ("BUY", 0.40, 0.0),
        ("BUY", 0.41, 7.0),
        ("BUY", 0.39, 3.0),
    ]
    assert (a.timestamp, a.hash) == (3, "h3")
    assert out[2] == frame[4]
    assert out[1] is frame[2]  # a lone delta goes out as it is


def test_a_top_that_moves_and_comes_back_is_not_published_again() -> None:
    published = {"a": _price("a", 0.40, 0.60)}
    frame: list[Message] = [
        _delta("a", 1, ("BUY", 0.40, 0)),
        _price("a", 0.39, 0.60),
        _delta("a", 2, ("BUY", 0.40, 8)),
        _price("a", 0.40, 0.60, ts=2),
    ]
    out, _ = conflate(frame, published)
    assert [type(m).__name__ for m in out] == ["BookDelta"]
    # Not previously published: the top goes out once.
    out, _ = conflate(frame, {})
    assert [type(m).__name__ for m in out] == ["BookDelta", "Price"]


def test_a_snapshot_or_trade_of_a_token_closes_its_merge() -> None:
    trade = Trade(market_id="0xm", token_id="a", price=0.4, size=1.0, side="BUY", timestamp=2)
    snapshot = BookSnapshot(market_id="0xm", token_id="a", bids=[], asks=[], timestamp=3)
    resolved = MarketResolved(
        market_id="0xother", winning_token_id="z", winning_outcome="Yes", timestamp=3
    )
    frame: list[Message] = [
        _delta("a", 1, ("BUY", 0.40, 1)),
        _price("a", 0.40, 0.60),
        trade,
        _delta("a", 2, ("BUY", 0.40, 2)),
        resolved,
        snapshot,
        _price("a", 0.0, 1.0, ts=3),
        _delta("a", 4, ("BUY", 0.30, 1)),
        _delta("a", 5, ("BUY", 0.30, 4)),
        _price("a", 0.30, 1.0, ts=5),
    ]
    out, merged = conflate(frame, {})
    assert [type(m).__name__ for m in out] == [
        "BookDelta",
        "Price",
        "Trade",
        "BookDelta",
        "MarketResolved",
        "BookSnapshot",
        "BookDelta",
        "Price",
    ]
    assert merged == 2  # the two prices after the snapshot, and the two deltas after it
    delta, price = out[-2], out[-1]
    assert isinstance(delta, BookDelta)
    assert [(c.price, c.size) for c in delta.changes] == [(0.3, 4.0)]
    assert isinstance(price, Price)
    assert price.bid == 0.30

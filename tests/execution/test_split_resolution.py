"""A market resolved 50/50 (no single winner) settles every position at 0.5 per share, once.

The local venue resolves a market to one winner only (``Exchange.resolve(cid, outcome)``), so it
cannot show a 50/50. Here the CLOB is a small HTTP server that serves the recorded closed market
(``nt2026_clob_market_closed_binary_accepting_false.json``) as Polymarket shows a 50/50: closed,
no ``tokens[].winner``, both ``tokens[].price`` 0.5 (Gamma: ``outcomePrices`` ``["0.5","0.5"]``).
Everything else is real: the CLOB client and parser, the market catalog, the settler, the
tracker and the ledger on a migrated SQLite file.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import web
from fixture_files import load_fixture
from test_settlement import Harness, describe, no_mark

from polybot.bus.messages import MarketResolved
from polybot.execution.markets import MarketCatalog
from polybot.execution.resolutions import NO_WINNER, SPLIT_OUTCOME
from polybot.execution.settlement import winner_of
from polybot.storage.models import MarketResolution, Position, Settlement
from polybot.storage.realized import realized_since
from polybot.storage.sqlite import make_engine, make_session_factory
from polybot.venues.polymarket.clob import ClobClient, market_from_clob
from polybot.venues.polymarket.wire import ClobMarket

D = Decimal
HALF = D("0.5")
RECORDED = "nt2026_clob_market_closed_binary_accepting_false.json"


def clob_market(*, closed: bool, prices: tuple[Any, Any], winners: tuple[bool, bool]) -> dict:
    """Return the recorded CLOB market object with its state and tokens set as asked."""
    market = copy.deepcopy(load_fixture(RECORDED))
    market["closed"] = closed
    market["accepting_orders"] = not closed
    for token, price, winner in zip(market["tokens"], prices, winners, strict=True):
        token["price"], token["winner"] = price, winner
    return market


def split_market() -> dict:
    """The market as Polymarket shows it resolved 50/50."""
    return clob_market(closed=True, prices=(0.5, 0.5), winners=(False, False))


def open_market() -> dict:
    """The market open, priced at even odds."""
    return clob_market(closed=False, prices=(0.5, 0.5), winners=(False, False))


def parsed(raw: dict) -> Any:
    return market_from_clob(msgspec.json.decode(msgspec.json.encode(raw), type=ClobMarket))


class Clob:
    """A CLOB serving one market object at ``/markets/{condition_id}``, as the test sets it."""

    def __init__(self, market: dict) -> None:
        self.market = market
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _get(self, request: web.Request) -> web.Response:
        if request.match_info["cid"] != self.market["condition_id"]:
            return web.json_response({"error": "market not found"}, status=404)
        return web.json_response(self.market)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/markets/{cid}", self._get)  # /clob-markets/{cid}: 404, no fee info
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def clob() -> AsyncIterator[Clob]:
    server = Clob(open_market())
    await server.start()
    yield server
    await server.stop()


def open_sessions(path: Path) -> Any:
    """Return (engine, sessions) of the database file, as a (re)started process opens it."""
    engine = make_engine(path)
    return engine, make_session_factory(engine)


async def sweep(harness: Harness, server: Clob) -> list[Any]:
    client = ClobClient(server.url, chain_id=137)
    try:
        return await harness.tracker.settler.sweep(
            MarketCatalog(client, None, ttl_s=0.0), everything=True
        )
    finally:
        await client.aclose()


def test_the_venue_shows_a_50_50_as_closed_with_no_winner_and_both_prices_at_half() -> None:
    yes, no = (t["token_id"] for t in load_fixture(RECORDED)["tokens"])
    assert winner_of(parsed(split_market())) == (NO_WINNER, SPLIT_OUTCOME)
    # The recorded resolution (No won) still names its winner.
    assert winner_of(parsed(load_fixture(RECORDED))) == (no, "No")
    # A winner flag decides even at 0.5/0.5; open at 0.5/0.5 (a coin flip) is not resolved, nor
    # is a market closed with no winner and no payout prices (the legacy "0"/"0" shape).
    flagged = clob_market(closed=True, prices=(0.5, 0.5), winners=(True, False))
    assert winner_of(parsed(flagged)) == (yes, "Yes")
    assert winner_of(parsed(open_market())) is None
    zero = clob_market(closed=True, prices=(0, 0), winners=(False, False))
    assert winner_of(parsed(zero)) is None
    lopsided = clob_market(closed=True, prices=(0.6, 0.4), winners=(False, False))
    assert winner_of(parsed(lopsided)) is None


async def test_a_50_50_found_at_the_venue_settles_every_position_at_half_once(
    clob: Clob, db_path: Path
) -> None:
    cid = clob.market["condition_id"]
    yes, no = (t["token_id"] for t in clob.market["tokens"])
    engine, sessions = open_sessions(db_path)
    h = Harness(sessions, market=cid)
    bought = h.order("o-yes", yes, "BUY", "0.41", "100", "alpha")
    h.fill(bought, "t1", "0.37", "60", fee="0.111")
    h.fill(bought, "t2", "0.41", "40", fee="0.0533")
    sold = h.order("o-sell", yes, "SELL", "0.45", "30", "alpha")
    h.fill(sold, "t3", "0.45", "30", fee="0.02")
    no_order = h.order("o-no", no, "BUY", "0.55", "30", "beta")
    h.fill(no_order, "t4", "0.55", "30", fee="0.0825")
    avg_yes = (D("0.37") * 60 + D("0.41") * 40) / 100  # 0.386
    realized_before = h.ledger.pnl(no_mark).realized
    fees = D("0.111") + D("0.0533") + D("0.02") + D("0.0825")
    assert realized_before == 30 * (D("0.45") - avg_yes) - fees

    assert await sweep(h, clob) == []  # open at 0.5/0.5: not resolved
    clob.market = split_market()
    settled = await sweep(h, clob)

    yes_pnl = 70 * (HALF - avg_yes)  # 7.98
    no_pnl = 30 * (HALF - D("0.55"))  # -1.5
    assert [(s.token_id, s.shares, s.payout_price, s.payout, s.realized_pnl) for s in settled] == [
        (yes, D(70), HALF, D(35), yes_pnl),
        (no, D(30), HALF, D(15), no_pnl),
    ]
    assert yes_pnl == D("7.98")
    assert all(
        (s.source, s.winning_token_id, s.split, s.won) == ("venue", "", True, False)
        for s in settled
    )
    events = {e.data["token_id"]: e.data for e in h.settled_events()}
    assert set(events) == {yes, no}
    assert (events[yes]["split"], events[yes]["won"]) == (True, False)
    assert (D(events[yes]["payout_price"]), D(events[yes]["payout"])) == (HALF, D(35))
    assert events[yes]["winning_outcome"] == SPLIT_OUTCOME
    assert Decimal(events[no]["realized_pnl"]) == no_pnl
    # The positions are flat, the exposure is gone, the PnL is realized today.
    with sessions() as session:
        positions = {p.token_id: p for p in session.query(Position)}
        rows = list(session.query(Settlement).order_by(Settlement.id))
        resolution = session.query(MarketResolution).one()
    assert positions[yes].size == positions[no].size == 0
    assert [(r.token_id, r.payout_price, r.payout) for r in rows] == [
        (yes, HALF, D(35)),
        (no, HALF, D(15)),
    ]
    assert (resolution.winning_token_id, resolution.winning_outcome) == (NO_WINNER, SPLIT_OUTCOME)
    assert h.ledger.risk_view(D(1000), no_mark, describe, h.store.open_orders()).positions == {}
    pnl = h.ledger.pnl(no_mark)
    assert pnl.realized == realized_before + yes_pnl + no_pnl
    assert pnl.daily == pnl.realized  # everything happened today
    assert h.counts["positions_settled"] == 2

    # Once: the venue says so again, then a process restarts on the same file and sweeps.
    assert await sweep(h, clob) == []
    engine.dispose()
    engine, sessions = open_sessions(db_path)
    restarted = Harness(sessions, market=cid)
    assert restarted.ledger.resolution(cid) == NO_WINNER
    assert restarted.ledger.positions() == []
    assert restarted.ledger.pnl(no_mark).realized == pnl.realized
    assert await sweep(restarted, clob) == []
    # A later single winner on the bus does not overturn the split.
    restarted.tracker.settler.on_message(
        MarketResolved(
            market_id=cid,
            winning_token_id=yes,
            winning_outcome="Yes",
            timestamp=1_790_000_000_000,
        )
    )
    assert restarted.settled_events() == []
    with sessions() as session:
        assert session.query(Settlement).count() == 2
        day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        assert realized_since(session, h.ledger.account, day) == pnl.realized
    engine.dispose()


async def test_a_fill_after_a_50_50_settles_at_half_and_a_failed_one_replays_at_half(
    clob: Clob, db_path: Path
) -> None:
    cid = clob.market["condition_id"]
    yes = clob.market["tokens"][0]["token_id"]
    engine, sessions = open_sessions(db_path)
    h = Harness(sessions, market=cid)
    order = h.order("o-1", yes, "BUY", "0.60", "30", "alpha")
    h.fill(order, "t1", "0.40", "10")
    h.fill(order, "t2", "0.60", "10")
    clob.market = split_market()
    assert [s.realized_pnl for s in await sweep(h, clob)] == [D(0)]  # 20 at avg 0.5, paid 0.5
    # Matched before the resolution, reported after it: settled at once, at 0.5.
    h.fill(order, "t3", "0.30", "10")
    late = [e.data for e in h.settled_events()][-1]
    assert (late["source"], late["payout_price"], late["shares"]) == ("late_fill", "0.5", "10")
    assert Decimal(late["realized_pnl"]) == 10 * (HALF - D("0.30"))
    # t2's trade FAILED at the venue: replayed without it, its settlement still pays 0.5.
    h.fill(order, "t2", "0.60", "10", status="FAILED")
    assert h.ledger.positions() == []
    assert h.ledger.pnl(no_mark).realized == 10 * (HALF - D("0.40")) + 10 * (HALF - D("0.30"))
    engine.dispose()

"""Every recorded REST payload in ../shared/fixtures/polymarket decodes into our types."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from fixture_files import load_fixture

from polybot.venues.polymarket.clob import (
    book_from_wire,
    book_hash_matches,
    market_from_clob,
)
from polybot.venues.polymarket.data_api import DataTrade, from_v1
from polybot.venues.polymarket.gamma import event_from_wire, market_from_wire, tag_from_wire
from polybot.venues.polymarket.wire import (
    ClobBook,
    ClobMarket,
    ClobTrade,
    CursorPage,
    GammaEvent,
    GammaMarket,
    GammaSearch,
    GammaTag,
)


def decode(fixtures_dir: Path, name: str, rtype: type[object]) -> object:
    return msgspec.json.decode((fixtures_dir / name).read_bytes(), type=rtype, strict=False)


GAMMA_MARKETS = [
    "nt2026_gamma_market.json",
    "nt2026_gamma_market_closed_binary_accepting_false.json",
    "nt2026_gamma_market_closed_binary_accepting_true.json",
    "nt2026_gamma_market_closed_nonbinary_legacy.json",
    "nt2026_gamma_market_closed_zero_zero_legacy.json",
    "nt2026_gamma_market_crypto_twap_reduced_2026-08-23.json",
    "nt2026_gamma_market_sports_market_map_handicap.json",
    "nt2026_gamma_market_sports_market_money_line.json",
]


@pytest.mark.parametrize("name", GAMMA_MARKETS)
def test_gamma_markets_parse(fixtures_dir: Path, name: str) -> None:
    raw = decode(fixtures_dir, name, GammaMarket)
    assert isinstance(raw, GammaMarket)
    market = market_from_wire(raw)
    assert market.condition_id.startswith("0x")
    assert len(market.outcomes) == 2
    assert all(o.asset_id.isdigit() for o in market.outcomes)
    assert market.protocol_version == "v1"


def test_gamma_market_details(fixtures_dir: Path) -> None:
    market = market_from_wire(msgspec.json.decode(
        (fixtures_dir / "nt2026_gamma_market.json").read_bytes(), type=GammaMarket))
    assert market.outcome_names == ("Up", "Down")
    assert market.outcomes[0].price == Decimal("0.505")
    assert market.asset_ids[0].startswith("1042398980388071360523998")
    assert market.tick_size == Decimal("0.01")
    assert market.min_order_size == Decimal(5)
    assert market.question_id.startswith("0x1581")
    assert market.volume == Decimal("9.999997")
    assert market.maker_base_fee_bps == 1000
    assert market.event_id == "260654"
    assert market.is_tradable

    twap = market_from_wire(msgspec.json.decode(
        (fixtures_dir / "nt2026_gamma_market_crypto_twap_reduced_2026-08-23.json").read_bytes(),
        type=GammaMarket))
    assert twap.fee_schedule.rate == Decimal("0.07")
    assert twap.fee_schedule.rebate_rate == Decimal("0.2")
    assert twap.fee_schedule.taker_only
    assert twap.event_start_time is not None

    sports = market_from_wire(msgspec.json.decode(
        (fixtures_dir / "nt2026_gamma_market_sports_market_map_handicap.json").read_bytes(),
        type=GammaMarket))
    assert sports.sports_market_type == "map_handicap"
    assert sports.line == Decimal("-1.5")
    assert sports.closed_time is not None
    assert sports.closed_time.year == 2026
    assert not sports.is_tradable

    zero = market_from_wire(msgspec.json.decode(
        (fixtures_dir / "nt2026_gamma_market_closed_zero_zero_legacy.json").read_bytes(),
        type=GammaMarket))
    assert [o.price for o in zero.outcomes] == [Decimal(0), Decimal(0)]


def test_gamma_events_tags_search(fixtures_dir: Path) -> None:
    events = decode(fixtures_dir, "nt2026_gamma_event.json", list[GammaEvent])
    assert isinstance(events, list)
    event = event_from_wire(events[0])
    assert event.neg_risk
    assert event.enable_neg_risk
    assert event.neg_risk_augmented
    assert event.neg_risk_market_id.startswith("0x2c3d")
    assert event.volume is not None
    assert event.volume > 0
    assert len(event.markets) == 2
    assert all(m.neg_risk for m in event.markets)
    assert all(m.is_binary for m in event.markets)

    trimmed = decode(fixtures_dir, "nt2024_gamma_event_trimmed.json", GammaEvent)
    assert isinstance(trimmed, GammaEvent)
    assert event_from_wire(trimmed).markets

    tags = decode(fixtures_dir, "nt2026_gamma_tags.json", list[GammaTag])
    assert isinstance(tags, list)
    parsed = [tag_from_wire(t) for t in tags]
    assert parsed[0].label == "Health and Human Services"
    assert parsed[0].created_at is not None

    search = decode(fixtures_dir, "nt2026_search_response.json", GammaSearch)
    assert isinstance(search, GammaSearch)
    assert search.pagination is not None
    assert search.pagination.has_more
    assert search.pagination.total_results == 46940
    assert [event_from_wire(e).id for e in search.events or []]


@pytest.mark.parametrize(("name", "tick"), [
    ("nt2024_clob_http_market.json", "0.001"),
    ("nt2026_clob_market_closed_binary_accepting_false.json", "0.001"),
    ("nt2026_clob_market_closed_binary_accepting_true.json", "0.01"),
])
def test_clob_markets_parse(fixtures_dir: Path, name: str, tick: str) -> None:
    raw = decode(fixtures_dir, name, ClobMarket)
    assert isinstance(raw, ClobMarket)
    market = market_from_clob(raw)
    assert market.is_binary
    assert market.tick_size == Decimal(tick)
    assert market.min_order_size == Decimal(5)
    if market.closed:      # resolved: exactly one winner, priced 1
        winners = [o for o in market.outcomes if o.winner]
        assert len(winners) == 1
        assert winners[0].price == 1


def test_clob_markets_page(fixtures_dir: Path) -> None:
    page = decode(fixtures_dir, "nt2024_clob_http_markets.json", CursorPage[ClobMarket])
    assert isinstance(page, CursorPage)
    assert page.next_cursor == "MTAw"
    assert len(page.data) == page.count == 100
    assert all(market_from_clob(m).condition_id for m in page.data)


def test_clob_books(fixtures_dir: Path) -> None:
    raw = decode(fixtures_dir, "nt2026_clob_http_book_empty_ask_2026-08-03.json", ClobBook)
    assert isinstance(raw, ClobBook)
    book = book_from_wire(raw)
    assert book_hash_matches(raw)
    assert book.best_bid is not None
    assert book.best_bid.price == Decimal("0.002")
    assert book.best_ask is None
    assert book.mid is None
    assert book.neg_risk is True
    assert book.tick_size == Decimal("0.001")
    assert book.last_trade_price is None

    old = decode(fixtures_dir, "nt2024_clob_http_book.json", ClobBook)
    assert isinstance(old, ClobBook)
    old_book = book_from_wire(old)
    assert old_book.best_ask is not None
    assert old_book.best_ask.price == Decimal("0.14")
    assert old_book.spread == Decimal("0.04")
    assert not book_hash_matches(old)          # 2024 books used another recipe


def test_clob_trade_item(fixtures_dir: Path) -> None:
    trade = decode(fixtures_dir, "nt2024_clob_data_trade_item.json", ClobTrade)
    assert isinstance(trade, ClobTrade)
    assert trade.match_time == 1726043102
    assert trade.price == Decimal("0.489")
    assert trade.maker_orders[0].matched_amount == Decimal(5)
    assert trade.plain_status == "CONFIRMED"


def test_data_api_trades_v1_and_v2(fixtures_dir: Path) -> None:
    v1 = [from_v1(row, DataTrade) for row in load_fixture(
        "nt2024_dataapi_v1_trades_sanitized.json")]
    assert v1[0].proxy_wallet.startswith("0xe0904e")
    assert v1[0].token_id.startswith("2174263314")
    assert v1[0].event_slug == "presidential-election-winner-2024"
    assert v1[0].size == Decimal("5.4")

    envelope = load_fixture("nt2026_dataapi_v2_trades_sanitized_2026-08.json")
    v2 = msgspec.convert(envelope["data"], list[DataTrade], strict=False)
    assert v2[1].price == Decimal("0.709999959")      # exact, not a float
    assert v2[0].outcome_index == 0
    assert envelope["pagination"]["has_more"] in (True, False)

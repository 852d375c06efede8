"""Every recorded WS fixture parses into its typed event; bus conversions validate on the wire."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fixture_files import FIXTURES_DIR, load_fixture

from polybot.bus import codec
from polybot.core.errors import VenueError
from polybot.model.fees import FeeSchedule
from polybot.venues.polymarket import ws_parse as wp
from polybot.venues.polymarket.ws_user import fill_to_bus, order_to_bus, own_fills

WS_FIXTURES = sorted(p.name for p in FIXTURES_DIR.glob("nt20*_ws_*.json"))
USER_TYPES = {"order", "trade"}


def _objects(name: str) -> list[dict[str, Any]]:
    return wp.split_frame((FIXTURES_DIR / name).read_text())


def test_fixture_set_is_complete() -> None:
    assert len(WS_FIXTURES) == 15  # 9 from 2024, 6 from 2026 (SOURCES.txt)


@pytest.mark.parametrize("name", WS_FIXTURES)
def test_every_ws_fixture_parses(name: str) -> None:
    for raw in _objects(name):
        if raw.get("event_type") in USER_TYPES:
            event: object = wp.parse_user_message(raw)
        elif "event_type" in raw:
            event = wp.parse_market_message(raw)
        else:  # the 2026-08-13 capture is a bare book body without event_type
            event = wp.parse_book(raw)
        assert not isinstance(event, wp.UnknownEvent), name


def test_array_and_object_frames() -> None:
    book = load_fixture("nt2026_ws_market_best_bid_ask_msg.json")
    assert wp.split_frame(json.dumps(book)) == [book]
    assert wp.split_frame(json.dumps([book, book])) == [book, book]
    with pytest.raises(VenueError, match="not JSON"):
        wp.split_frame("PONG")
    with pytest.raises(VenueError, match="other than JSON objects"):
        wp.split_frame("[1, 2]")


def test_unknown_event_type_is_kept_not_dropped() -> None:
    event = wp.parse_market_message({"event_type": "brand_new", "x": 1})
    assert isinstance(event, wp.UnknownEvent)
    assert event.event_type == "brand_new"


def test_current_price_change_schema() -> None:
    frame = load_fixture("nt2026_ws_market_book_price_change_burst_2026-09-29.json")[4]
    msg = wp.parse_market_message(frame)
    assert isinstance(msg, wp.PriceChangeMsg)
    assert not msg.legacy
    assert msg.timestamp == "1790658692971"
    first, second = msg.entries
    assert (first.price, first.size, first.side) == ("0.39", "4765", "SELL")
    assert (first.best_bid, first.best_ask) == (Decimal("0.311"), Decimal("0.39"))
    assert (second.price, second.side) == ("0.61", "BUY")


def test_legacy_price_change_schemas() -> None:
    flat = wp.parse_market_message(load_fixture("nt2024_ws_price_change.json"))
    assert isinstance(flat, wp.PriceChangeMsg)
    assert flat.legacy
    (entry,) = flat.entries
    assert (entry.price, entry.size, entry.side) == ("0.514", "21574.08", "SELL")
    assert entry.hash == "bf32b3746fff40c76c98021b7f3f07261169dd26"
    nested = wp.parse_market_message(
        {
            "event_type": "price_change",
            "asset_id": "1",
            "market": "0xm",
            "hash": "h",
            "timestamp": "5",
            "changes": [
                {"price": "0.1", "side": "BUY", "size": "1"},
                {"price": "0.2", "side": "SELL", "size": "0"},
            ],
        }
    )
    assert isinstance(nested, wp.PriceChangeMsg)
    assert [e.hash for e in nested.entries] == ["", "h"]  # the message hash is the end state


def test_market_messages_to_bus() -> None:
    trade = wp.parse_market_message(load_fixture("nt2024_ws_last_trade_price.json"))
    assert isinstance(trade, wp.LastTradePriceMsg)
    bus_trade = wp.last_trade_to_bus(trade)
    assert (bus_trade.price, bus_trade.size, bus_trade.side) == (0.491, 85.36, "SELL")
    tick = wp.parse_market_message(load_fixture("nt2024_ws_tick_size_change.json"))
    assert isinstance(tick, wp.TickSizeChangeMsg)
    assert (tick.old_tick_size, tick.new_tick_size) == (Decimal("0.01"), Decimal("0.001"))
    resolved = wp.parse_market_message(load_fixture("nt2026_ws_market_resolved_msg.json"))
    assert isinstance(resolved, wp.MarketResolvedMsg)
    bbo = wp.parse_market_message(load_fixture("nt2026_ws_market_best_bid_ask_msg.json"))
    assert isinstance(bbo, wp.BestBidAskMsg)
    price = wp.best_bid_ask_to_bus(bbo)
    assert (price.bid, price.ask, price.mid) == (0.73, 0.77, 0.75)
    for message in (bus_trade, wp.tick_size_to_bus(tick), wp.resolved_to_bus(resolved), price):
        assert codec.decode(codec.encode(message)) == message
    assert wp.resolved_to_bus(resolved).winning_token_id == resolved.winning_asset_id


def test_new_market() -> None:
    msg = wp.parse_market_message(load_fixture("nt2026_ws_market_new_market_msg.json"))
    assert isinstance(msg, wp.NewMarketMsg)
    assert msg.outcomes == ("Yes", "No")
    assert len(msg.asset_ids) == 2
    assert msg.tick_size == Decimal("0.01")
    assert msg.market.startswith("0x311d")


def test_order_events_and_cancel_reasons() -> None:
    placed = wp.parse_user_message(load_fixture("nt2024_ws_order_placement.json"))
    assert isinstance(placed, wp.OrderEvent)
    assert (placed.type, placed.status, placed.price) == ("PLACEMENT", "LIVE", Decimal("0.513"))
    cancelled = wp.parse_user_message(load_fixture("nt2024_ws_order_cancel.json"))
    assert isinstance(cancelled, wp.OrderEvent)
    assert (cancelled.status_base, cancelled.status_reason) == ("CANCELED", "")
    killed = wp.parse_user_message(load_fixture("nt2026_ws_user_order_fok_killed_sanitized.json"))
    assert isinstance(killed, wp.OrderEvent)
    assert killed.status_base == "CANCELED"
    assert killed.status_reason.startswith("order couldn't be fully filled")
    assert killed.size_matched is None  # "" on the wire
    update = order_to_bus(killed)
    assert (update.status, update.size_matched, update.order_type) == ("CANCELED", 0, "FOK")
    assert update.client_order_id == killed.order_id
    assert codec.decode(codec.encode(update)) == update
    resolved = wp.parse_user_message(
        {**load_fixture("nt2024_ws_order_cancel.json"), "status": "CANCELED_MARKET_RESOLVED"}
    )
    assert isinstance(resolved, wp.OrderEvent)
    assert resolved.status_reason == "MARKET_RESOLVED"


def test_taker_trade_fill() -> None:
    trade = wp.parse_user_message(load_fixture("nt2024_ws_user_trade2.json"))
    assert isinstance(trade, wp.TradeEvent)
    (fill,) = own_fills(trade, api_key="nobody")
    assert (fill.liquidity, fill.side, fill.price, fill.size) == (
        "TAKER",
        "BUY",
        Decimal("0.52"),
        5,
    )
    assert fill.order_id == trade.taker_order_id
    fees = FeeSchedule(rate=Decimal("0.07"))
    bus_fill = fill_to_bus(fill, fees=fees)
    assert bus_fill.fee == Decimal("0.08736")  # 5 × 0.07 × 0.52 × 0.48, floored to 1e-5
    assert codec.decode(codec.encode(bus_fill)) == bus_fill


def test_maker_fills_including_the_complementary_token() -> None:
    trade = wp.parse_user_message(load_fixture("nt2024_ws_user_trade1.json"))
    assert isinstance(trade, wp.TradeEvent)
    assert trade.trader_side == "MAKER"
    no_maker, yes_maker = trade.maker_orders[0], trade.maker_orders[1]
    fills = own_fills(trade, api_key=no_maker.owner, addresses=[yes_maker.maker_address.upper()])
    by_order = {f.order_id: f for f in fills}
    cross = by_order[no_maker.order_id]
    # BUY YES @0.518 crossed a resting BUY NO @0.482: same side, other token, price 1 − p.
    assert (cross.asset_id, cross.side, cross.price) == (no_maker.asset_id, "BUY", Decimal("0.482"))
    same = by_order[yes_maker.order_id]
    assert (same.side, same.size, same.liquidity) == ("SELL", Decimal("247.68"), "MAKER")
    assert len(fills) == 2
    assert fill_to_bus(cross).fee == 0


def test_explicit_maker_side_and_seconds_timestamp() -> None:
    trade = wp.parse_user_message(load_fixture("nt2024_ws_user_trade3.json"))
    assert isinstance(trade, wp.TradeEvent)
    assert trade.timestamp == 1762776436000  # sent in seconds; normalised to ms
    (fill,) = own_fills(trade, addresses=["0xa3d82ed56f4c68d2328fb8c29e568ba2caf7d7c8"])
    assert (fill.side, fill.status) == ("BUY", "CONFIRMED")


def test_malformed_known_message_raises() -> None:
    with pytest.raises(VenueError, match=r"malformed last_trade_price.*'price'"):
        wp.parse_market_message({"event_type": "last_trade_price", "side": "BUY"})
    with pytest.raises(VenueError, match="bad side"):
        wp.parse_market_message(
            {
                "event_type": "price_change",
                "price_changes": [{"asset_id": "1", "price": "0.1", "size": "1", "side": "HOLD"}],
            }
        )


def test_fixture_dir_is_the_shared_one() -> None:
    assert Path(FIXTURES_DIR).name == "polymarket"


def test_split_frame_takes_whatever_the_standard_json_parser_takes() -> None:
    # The fast parser refuses NaN and integers beyond 64 bits; those frames still parse.
    items = wp.split_frame('[{"event_type": "x", "v": NaN, "n": 123456789012345678901234567890}]')
    assert items[0]["n"] == 123456789012345678901234567890
    assert items[0]["v"] != items[0]["v"]  # NaN
    assert wp.split_frame(b'{"event_type": "book"}') == [{"event_type": "book"}]
    with pytest.raises(VenueError, match="not JSON"):
        wp.split_frame("{not json")

"""The wire codec: seed compatibility, round trips (property-based), and clear rejection of bad frames."""

from __future__ import annotations

from decimal import Decimal

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polybot.bus import codec
from polybot.bus.messages import (
    MESSAGE_TYPES,
    BookSnapshot,
    Event,
    Fill,
    Level,
    Price,
    Signal,
)
from polybot.core.errors import MalformedMessage, UnknownMessageType, WireError

probabilities = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
ids = st.text(min_size=1, max_size=80)
millis = st.integers(min_value=0, max_value=2**53)


def test_price_encodes_to_the_seed_dict() -> None:
    frame = codec.encode(
        Price(
            market_id="0xabc",
            token_id="123",
            bid=0.45,
            ask=0.46,
            mid=0.455,
            timestamp=1_700_000_000_000,
        )
    )
    assert msgpack.unpackb(frame) == {
        "type": "price",
        "market_id": "0xabc",
        "token_id": "123",
        "bid": 0.45,
        "ask": 0.46,
        "mid": 0.455,
        "timestamp": 1_700_000_000_000,
        "seq": 0,
    }


def test_seed_signal_dict_from_any_msgpack_writer_decodes() -> None:
    seed = {
        "type": "signal",
        "strategy": "arbitrage",
        "market_id": "0x1",
        "action": "BUY_YES",
        "token_id": "77",
        "price": 0.45,
        "size": 100.0,
        "reason": "sum of asks < 1",
        "confidence": 0.95,
    }
    message = codec.decode(msgpack.packb(seed))
    assert isinstance(message, Signal)
    assert (message.strategy, message.action, message.price, message.size) == (
        "arbitrage",
        "BUY_YES",
        0.45,
        100.0,
    )
    assert message.signal_id == ""  # appended fields take their defaults


def test_seed_event_dict_decodes_with_nested_data() -> None:
    seed = {
        "type": "event",
        "source": "executor",
        "event_type": "order_filled",
        "data": {"order_id": "0x1", "fills": [{"size": "5"}]},
        "timestamp": 5,
    }
    message = codec.decode(msgpack.packb(seed))
    assert isinstance(message, Event)
    assert message.data["fills"][0]["size"] == "5"


def test_unknown_fields_are_ignored_so_old_readers_survive_new_fields() -> None:
    seed = {
        "type": "price",
        "market_id": "m",
        "token_id": "t",
        "bid": 0.1,
        "ask": 0.2,
        "mid": 0.15,
        "timestamp": 1,
        "added_in_a_later_version": [1, 2, 3],
    }
    assert isinstance(codec.decode(msgpack.packb(seed)), Price)


def test_decimal_fields_travel_as_exact_strings() -> None:
    fill = Fill(
        market_id="m",
        token_id="t",
        fill_id="f",
        order_id="o",
        client_order_id="c",
        strategy="s",
        side="BUY",
        price=Decimal("0.123"),
        size=Decimal("33.33"),
        fee=Decimal("0.00001"),
        liquidity="TAKER",
        status="MATCHED",
        timestamp=1,
    )
    raw = msgpack.unpackb(codec.encode(fill))
    assert (raw["price"], raw["size"], raw["fee"]) == ("0.123", "33.33", "0.00001")
    assert codec.decode(codec.encode(fill)) == fill


@pytest.mark.parametrize(
    ("frame", "error", "reason"),
    [
        (b"\xc1", MalformedMessage, "not a msgpack message"),
        (msgpack.packb([1, 2]), MalformedMessage, "must be a map"),
        (msgpack.packb({"market_id": "m"}), MalformedMessage, "no 'type' key"),
        (
            msgpack.packb({"type": "teleport"}),
            UnknownMessageType,
            "unknown message type 'teleport'",
        ),
        (
            msgpack.packb({"type": "price", "market_id": "m"}),
            MalformedMessage,
            "missing required field `token_id`",
        ),
        (
            msgpack.packb(
                {
                    "type": "price",
                    "market_id": "m",
                    "token_id": "t",
                    "bid": 1.5,
                    "ask": 0.5,
                    "mid": 0.5,
                    "timestamp": 1,
                }
            ),
            MalformedMessage,
            "<= 1.0 - at `$.bid`",
        ),
        (
            msgpack.packb(
                {
                    "type": "signal",
                    "strategy": "s",
                    "market_id": "m",
                    "action": "HODL",
                    "token_id": "t",
                    "price": 0.5,
                    "size": 1,
                }
            ),
            MalformedMessage,
            "$.action",
        ),
        (
            msgpack.packb(
                {
                    "type": "signal",
                    "strategy": "s",
                    "market_id": "m",
                    "action": "BUY_YES",
                    "token_id": "t",
                    "price": 0.5,
                    "size": 0,
                }
            ),
            MalformedMessage,
            "$.size",
        ),
        (
            msgpack.packb(
                {
                    "type": "price",
                    "market_id": "",
                    "token_id": "t",
                    "bid": 0.1,
                    "ask": 0.2,
                    "mid": 0.1,
                    "timestamp": 1,
                }
            ),
            MalformedMessage,
            "$.market_id",
        ),
    ],
)
def test_bad_frames_raise_one_typed_error_with_the_reason(
    frame: bytes, error: type[WireError], reason: str
) -> None:
    with pytest.raises(error) as caught:
        codec.decode(frame)
    assert reason in caught.value.reason
    assert caught.value.frame == frame


def test_decode_as_rejects_the_wrong_type() -> None:
    frame = codec.encode(Event(source="x", event_type="y", data={}, timestamp=0))
    with pytest.raises(MalformedMessage, match="expected a Signal frame, got Event"):
        codec.decode_as(frame, Signal)


def test_with_seq_stamps_a_copy() -> None:
    price = Price(market_id="m", token_id="t", bid=0.1, ask=0.2, mid=0.15, timestamp=1)
    stamped = codec.with_seq(price, 42)
    assert (price.seq, stamped.seq) == (0, 42)


@pytest.mark.parametrize(
    "message_type", [t for t in MESSAGE_TYPES if t.__struct_fields__[0] == "market_id"]
)
def test_market_prefix_matches_only_that_markets_frames(message_type: type) -> None:
    prefix_a = codec.subscription_prefix(message_type, "0xA")
    prefix_b = codec.subscription_prefix(message_type, "0xB")
    assert prefix_a != prefix_b
    assert prefix_a.startswith(codec.subscription_prefix(message_type))


@given(
    market=ids,
    token=ids,
    bid=probabilities,
    ask=probabilities,
    mid=probabilities,
    ts=millis,
    seq=st.integers(min_value=0, max_value=2**63 - 1),
)
def test_price_round_trips_and_keeps_its_prefix(
    market: str, token: str, bid: float, ask: float, mid: float, ts: int, seq: int
) -> None:
    price = Price(
        market_id=market, token_id=token, bid=bid, ask=ask, mid=mid, timestamp=ts, seq=seq
    )
    frame = codec.encode(price)
    assert codec.decode(frame) == price
    assert frame.startswith(codec.subscription_prefix(Price, market))
    assert msgpack.unpackb(frame)["market_id"] == market


levels = st.lists(
    st.builds(
        Level, price=probabilities, size=st.floats(min_value=0, max_value=1e9, allow_nan=False)
    ),
    max_size=30,
)


@given(bids=levels, asks=levels, ts=millis, book_hash=st.text(max_size=40))
def test_book_round_trips(bids: list[Level], asks: list[Level], ts: int, book_hash: str) -> None:
    book = BookSnapshot(
        market_id="m", token_id="t", bids=bids, asks=asks, timestamp=ts, hash=book_hash
    )
    assert codec.decode(codec.encode(book)) == book


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text(max_size=20)
    | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200)
@given(data=st.dictionaries(st.text(max_size=10), json_values, max_size=6), event_type=ids)
def test_event_data_round_trips(data: dict[str, object], event_type: str) -> None:
    event = Event(source="executor", event_type=event_type, data=data, timestamp=1)
    assert codec.decode(codec.encode(event)) == event


@settings(max_examples=300)
@given(frame=st.binary(max_size=64))
def test_arbitrary_bytes_never_escape_as_anything_but_wire_errors(frame: bytes) -> None:
    try:
        message = codec.decode(frame)
    except WireError:
        return
    assert isinstance(message, MESSAGE_TYPES)


def test_every_message_type_has_a_unique_tag() -> None:
    tags = [t.__struct_config__.tag for t in MESSAGE_TYPES]
    assert len(tags) == len(set(tags))
    for message_type in MESSAGE_TYPES:
        assert message_type.__struct_config__.tag_field == "type"

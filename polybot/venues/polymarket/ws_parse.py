"""Polymarket WebSocket frames → typed objects and bus messages (reference §4.2, §4.4).

A frame is a JSON object or a JSON array of objects; ``PONG`` is plain text and never reaches
here. Numbers stay as the wire strings where the book hash needs them (levels) and become exact
``Decimal`` everywhere else; an empty string means "absent" and becomes ``None``. Unknown
``event_type`` values are returned as :class:`UnknownEvent` so a new server message never kills a
stream. Malformed known messages raise :class:`~polybot.core.errors.VenueError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import orjson

from polybot.bus.messages import MarketResolved, Price, TickSizeChange, Trade
from polybot.core.errors import VenueError

Side = Literal["BUY", "SELL"]
_SECONDS_CUTOFF = 10**11  # below this a "timestamp" is unix seconds (seen in 2025 user events)


# ------------------------------------------------------------------------------------------------
# Field helpers


def _str(raw: Mapping[str, Any], key: str, default: str = "") -> str:
    value = raw.get(key, default)
    return default if value is None else str(value)


def _dec(value: Any) -> Decimal | None:
    """Return the Decimal of a wire number; ``""``/``None`` mean absent."""
    if value is None or value == "":
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation as exc:
        raise VenueError(f"not a number: {value!r}") from exc
    if not result.is_finite():
        raise VenueError(f"not a finite number: {value!r}")
    return result


def _req_dec(raw: Mapping[str, Any], key: str) -> Decimal:
    value = _dec(raw.get(key))
    if value is None:
        raise VenueError(f"missing number {key!r}", body=dict(raw))
    return value


def _ms(value: Any) -> int:
    """Return epoch ms from a ms (or, for old user events, seconds) string; absent → 0."""
    if value is None or value == "":
        return 0
    number = int(str(value))
    return number * 1000 if number < _SECONDS_CUTOFF else number


def _side(value: Any) -> Side:
    text = str(value).upper()
    if text == "BUY":
        return "BUY"
    if text == "SELL":
        return "SELL"
    raise VenueError(f"bad side {value!r}")


# ------------------------------------------------------------------------------------------------
# Market channel


@dataclass(frozen=True, slots=True)
class WireLevel:
    """One level exactly as sent (strings kept because the book hash is over the wire text)."""

    price: str
    size: str


@dataclass(frozen=True, slots=True)
class BookMsg:
    """``book`` (WS) or REST ``/book``: levels in wire order (bids ascending, asks descending)."""

    market: str
    asset_id: str
    timestamp: str
    hash: str
    bids: tuple[WireLevel, ...]
    asks: tuple[WireLevel, ...]
    tick_size: str | None = None  # absent in 2024 captures and in post-trade books
    last_trade_price: str | None = None  # absent → keep the last known one
    min_order_size: str | None = None  # REST only
    neg_risk: bool | None = None  # REST only


@dataclass(frozen=True, slots=True)
class PriceChangeEntry:
    """One level change: ``size`` is the new absolute size at ``price`` (``"0"`` removes it)."""

    asset_id: str
    price: str
    size: str
    side: Side
    hash: str = ""
    best_bid: Decimal | None = None
    best_ask: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PriceChangeMsg:
    """``price_change``: entries in wire order, possibly for both tokens of the market."""

    market: str
    timestamp: str
    entries: tuple[PriceChangeEntry, ...]
    legacy: bool = False  # pre-2025-09 schema: one message-level hash, no BBO


@dataclass(frozen=True, slots=True)
class LastTradePriceMsg:
    """``last_trade_price``: a public trade print."""

    market: str
    asset_id: str
    price: Decimal
    size: Decimal
    side: Side
    fee_rate_bps: int
    timestamp: int
    transaction_hash: str = ""


@dataclass(frozen=True, slots=True)
class TickSizeChangeMsg:
    """``tick_size_change``: the book must be dropped and re-snapshotted."""

    market: str
    asset_id: str
    old_tick_size: Decimal
    new_tick_size: Decimal
    timestamp: int


@dataclass(frozen=True, slots=True)
class BestBidAskMsg:
    """``best_bid_ask`` (custom feature)."""

    market: str
    asset_id: str
    best_bid: Decimal | None
    best_ask: Decimal | None
    spread: Decimal | None
    timestamp: int


@dataclass(frozen=True, slots=True)
class NewMarketMsg:
    """``new_market`` (custom feature): the fields a scanner needs plus the raw payload."""

    market: str
    question: str
    slug: str
    asset_ids: tuple[str, ...]
    outcomes: tuple[str, ...]
    tick_size: Decimal | None
    timestamp: int
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class MarketResolvedMsg:
    """``market_resolved`` (custom feature)."""

    market: str
    asset_ids: tuple[str, ...]
    winning_asset_id: str
    winning_outcome: str
    timestamp: int


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """A message type this code does not know; delivered so nothing vanishes silently."""

    event_type: str
    raw: Mapping[str, Any]


MarketEvent = (
    BookMsg
    | PriceChangeMsg
    | LastTradePriceMsg
    | TickSizeChangeMsg
    | BestBidAskMsg
    | NewMarketMsg
    | MarketResolvedMsg
    | UnknownEvent
)


def split_frame(text: str | bytes) -> list[dict[str, Any]]:
    """Return the JSON objects in one frame (an object or an array of objects)."""
    try:
        # orjson parses a big frame in half the time; what it refuses but the standard parser
        # takes (NaN, integers beyond 64 bits, UTF-16 bytes) still goes through ``json``.
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise VenueError(f"frame is not JSON: {str(text)[:80]!r}") from exc
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(item, dict) for item in items):
        raise VenueError("frame holds something other than JSON objects", body=data)
    return items


def _levels(raw: Any) -> tuple[WireLevel, ...]:
    if not isinstance(raw, list):
        raise VenueError("book side is not a list", body=raw)
    return tuple(WireLevel(str(lv["price"]), str(lv["size"])) for lv in raw)


def parse_book(raw: Mapping[str, Any]) -> BookMsg:
    """Parse a WS ``book`` or a REST ``/book`` body."""
    neg_risk = raw.get("neg_risk")
    return BookMsg(
        market=_str(raw, "market"),
        asset_id=_str(raw, "asset_id"),
        timestamp=_str(raw, "timestamp"),
        hash=_str(raw, "hash"),
        bids=_levels(raw.get("bids", [])),
        asks=_levels(raw.get("asks", [])),
        tick_size=raw.get("tick_size"),
        last_trade_price=raw.get("last_trade_price"),
        min_order_size=raw.get("min_order_size"),
        neg_risk=bool(neg_risk) if isinstance(neg_risk, bool) else None,
    )


def _parse_price_change(raw: Mapping[str, Any]) -> PriceChangeMsg:
    market, ts = _str(raw, "market"), _str(raw, "timestamp")
    if "price_changes" in raw:
        entries = tuple(
            PriceChangeEntry(
                asset_id=_str(c, "asset_id"),
                price=_str(c, "price"),
                size=_str(c, "size"),
                side=_side(c.get("side")),
                hash=_str(c, "hash"),
                best_bid=_dec(c.get("best_bid")),
                best_ask=_dec(c.get("best_ask")),
            )
            for c in raw["price_changes"]
        )
        return PriceChangeMsg(market, ts, entries)
    # Legacy schema: one asset, a message-level hash describing the book after *all* changes, so
    # only the last entry carries it. The 2024 flattened capture has a single change inline.
    changes = raw.get("changes", [raw])
    asset, msg_hash = _str(raw, "asset_id"), _str(raw, "hash")
    legacy = [
        PriceChangeEntry(asset, _str(c, "price"), _str(c, "size"), _side(c.get("side")))
        for c in changes
    ]
    if legacy:
        last = legacy[-1]
        legacy[-1] = PriceChangeEntry(last.asset_id, last.price, last.size, last.side, msg_hash)
    return PriceChangeMsg(market, ts, tuple(legacy), legacy=True)


def parse_market_message(raw: Mapping[str, Any]) -> MarketEvent:
    """Turn one market-channel object into its typed event."""
    kind = _str(raw, "event_type")
    try:
        if kind == "book":
            return parse_book(raw)
        if kind == "price_change":
            return _parse_price_change(raw)
        if kind == "last_trade_price":
            return LastTradePriceMsg(
                _str(raw, "market"),
                _str(raw, "asset_id"),
                _req_dec(raw, "price"),
                _req_dec(raw, "size"),
                _side(raw.get("side")),
                int(_dec(raw.get("fee_rate_bps")) or 0),
                _ms(raw.get("timestamp")),
                _str(raw, "transaction_hash"),
            )
        if kind == "tick_size_change":
            return TickSizeChangeMsg(
                _str(raw, "market"),
                _str(raw, "asset_id"),
                _req_dec(raw, "old_tick_size"),
                _req_dec(raw, "new_tick_size"),
                _ms(raw.get("timestamp")),
            )
        if kind == "best_bid_ask":
            return BestBidAskMsg(
                _str(raw, "market"),
                _str(raw, "asset_id"),
                _dec(raw.get("best_bid")),
                _dec(raw.get("best_ask")),
                _dec(raw.get("spread")),
                _ms(raw.get("timestamp")),
            )
        if kind == "new_market":
            return NewMarketMsg(
                market=_str(raw, "market") or _str(raw, "condition_id"),
                question=_str(raw, "question"),
                slug=_str(raw, "slug"),
                asset_ids=tuple(raw.get("assets_ids") or raw.get("clob_token_ids") or ()),
                outcomes=tuple(raw.get("outcomes") or ()),
                tick_size=_dec(raw.get("order_price_min_tick_size")),
                timestamp=_ms(raw.get("timestamp")),
                raw=raw,
            )
        if kind == "market_resolved":
            return MarketResolvedMsg(
                _str(raw, "market"),
                tuple(raw.get("assets_ids") or ()),
                _str(raw, "winning_asset_id"),
                _str(raw, "winning_outcome"),
                _ms(raw.get("timestamp")),
            )
    except (KeyError, TypeError, ValueError, VenueError) as exc:
        raise VenueError(f"malformed {kind} message: {exc}", body=dict(raw)) from exc
    return UnknownEvent(kind, raw)


def last_trade_to_bus(msg: LastTradePriceMsg) -> Trade:
    """Return the bus ``trade`` print for a ``last_trade_price`` event."""
    return Trade(
        market_id=msg.market,
        token_id=msg.asset_id,
        price=float(msg.price),
        size=float(msg.size),
        side=msg.side,
        timestamp=msg.timestamp,
        fee_rate_bps=msg.fee_rate_bps,
    )


def tick_size_to_bus(msg: TickSizeChangeMsg) -> TickSizeChange:
    """Return the bus ``tick_size_change`` message."""
    return TickSizeChange(
        market_id=msg.market,
        token_id=msg.asset_id,
        old_tick_size=float(msg.old_tick_size),
        new_tick_size=float(msg.new_tick_size),
        timestamp=msg.timestamp,
    )


def resolved_to_bus(msg: MarketResolvedMsg) -> MarketResolved:
    """Return the bus ``market_resolved`` message."""
    return MarketResolved(
        market_id=msg.market,
        winning_token_id=msg.winning_asset_id,
        winning_outcome=msg.winning_outcome,
        timestamp=msg.timestamp,
    )


def best_bid_ask_to_bus(msg: BestBidAskMsg) -> Price:
    """Return a bus ``price`` for a ``best_bid_ask`` event (empty bid → 0, empty ask → 1)."""
    bid = msg.best_bid if msg.best_bid is not None else Decimal(0)
    ask = msg.best_ask if msg.best_ask is not None else Decimal(1)
    return Price(
        market_id=msg.market,
        token_id=msg.asset_id,
        bid=float(bid),
        ask=float(ask),
        mid=float((bid + ask) / 2),
        timestamp=msg.timestamp,
    )


# ------------------------------------------------------------------------------------------------
# User channel


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """User ``order`` event. Absent numbers (``""``) are ``None``."""

    type: str  # PLACEMENT | UPDATE | CANCELLATION
    order_id: str
    owner: str
    market: str
    asset_id: str
    side: Side
    price: Decimal | None
    original_size: Decimal | None
    size_matched: Decimal | None
    status: str  # CANCELED_<reason> is split: status CANCELED_…, see status_base
    order_type: str
    outcome: str
    maker_address: str
    timestamp: int

    @property
    def status_base(self) -> str:
        """Return ``CANCELED`` for any ``CANCELED_<reason>``; the status itself otherwise."""
        return "CANCELED" if self.status.startswith("CANCELED") else self.status

    @property
    def status_reason(self) -> str:
        """Return the text after ``CANCELED_`` (e.g. ``MARKET_RESOLVED``); ``""`` otherwise."""
        return self.status.partition("_")[2] if self.status.startswith("CANCELED_") else ""


@dataclass(frozen=True, slots=True)
class MakerOrder:
    """One resting order a trade matched; may sit on the complementary token at 1−p."""

    order_id: str
    owner: str
    maker_address: str
    matched_amount: Decimal
    price: Decimal
    asset_id: str
    outcome: str
    side: Side | None  # present in newer events only
    fee_rate_bps: int


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """User ``trade`` event; resent for each status MATCHED → MINED → CONFIRMED/RETRYING/FAILED."""

    trade_id: str
    taker_order_id: str
    market: str
    asset_id: str
    side: Side
    price: Decimal
    size: Decimal
    status: str
    trader_side: str  # TAKER | MAKER
    owner: str
    trade_owner: str
    maker_address: str
    outcome: str
    fee_rate_bps: int
    match_time_ms: int
    timestamp: int
    transaction_hash: str
    maker_orders: tuple[MakerOrder, ...]


UserEvent = OrderEvent | TradeEvent | UnknownEvent


def parse_user_message(raw: Mapping[str, Any]) -> UserEvent:
    """Turn one user-channel object into its typed event."""
    kind = _str(raw, "event_type")
    try:
        if kind == "order":
            return OrderEvent(
                type=_str(raw, "type"),
                order_id=_str(raw, "id"),
                owner=_str(raw, "owner"),
                market=_str(raw, "market"),
                asset_id=_str(raw, "asset_id"),
                side=_side(raw.get("side")),
                price=_dec(raw.get("price")),
                original_size=_dec(raw.get("original_size")),
                size_matched=_dec(raw.get("size_matched")),
                status=_str(raw, "status"),
                order_type=_str(raw, "order_type"),
                outcome=_str(raw, "outcome"),
                maker_address=_str(raw, "maker_address"),
                timestamp=_ms(raw.get("timestamp")),
            )
        if kind == "trade":
            makers = tuple(
                MakerOrder(
                    order_id=_str(m, "order_id"),
                    owner=_str(m, "owner"),
                    maker_address=_str(m, "maker_address"),
                    matched_amount=_req_dec(m, "matched_amount"),
                    price=_req_dec(m, "price"),
                    asset_id=_str(m, "asset_id"),
                    outcome=_str(m, "outcome"),
                    side=_side(m["side"]) if m.get("side") else None,
                    fee_rate_bps=int(_dec(m.get("fee_rate_bps")) or 0),
                )
                for m in raw.get("maker_orders") or ()
            )
            return TradeEvent(
                trade_id=_str(raw, "id"),
                taker_order_id=_str(raw, "taker_order_id"),
                market=_str(raw, "market"),
                asset_id=_str(raw, "asset_id"),
                side=_side(raw.get("side")),
                price=_req_dec(raw, "price"),
                size=_req_dec(raw, "size"),
                status=_str(raw, "status"),
                trader_side=_str(raw, "trader_side", "TAKER"),
                owner=_str(raw, "owner"),
                trade_owner=_str(raw, "trade_owner"),
                maker_address=_str(raw, "maker_address"),
                outcome=_str(raw, "outcome"),
                fee_rate_bps=int(_dec(raw.get("fee_rate_bps")) or 0),
                match_time_ms=_ms(raw.get("match_time")),
                timestamp=_ms(raw.get("timestamp")),
                transaction_hash=_str(raw, "transaction_hash"),
                maker_orders=makers,
            )
    except (KeyError, TypeError, ValueError, VenueError) as exc:
        raise VenueError(f"malformed {kind} message: {exc}", body=dict(raw)) from exc
    return UnknownEvent(kind, raw)

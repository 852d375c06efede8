"""Events the exchange core publishes for the WS layer (reference §4.2–§4.4).

Each event knows its channel (``market`` or ``user``), what to route it by (asset ids for the
market channel; the recipient api key and condition id for the user channel) and its exact wire
message via ``to_wire()``. The WS layer only filters and serialises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from polybot.localvenue.markets import EventSpec, MarketSpec
from polybot.localvenue.orders import OrderBookSummary

Channel = Literal["market", "user"]


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueEvent:
    """Base of every published event."""

    market: str                 # condition id
    timestamp_ms: int

    @property
    def channel(self) -> Channel:
        """Return the WS channel this event belongs to."""
        return "market"

    @property
    def asset_ids(self) -> tuple[str, ...]:
        """Return the assets a market-channel subscriber must follow to receive this."""
        return ()

    @property
    def custom_feature(self) -> bool:
        """Return True for events sent only with ``custom_feature_enabled``."""
        return False

    def to_wire(self) -> dict[str, Any]:
        """Return the exact WS message."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceChangeEntry:
    """One ``price_changes[]`` item: new absolute level size plus post-change hash and BBO."""

    asset_id: str
    price: str
    size: str
    side: str                   # BUY = bid, SELL = ask
    hash: str
    best_bid: str
    best_ask: str

    def to_wire(self) -> dict[str, str]:
        """Return the wire object."""
        return {
            "asset_id": self.asset_id, "price": self.price, "size": self.size, "side": self.side,
            "hash": self.hash, "best_bid": self.best_bid, "best_ask": self.best_ask,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceChange(VenueEvent):
    """A ``price_change`` message covering both mirrored tokens of one market."""

    entries: tuple[PriceChangeEntry, ...]

    @property
    def asset_ids(self) -> tuple[str, ...]:
        """Return the assets touched."""
        return tuple(dict.fromkeys(e.asset_id for e in self.entries))

    def to_wire(self) -> dict[str, Any]:
        """Return the ``price_change`` message."""
        return {
            "event_type": "price_change", "market": self.market,
            "timestamp": str(self.timestamp_ms),
            "price_changes": [e.to_wire() for e in self.entries],
        }

    def for_assets(self, assets: set[str]) -> dict[str, Any] | None:
        """Return the message restricted to ``assets`` (None if none of them is touched)."""
        kept = [e.to_wire() for e in self.entries if e.asset_id in assets]
        if not kept:
            return None
        return {
            "event_type": "price_change", "market": self.market,
            "timestamp": str(self.timestamp_ms), "price_changes": kept,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class BookSnapshot(VenueEvent):
    """A full ``book`` for one asset (after trades and tick changes)."""

    summary: OrderBookSummary

    @property
    def asset_ids(self) -> tuple[str, ...]:
        """Return the asset."""
        return (self.summary.asset_id,)

    def to_wire(self) -> dict[str, Any]:
        """Return the WS ``book`` message."""
        return self.summary.to_ws()


@dataclass(frozen=True, slots=True, kw_only=True)
class LastTradePrice(VenueEvent):
    """A ``last_trade_price`` message (taker's asset, price and side)."""

    asset_id: str
    price: str
    side: str
    size: str
    fee_rate_bps: str

    @property
    def asset_ids(self) -> tuple[str, ...]:
        """Return the asset."""
        return (self.asset_id,)

    def to_wire(self) -> dict[str, Any]:
        """Return the message."""
        return {
            "event_type": "last_trade_price", "market": self.market, "asset_id": self.asset_id,
            "price": self.price, "side": self.side, "size": self.size,
            "fee_rate_bps": self.fee_rate_bps, "timestamp": str(self.timestamp_ms),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class BestBidAsk(VenueEvent):
    """A ``best_bid_ask`` message (custom feature) after the top of book moved."""

    asset_id: str
    best_bid: str
    best_ask: str
    spread: str

    @property
    def asset_ids(self) -> tuple[str, ...]:
        """Return the asset."""
        return (self.asset_id,)

    @property
    def custom_feature(self) -> bool:
        """Only with ``custom_feature_enabled``."""
        return True

    def to_wire(self) -> dict[str, Any]:
        """Return the message."""
        return {
            "event_type": "best_bid_ask", "market": self.market, "asset_id": self.asset_id,
            "best_bid": self.best_bid, "best_ask": self.best_ask, "spread": self.spread,
            "timestamp": str(self.timestamp_ms),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class TickSizeChange(VenueEvent):
    """A ``tick_size_change`` message for one asset."""

    asset_id: str
    old_tick_size: str
    new_tick_size: str

    @property
    def asset_ids(self) -> tuple[str, ...]:
        """Return the asset."""
        return (self.asset_id,)

    def to_wire(self) -> dict[str, Any]:
        """Return the message."""
        return {
            "event_type": "tick_size_change", "market": self.market, "asset_id": self.asset_id,
            "old_tick_size": self.old_tick_size, "new_tick_size": self.new_tick_size,
            "timestamp": str(self.timestamp_ms),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class NewMarket(VenueEvent):
    """A ``new_market`` message (custom feature)."""

    spec: MarketSpec
    event: EventSpec | None = None

    @property
    def asset_ids(self) -> tuple[str, ...]:
        """Return the new market's assets (subscribers to any asset may get it)."""
        return self.spec.assets

    @property
    def custom_feature(self) -> bool:
        """Only with ``custom_feature_enabled``."""
        return True

    def to_wire(self) -> dict[str, Any]:
        """Return the message."""
        s, ev = self.spec, self.event
        return {
            "event_type": "new_market", "id": s.gamma_id, "question": s.question,
            "market": s.condition_id, "slug": s.slug, "description": s.description,
            "assets_ids": list(s.assets), "outcomes": list(s.outcomes),
            "event_message": {
                "id": ev.event_id if ev else "", "ticker": ev.slug if ev else "",
                "slug": ev.slug if ev else "", "title": ev.title if ev else "",
                "description": ev.description if ev else "",
            },
            "timestamp": str(self.timestamp_ms), "tags": list(s.tags),
            "condition_id": s.condition_id, "active": True, "clob_token_ids": list(s.assets),
            "sports_market_type": "", "line": "", "game_start_time": "",
            "order_price_min_tick_size": str(s.tick_size), "group_item_title": s.group_item_title,
            "fees_enabled": not s.fees.is_free,
            "fee_schedule": {
                "rate": float(s.fees.rate), "exponent": s.fees.exponent,
                "takerOnly": s.fees.taker_only, "rebateRate": float(s.fees.rebate_rate),
            },
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketResolved(VenueEvent):
    """A ``market_resolved`` message (custom feature)."""

    spec: MarketSpec
    winning_outcome: int

    @property
    def asset_ids(self) -> tuple[str, ...]:
        """Return the market's assets."""
        return self.spec.assets

    @property
    def custom_feature(self) -> bool:
        """Only with ``custom_feature_enabled``."""
        return True

    def to_wire(self) -> dict[str, Any]:
        """Return the message."""
        s = self.spec
        return {
            "event_type": "market_resolved", "id": s.gamma_id, "market": s.condition_id,
            "assets_ids": list(s.assets), "winning_asset_id": s.assets[self.winning_outcome],
            "winning_outcome": s.outcomes[self.winning_outcome],
            "timestamp": str(self.timestamp_ms), "tags": list(s.tags),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class UserEvent(VenueEvent):
    """A user-channel message addressed to one api key."""

    api_key: str
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def channel(self) -> Channel:
        """User channel."""
        return "user"

    def to_wire(self) -> dict[str, Any]:
        """Return the message (built by the engine in wire shape)."""
        return dict(self.payload)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderEvent(UserEvent):
    """An ``order`` message: PLACEMENT, UPDATE or CANCELLATION."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeEvent(UserEvent):
    """A ``trade`` message (one per recipient: the taker's key and each maker's key)."""

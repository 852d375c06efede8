"""Typed market metadata: markets, outcomes, events, tags and order books.

These are PolyBot's own shapes, independent of any one Polymarket API. The Gamma and CLOB clients
(``polybot.venues.polymarket``) build them from wire payloads; nothing here does I/O.

Identifiers, because Polymarket has several:

* ``Market.id`` is Gamma's numeric id (a string); ``Market.condition_id`` is the CTF condition id
  (0x-hex32), which the CLOB calls ``market``.
* ``Outcome.asset_id`` is what the CLOB's ``token_id`` parameters take. For protocol ``v1``
  markets it is the ERC-1155 token id (Gamma ``clobTokenIds``); for protocol ``v2`` markets it is
  the PositionManager position id (Gamma ``positionIds``). ``Market.protocol_version`` says which.

Prices, sizes, ticks and fees are ``Decimal``: these values reach orders, and a float tick such as
``0.1 + 0.2`` would put prices off the grid.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

import msgspec

from polybot.model.fees import NO_FEES, FeeSchedule

ProtocolVersion = Literal["v1", "v2"]


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """One outcome of a market and the asset that pays out if it wins."""

    name: str
    asset_id: str
    price: Decimal | None = None          # last indicative price (Gamma outcomePrices / CLOB price)
    winner: bool | None = None            # CLOB only, after resolution


class Tag(msgspec.Struct, frozen=True, kw_only=True):
    """A Gamma tag (category label). CLOB market objects only carry the label."""

    id: str = ""
    label: str = ""
    slug: str = ""
    force_show: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None


class EventRef(msgspec.Struct, frozen=True, kw_only=True):
    """The event a market belongs to, as embedded in a Gamma market object."""

    id: str
    slug: str = ""
    title: str = ""
    neg_risk: bool = False


class Market(msgspec.Struct, frozen=True, kw_only=True):
    """A binary (or legacy multi-outcome) Polymarket market with everything needed to trade it.

    ``tick_size`` and ``min_order_size`` are ``None`` when the source did not carry them (events
    embedded in Gamma responses may omit them): fetch the market itself before trading.
    """

    condition_id: str
    id: str = ""
    question_id: str = ""
    slug: str = ""
    question: str = ""
    description: str = ""
    category: str = ""
    group_item_title: str = ""
    market_type: str = ""
    outcomes: tuple[Outcome, ...] = ()
    protocol_version: ProtocolVersion = "v1"
    active: bool = False
    closed: bool = False
    archived: bool = False
    restricted: bool = False
    accepting_orders: bool = False
    enable_order_book: bool = False
    neg_risk: bool = False
    neg_risk_other: bool = False
    neg_risk_market_id: str = ""
    neg_risk_request_id: str = ""
    tick_size: Decimal | None = None
    min_order_size: Decimal | None = None
    fees_enabled: bool = False
    fee_schedule: FeeSchedule = NO_FEES
    fee_type: str = ""
    maker_base_fee_bps: int = 0
    taker_base_fee_bps: int = 0
    seconds_delay: int = 0
    taker_order_delay: bool = False
    rfq_enabled: bool = False
    volume: Decimal | None = None
    volume_24h: Decimal | None = None
    liquidity: Decimal | None = None
    best_bid: Decimal | None = None
    best_ask: Decimal | None = None
    spread: Decimal | None = None
    last_trade_price: Decimal | None = None
    rewards_min_size: Decimal | None = None
    rewards_max_spread: Decimal | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    event_start_time: datetime | None = None
    closed_time: datetime | None = None
    accepting_orders_since: datetime | None = None
    resolution_source: str = ""
    uma_resolution_status: str = ""
    resolution_status: str = ""
    sports_market_type: str = ""
    line: Decimal | None = None
    game_id: str = ""
    events: tuple[EventRef, ...] = ()
    tags: tuple[Tag, ...] = ()

    @property
    def asset_ids(self) -> tuple[str, ...]:
        """Return the CLOB asset ids (token ids for v1, position ids for v2), outcome order."""
        return tuple(outcome.asset_id for outcome in self.outcomes)

    @property
    def outcome_names(self) -> tuple[str, ...]:
        """Return the outcome labels in order (``("Yes", "No")`` for most markets)."""
        return tuple(outcome.name for outcome in self.outcomes)

    @property
    def is_binary(self) -> bool:
        """Return True for a two-outcome market (every CLOB-traded market is)."""
        return len(self.outcomes) == 2

    @property
    def is_tradable(self) -> bool:
        """Return True when the CLOB will accept new orders for this market right now."""
        return (
            self.active and not self.closed and not self.archived
            and self.accepting_orders and self.enable_order_book and len(self.outcomes) > 0
        )

    @property
    def event_id(self) -> str | None:
        """Return the id of the first parent event, if Gamma embedded one."""
        return self.events[0].id if self.events else None

    def outcome(self, name_or_asset_id: str) -> Outcome:
        """Return the outcome with this label (case-insensitive) or asset id; KeyError if none."""
        wanted = name_or_asset_id.casefold()
        for candidate in self.outcomes:
            if candidate.asset_id == name_or_asset_id or candidate.name.casefold() == wanted:
                return candidate
        raise KeyError(f"market {self.condition_id} has no outcome {name_or_asset_id!r}")

    def complement(self, asset_id: str) -> Outcome:
        """Return the other outcome of a binary market (NO for YES and vice versa)."""
        if not self.is_binary:
            raise ValueError(f"market {self.condition_id} is not binary")
        first, second = self.outcomes
        if asset_id == first.asset_id:
            return second
        if asset_id == second.asset_id:
            return first
        raise KeyError(f"asset {asset_id} is not in market {self.condition_id}")


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """A Gamma event: a group of related markets (one winner among them when ``neg_risk``)."""

    id: str
    slug: str = ""
    ticker: str = ""
    title: str = ""
    description: str = ""
    category: str = ""
    active: bool = False
    closed: bool = False
    archived: bool = False
    featured: bool = False
    restricted: bool = False
    neg_risk: bool = False
    enable_neg_risk: bool = False
    neg_risk_augmented: bool = False
    neg_risk_market_id: str = ""
    start_date: datetime | None = None
    end_date: datetime | None = None
    creation_date: datetime | None = None
    volume: Decimal | None = None
    volume_24h: Decimal | None = None
    liquidity: Decimal | None = None
    open_interest: Decimal | None = None
    comment_count: int = 0
    series_slug: str = ""
    tags: tuple[Tag, ...] = ()
    markets: tuple[Market, ...] = ()

    @property
    def condition_ids(self) -> tuple[str, ...]:
        """Return the condition ids of the embedded markets."""
        return tuple(market.condition_id for market in self.markets)


class PriceLevel(msgspec.Struct, frozen=True):
    """One aggregated book level: total ``size`` shares resting at ``price``."""

    price: Decimal
    size: Decimal


class OrderBook(msgspec.Struct, frozen=True, kw_only=True):
    """A CLOB order book snapshot for one asset.

    Levels keep Polymarket's wire order — bids ascending, asks descending — so the best level of
    each side is the *last* element and the book hash can be recomputed from the levels.
    """

    market: str
    asset_id: str
    timestamp_ms: int
    hash: str = ""
    bids: tuple[PriceLevel, ...] = ()
    asks: tuple[PriceLevel, ...] = ()
    tick_size: Decimal | None = None
    min_order_size: Decimal | None = None
    neg_risk: bool | None = None
    last_trade_price: Decimal | None = None

    @property
    def best_bid(self) -> PriceLevel | None:
        """Return the highest bid level, or None when there are no bids."""
        return self.bids[-1] if self.bids else None

    @property
    def best_ask(self) -> PriceLevel | None:
        """Return the lowest ask level, or None when there are no asks."""
        return self.asks[-1] if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        """Return the midpoint of best bid and ask, or None when a side is empty."""
        bid, ask = self.best_bid, self.best_ask
        if bid is None or ask is None:
            return None
        return (bid.price + ask.price) / 2

    @property
    def spread(self) -> Decimal | None:
        """Return best ask minus best bid, or None when a side is empty."""
        bid, ask = self.best_bid, self.best_ask
        if bid is None or ask is None:
            return None
        return ask.price - bid.price


class PricePoint(msgspec.Struct, frozen=True):
    """One point of a price history: unix-seconds ``timestamp`` and the price then."""

    timestamp: int
    price: Decimal

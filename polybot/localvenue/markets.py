"""Markets and events the local venue trades (reference §2, §8).

A :class:`MarketSpec` is everything fixed about one binary condition (ids, outcomes, metadata the
Gamma layer serves); :class:`MarketState` is what changes (tick size, resolution, the book). A
neg-risk event is a group of binary markets sharing ``neg_risk_market_id`` of which exactly one
resolves YES.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from polybot.model.fees import NO_FEES, FeeSchedule
from polybot.venues.sim.book import Book


class ProtocolVersion(StrEnum):
    """How a market's outcome assets are named on the wire (reference §0.1)."""

    V1 = "v1"   # CTF ERC-1155 token ids (Gamma ``clobTokenIds``), CLOB V2 exchange
    V2 = "v2"   # Protocol-V2 position ids (Gamma ``positionIds``), ExchangeV3


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketSpec:
    """The fixed facts of one binary market.

    ``yes_asset`` / ``no_asset`` are token ids (v1) or position ids (v2), as big decimal strings.
    The Gamma-only fields are plain metadata for the HTTP layer; the core never interprets them.
    """

    condition_id: str
    question_id: str
    yes_asset: str
    no_asset: str
    tick_size: Decimal
    min_size: Decimal = Decimal(5)
    fees: FeeSchedule = NO_FEES
    neg_risk: bool = False
    neg_risk_market_id: str = ""
    version: ProtocolVersion = ProtocolVersion.V1
    outcomes: tuple[str, str] = ("Yes", "No")
    # Gamma metadata (served as is by the HTTP layer)
    gamma_id: str = ""
    event_id: str = ""
    question: str = ""
    slug: str = ""
    description: str = ""
    category: str = ""
    tags: tuple[str, ...] = ()
    group_item_title: str = ""
    start_date_iso: str = ""
    end_date_iso: str = ""
    image: str = ""
    icon: str = ""

    @property
    def assets(self) -> tuple[str, str]:
        """Return ``(yes_asset, no_asset)``."""
        return (self.yes_asset, self.no_asset)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventSpec:
    """A Gamma event: one or more markets; ``neg_risk`` events have exactly one winner."""

    event_id: str
    title: str
    slug: str
    description: str = ""
    category: str = ""
    tags: tuple[str, ...] = ()
    neg_risk: bool = False
    neg_risk_market_id: str = ""
    condition_ids: tuple[str, ...] = ()
    start_date_iso: str = ""
    end_date_iso: str = ""
    image: str = ""
    icon: str = ""


@dataclass(slots=True, kw_only=True)
class MarketState:
    """The mutable side of a market: current tick, book, last trade, resolution."""

    spec: MarketSpec
    tick_size: Decimal
    book: Book
    created_ms: int
    last_trade_price: Decimal | None = None     # YES terms
    last_trade_side: str = ""                   # taker side of the last trade, YES terms
    accepting_orders: bool = True
    closed: bool = False
    winning_outcome: int | None = None          # 0 = outcomes[0] (YES), 1 = outcomes[1]
    resolved_ms: int | None = None
    volume_units: int = 0                       # shares traded, base units
    price_history: list[tuple[int, Decimal]] = field(default_factory=list)  # (unix s, YES price)

    @property
    def condition_id(self) -> str:
        """Return the market's condition id."""
        return self.spec.condition_id

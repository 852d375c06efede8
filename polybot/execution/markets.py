"""What the executor knows about each market: tokens, tick, minimum size, neg-risk event, fees.

The venue is the source of truth, so markets are read from the CLOB (``/markets/{cid}`` for
tokens and state, ``/clob-markets/{cid}`` for the fee schedule) and cached for a short while.
A ``tick_size_change`` or ``market_resolved`` seen on the price bus updates the cache at once:
the tick is market state, not a constant, and an order off the new grid would be refused.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from decimal import Decimal

import msgspec

from polybot.bus.messages import MarketResolved, Message, TickSizeChange
from polybot.core.errors import NotFound
from polybot.core.money import to_decimal
from polybot.model.fees import NO_FEES, FeeSchedule
from polybot.model.market import Market
from polybot.venues.polymarket.clob import ClobClient
from polybot.venues.polymarket.gamma import GammaClient, MarketFilters

log = logging.getLogger(__name__)

DEFAULT_TICK = Decimal("0.01")
CACHE_TTL_S = 60.0


@dataclass(frozen=True, slots=True)
class MarketInfo:
    """The trading rules of one binary market, exact."""

    market_id: str
    token_ids: tuple[str, ...]  # outcome order: index 0 is YES, 1 is NO
    tick_size: Decimal
    min_order_size: Decimal
    neg_risk: bool
    event_id: str  # the neg-risk event ("" when the market is not part of one)
    is_tradable: bool
    fee_schedule: FeeSchedule
    market: Market  # the domain object (the paper venue needs it)
    protocol_version: str = "v1"  # "v2" markets sign against ExchangeV3 (Gamma knows, CLOB not)

    def outcome_index(self, token_id: str) -> int | None:
        """Return 0 for the YES token, 1 for NO, None when the token is not in this market."""
        try:
            return self.token_ids.index(token_id)
        except ValueError:
            return None


def market_info(market: Market, fees: FeeSchedule = NO_FEES) -> MarketInfo:
    """Return the executor's view of a domain market."""
    tick = market.tick_size or DEFAULT_TICK
    schedule = fees if not fees.is_free else market.fee_schedule
    full = market if schedule == market.fee_schedule else _with_fees(market, schedule)
    return MarketInfo(
        market_id=market.condition_id,
        token_ids=market.asset_ids,
        tick_size=tick,
        min_order_size=market.min_order_size or Decimal(0),
        neg_risk=market.neg_risk,
        event_id=market.neg_risk_market_id if market.neg_risk else "",
        is_tradable=market.is_tradable,
        fee_schedule=schedule,
        market=full,
    )


def _with_fees(market: Market, schedule: FeeSchedule) -> Market:
    return msgspec.structs.replace(market, fee_schedule=schedule, fees_enabled=not schedule.is_free)


class MarketCatalog:
    """A cache of :class:`MarketInfo` filled from the CLOB on demand."""

    def __init__(
        self, clob: ClobClient, gamma: GammaClient | None = None, *, ttl_s: float = CACHE_TTL_S
    ) -> None:
        self._clob = clob
        self._gamma = gamma
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, MarketInfo]] = {}

    def cached(self, market_id: str) -> MarketInfo | None:
        """Return the cached market (however old), or None."""
        entry = self._cache.get(market_id)
        return entry[1] if entry else None

    async def get(self, market_id: str) -> MarketInfo | None:
        """Return the market, fetching it when unknown or older than the TTL; None if no such market.

        Raises the client's ``VenueError`` when the venue cannot answer (the caller decides).
        """
        entry = self._cache.get(market_id)
        if entry is not None and time.monotonic() - entry[0] < self._ttl_s:
            return entry[1]
        try:
            market = await self._clob.get_market(market_id)
        except NotFound:
            return None
        fees = NO_FEES
        try:
            fees = (await self._clob.get_clob_market(market_id)).fee_schedule
        except NotFound:
            log.info("no fee details for %s; assuming the market's own schedule", market_id)
        info = market_info(market, fees)
        if self._gamma is not None:
            found = await self._gamma.list_markets(
                MarketFilters(condition_ids=[market_id]), max_items=1
            )
            if found:
                info = replace(info, protocol_version=found[0].protocol_version)
        self._cache[market_id] = (time.monotonic(), info)
        return info

    def on_message(self, message: Message) -> None:
        """Apply tick changes and resolutions seen on the price bus."""
        if isinstance(message, TickSizeChange):
            self._patch(message.market_id, tick_size=to_decimal(message.new_tick_size))
        elif isinstance(message, MarketResolved):
            self._patch(message.market_id, is_tradable=False)

    def _patch(self, market_id: str, **changes: object) -> None:
        entry = self._cache.get(market_id)
        if entry is not None:
            self._cache[market_id] = (entry[0], replace(entry[1], **changes))  # type: ignore[arg-type]

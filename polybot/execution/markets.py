"""What the executor knows about each market: tokens, tick, minimum size, neg-risk event, fees.

The venue is the source of truth, so markets are read from the CLOB (``/markets/{cid}`` for
tokens and state, ``/clob-markets/{cid}`` for the fee schedule) and cached for a short while.
A ``tick_size_change`` or ``market_resolved`` seen on the price bus updates the cache at once:
the tick is market state, not a constant, and an order off the new grid would be refused.

A resolution seen on the bus marks the cached market closed with its winner (so
``settlement.winner_of`` sees it), and stays applied to later fetches until the venue's own
market shows it closed (then the venue's winner flags, or its 50/50 prices, are the word): the
CLOB may lag the WebSocket, and a market does not un-resolve. A hint that the cache is behind
(the venue cancelled our orders because the market resolved) calls for ``get(market_id,
fresh=True)`` or :meth:`MarketCatalog.invalidate`, not a wait for the TTL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

import msgspec

from polybot.bus.messages import MarketResolved, Message, TickSizeChange
from polybot.core.errors import NotFound, VenueError
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
        # Bus resolutions of cached (or in-flight) markets the venue has not confirmed yet.
        self._resolutions: dict[str, MarketResolved] = {}
        self._fetching: Counter[str] = Counter()
        self._refreshing: dict[str, asyncio.Task[None]] = {}  # background refreshes (stale_ok)

    def cached(self, market_id: str) -> MarketInfo | None:
        """Return the cached market (however old), or None."""
        entry = self._cache.get(market_id)
        return entry[1] if entry else None

    def invalidate(self, market_id: str) -> None:
        """Make the next :meth:`get` ask the venue; :meth:`cached` still answers meanwhile."""
        entry = self._cache.get(market_id)
        if entry is not None:
            self._cache[market_id] = (float("-inf"), entry[1])

    async def get(
        self, market_id: str, *, fresh: bool = False, stale_ok: bool = False
    ) -> MarketInfo | None:
        """Return the market, fetching it when unknown, older than the TTL or ``fresh`` is asked;
        None if no such market.

        ``stale_ok`` (the signal path): an entry older than the TTL is returned at once and
        refreshed in the background, so a signal never waits for the venue because of the
        cache's age — the bus keeps the tick and resolutions current meanwhile, and the venue
        checks every order anyway. An unknown or invalidated market is still fetched first.

        Raises the client's ``VenueError`` when the venue cannot answer (the caller decides).
        """
        entry = self._cache.get(market_id)
        if not fresh and entry is not None:
            age = time.monotonic() - entry[0]
            if age < self._ttl_s:
                return entry[1]
            if stale_ok and age != float("inf"):
                self._refresh_soon(market_id)
                return entry[1]
        self._fetching[market_id] += 1  # a resolution arriving mid-fetch must not be lost
        try:
            info = await self._fetch(market_id)
        finally:
            self._fetching[market_id] -= 1
            if self._fetching[market_id] <= 0:
                del self._fetching[market_id]
        if info is None:
            self._resolutions.pop(market_id, None)
            return None
        info = self._with_resolution(info)
        self._cache[market_id] = (time.monotonic(), info)
        return info

    def _refresh_soon(self, market_id: str) -> None:
        if market_id in self._refreshing:
            return
        task = asyncio.get_running_loop().create_task(self._refresh(market_id))
        self._refreshing[market_id] = task
        task.add_done_callback(lambda _: self._refreshing.pop(market_id, None))

    async def _refresh(self, market_id: str) -> None:
        try:
            await self.get(market_id, fresh=True)
        except VenueError as exc:  # the stale entry stays; the next lookup tries again
            log.warning("could not refresh market %s: %s", market_id, exc)

    async def aclose(self) -> None:
        """Stop background refreshes (the executor's shutdown)."""
        tasks = list(self._refreshing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def on_message(self, message: Message) -> None:
        """Apply tick changes and resolutions seen on the price bus."""
        if isinstance(message, TickSizeChange):
            self._patch(message.market_id, tick_size=to_decimal(message.new_tick_size))
        elif isinstance(message, MarketResolved):
            self._resolve(message)

    async def _fetch(self, market_id: str) -> MarketInfo | None:
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
        return info

    def _resolve(self, message: MarketResolved) -> None:
        market_id = message.market_id
        entry = self._cache.get(market_id)
        if entry is None:
            if self._fetching[market_id]:  # (Counter: reading a missing key adds nothing)
                self._resolutions.setdefault(market_id, message)  # checked on arrival
            return
        if message.winning_token_id not in entry[1].token_ids:
            log.warning(
                "market %s resolution to %s ignored: not one of its tokens %s; asking the venue",
                market_id,
                message.winning_token_id,
                entry[1].token_ids,
            )
            self.invalidate(market_id)
            return
        if entry[1].market.closed or market_id in self._resolutions:
            return  # known resolved already: the first word stands (as in the ledger)
        self._resolutions[market_id] = message
        self._cache[market_id] = (entry[0], self._with_resolution(entry[1]))

    def _with_resolution(self, info: MarketInfo) -> MarketInfo:
        """Apply the bus resolution the venue's ``info`` does not show yet (if any)."""
        resolution = self._resolutions.get(info.market_id)
        if resolution is None:
            return info
        if info.market.closed or resolution.winning_token_id not in info.token_ids:
            del self._resolutions[info.market_id]  # the venue caught up (its word wins), or bogus
            return info
        return resolved_info(info, resolution)

    def _patch(self, market_id: str, **changes: object) -> None:
        entry = self._cache.get(market_id)
        if entry is not None:
            self._cache[market_id] = (entry[0], replace(entry[1], **changes))  # type: ignore[arg-type]


def resolved_info(info: MarketInfo, resolution: MarketResolved) -> MarketInfo:
    """Return ``info`` as the venue will show it once resolved: closed, the winner marked."""
    winner = resolution.winning_token_id
    market = info.market
    outcomes = tuple(
        msgspec.structs.replace(outcome, winner=outcome.asset_id == winner)
        for outcome in market.outcomes
    )
    closed_at = market.closed_time or _when(resolution.timestamp)
    market = msgspec.structs.replace(
        market, outcomes=outcomes, closed=True, accepting_orders=False, closed_time=closed_at
    )
    return replace(info, market=market, is_tradable=False)


def _when(timestamp_ms: int) -> datetime | None:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC) if timestamp_ms else None

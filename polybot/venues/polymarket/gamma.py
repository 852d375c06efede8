"""Async client for the Gamma API (market metadata; reference §2) and the wire → domain mapping.

Listing uses keyset pagination (``/markets/keyset``, ``/events/keyset``: ``after_cursor`` in,
``next_cursor`` out). Polymarket announced the sunset of the legacy offset lists (``/markets``,
``/events``); when a keyset endpoint answers 404/410 the client falls back to the legacy list for
the rest of its life, so it works against either generation (and the local venue serves both).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import msgspec
from tqdm.auto import tqdm

from polybot.core.errors import NotFound
from polybot.model.fees import NO_FEES, FeeSchedule
from polybot.model.market import Event, EventRef, Market, Outcome, ProtocolVersion, Tag
from polybot.venues.polymarket.contracts import GAMMA_URL
from polybot.venues.polymarket.http import HttpClient, ParamValue
from polybot.venues.polymarket.wire import (
    GammaEvent,
    GammaEventsKeyset,
    GammaFeeSchedule,
    GammaMarket,
    GammaMarketsKeyset,
    GammaSearch,
    GammaTag,
    Page,
    dec,
    json_list,
    parse_time,
)

MARKETS_KEYSET_MAX = 100
EVENTS_KEYSET_MAX = 500
LEGACY_PAGE_MAX = 100   # the legacy lists cap silently; asking for more only hides the cap


@dataclasses.dataclass(frozen=True, kw_only=True)
class MarketFilters:
    """Filters of ``/markets[/keyset]`` (unified SDK ``list_markets_spec``). None = not sent;
    sequences go out as repeated keys. ``active``/``archived`` exist only on the legacy list.
    ``extra`` passes anything not modelled here straight through."""

    ascending: bool | None = None
    closed: bool | None = None
    clob_token_ids: Sequence[str] = ()
    condition_ids: Sequence[str] = ()        # ≤100 per request
    cyom: bool | None = None
    decimalized: bool | None = None
    end_date_min: datetime | None = None
    end_date_max: datetime | None = None
    start_date_min: datetime | None = None
    start_date_max: datetime | None = None
    game_id: str | None = None
    id: Sequence[str] = ()
    include_tag: bool | None = None
    liquidity_num_min: Decimal | None = None
    liquidity_num_max: Decimal | None = None
    volume_num_min: Decimal | None = None
    volume_num_max: Decimal | None = None
    locale: str | None = None
    market_maker_address: str | None = None
    order: Sequence[str] = ()               # sent comma-joined, e.g. ("volumeNum",)
    onchain_event_ids: Sequence[str] = ()
    position_ids: Sequence[str] = ()
    question_ids: Sequence[str] = ()
    related_tags: bool | None = None
    request_ids: Sequence[str] = ()
    resolution_status: Literal["inactive", "active", "resolved"] | None = None
    rfq_enabled: bool | None = None
    rewards_min_size: Decimal | None = None
    slug: Sequence[str] = ()
    sports_market_types: Sequence[str] = ()
    tag_id: int | str | None = None
    tag_match: Literal["any", "all"] | None = None
    uma_resolution_status: str | None = None
    version: Literal["v1", "v2"] | None = None
    active: bool | None = None               # legacy list only
    archived: bool | None = None             # legacy list only
    extra: Mapping[str, ParamValue | Sequence[ParamValue]] = dataclasses.field(
        default_factory=dict)

    def to_params(self, *, legacy: bool = False) -> list[tuple[str, ParamValue]]:
        """Return the query pairs for the keyset list (or the legacy list)."""
        skip = () if legacy else ("active", "archived")
        return _params(self, skip)


@dataclasses.dataclass(frozen=True, kw_only=True)
class EventFilters:
    """Filters of ``/events[/keyset]``; same conventions as ``MarketFilters``."""

    ascending: bool | None = None
    closed: bool | None = None
    id: Sequence[str] = ()
    slug: Sequence[str] = ()
    tag_id: int | str | None = None
    tag_slug: str | None = None
    exclude_tag_id: Sequence[str] = ()
    related_tags: bool | None = None
    featured: bool | None = None
    cyom: bool | None = None
    include_chat: bool | None = None
    include_template: bool | None = None
    order: Sequence[str] = ()
    liquidity_min: Decimal | None = None
    liquidity_max: Decimal | None = None
    volume_min: Decimal | None = None
    volume_max: Decimal | None = None
    start_date_min: datetime | None = None
    start_date_max: datetime | None = None
    end_date_min: datetime | None = None
    end_date_max: datetime | None = None
    locale: str | None = None
    active: bool | None = None               # legacy list only
    archived: bool | None = None             # legacy list only
    extra: Mapping[str, ParamValue | Sequence[ParamValue]] = dataclasses.field(
        default_factory=dict)

    def to_params(self, *, legacy: bool = False) -> list[tuple[str, ParamValue]]:
        """Return the query pairs for the keyset list (or the legacy list)."""
        skip = () if legacy else ("active", "archived")
        return _params(self, skip)


def _params(filters: Any, skip: Sequence[str]) -> list[tuple[str, ParamValue]]:
    pairs: list[tuple[str, ParamValue]] = []
    for spec in dataclasses.fields(filters):
        name, value = spec.name, getattr(filters, spec.name)
        if name in skip or name == "extra" or value is None:
            continue
        if name == "order":
            if value:
                pairs.append(("order", ",".join(value)))
        elif isinstance(value, str | bool | int):
            pairs.append((name, value))
        elif isinstance(value, datetime):
            pairs.append((name, _iso(value)))
        elif isinstance(value, Decimal):
            pairs.append((name, str(value)))
        else:
            pairs.extend((name, str(item)) for item in value)
    for key, raw in filters.extra.items():
        items = raw if isinstance(raw, list | tuple) else [raw]
        pairs.extend((key, item) for item in items)
    return pairs


def _iso(value: datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


class SearchResult(msgspec.Struct, frozen=True, kw_only=True):
    """``/public-search`` result: matching events (markets embedded) and tags."""

    events: list[Event]
    tags: list[Tag]
    has_more: bool
    total_results: int | None


# --------------------------------------------------------------------------------------------
# Wire → domain


def fee_schedule_from_wire(raw: GammaFeeSchedule | None) -> FeeSchedule:
    """Return the domain fee schedule (no fees when the market has none)."""
    if raw is None or raw.rate is None:
        return NO_FEES
    return FeeSchedule(
        rate=raw.rate, exponent=raw.exponent if raw.exponent is not None else 1,
        taker_only=raw.taker_only if raw.taker_only is not None else True,
        rebate_rate=raw.rebate_rate if raw.rebate_rate is not None else Decimal(0),
    )


def tag_from_wire(raw: GammaTag) -> Tag:
    """Return the domain tag."""
    return Tag(id=raw.id or "", label=raw.label or "", slug=raw.slug or "",
               force_show=bool(raw.force_show), created_at=parse_time(raw.created_at),
               updated_at=parse_time(raw.updated_at))


def market_from_wire(raw: GammaMarket) -> Market:
    """Return the domain market: JSON-in-string arrays decoded, numbers exact, v2 position ids."""
    version: ProtocolVersion = "v2" if (raw.version or "").lower() == "v2" else "v1"
    assets = json_list(raw.clob_token_ids)
    if version == "v2" and raw.position_ids:
        assets = json_list(raw.position_ids)
    names = json_list(raw.outcomes)
    prices = json_list(raw.outcome_prices)
    count = max(len(names), len(assets))
    outcomes = tuple(
        Outcome(name=names[i] if i < len(names) else "",
                asset_id=assets[i] if i < len(assets) else "",
                price=dec(prices[i]) if i < len(prices) else None)
        for i in range(count)
    )
    return Market(
        id=raw.id or "", condition_id=raw.condition_id or "", question_id=raw.question_id or "",
        slug=raw.slug or "", question=raw.question or "", description=raw.description or "",
        category=raw.category or "", group_item_title=raw.group_item_title or "",
        market_type=raw.market_type or "", outcomes=outcomes, protocol_version=version,
        active=bool(raw.active), closed=bool(raw.closed), archived=bool(raw.archived),
        restricted=bool(raw.restricted), accepting_orders=bool(raw.accepting_orders),
        enable_order_book=bool(raw.enable_order_book), neg_risk=bool(raw.neg_risk),
        neg_risk_other=bool(raw.neg_risk_other),
        neg_risk_market_id=raw.neg_risk_market_id or "",
        neg_risk_request_id=raw.neg_risk_request_id or "",
        tick_size=dec(raw.order_price_min_tick_size), min_order_size=dec(raw.order_min_size),
        fees_enabled=bool(raw.fees_enabled), fee_schedule=fee_schedule_from_wire(raw.fee_schedule),
        fee_type=raw.fee_type or "", maker_base_fee_bps=int(raw.maker_base_fee or 0),
        taker_base_fee_bps=int(raw.taker_base_fee or 0), seconds_delay=raw.seconds_delay or 0,
        rfq_enabled=bool(raw.rfq_enabled),
        volume=dec(raw.volume_num) if raw.volume_num is not None else dec(raw.volume),
        volume_24h=dec(raw.volume_24hr),
        liquidity=dec(raw.liquidity_num) if raw.liquidity_num is not None else dec(raw.liquidity),
        best_bid=dec(raw.best_bid), best_ask=dec(raw.best_ask), spread=dec(raw.spread),
        last_trade_price=dec(raw.last_trade_price), rewards_min_size=dec(raw.rewards_min_size),
        rewards_max_spread=dec(raw.rewards_max_spread), start_date=parse_time(raw.start_date),
        end_date=parse_time(raw.end_date), event_start_time=parse_time(raw.event_start_time),
        closed_time=parse_time(raw.closed_time),
        accepting_orders_since=parse_time(raw.accepting_orders_timestamp),
        resolution_source=raw.resolution_source or "",
        uma_resolution_status=raw.uma_resolution_status or "",
        resolution_status=raw.resolution_status or "",
        sports_market_type=raw.sports_market_type or "", line=dec(raw.line),
        game_id="" if raw.game_id is None else str(raw.game_id),
        events=tuple(EventRef(id=e.id or "", slug=e.slug or "", title=e.title or "",
                              neg_risk=bool(e.neg_risk)) for e in raw.events or ()),
        tags=tuple(tag_from_wire(t) for t in raw.tags or ()),
    )


def event_from_wire(raw: GammaEvent) -> Event:
    """Return the domain event with its markets converted."""
    return Event(
        id=raw.id or "", slug=raw.slug or "", ticker=raw.ticker or "", title=raw.title or "",
        description=raw.description or "", category=raw.category or "",
        active=bool(raw.active), closed=bool(raw.closed), archived=bool(raw.archived),
        featured=bool(raw.featured), restricted=bool(raw.restricted),
        neg_risk=bool(raw.neg_risk), enable_neg_risk=bool(raw.enable_neg_risk),
        neg_risk_augmented=bool(raw.neg_risk_augmented),
        neg_risk_market_id=raw.neg_risk_market_id or "",
        start_date=parse_time(raw.start_date), end_date=parse_time(raw.end_date),
        creation_date=parse_time(raw.creation_date), volume=dec(raw.volume),
        volume_24h=dec(raw.volume_24hr), liquidity=dec(raw.liquidity),
        open_interest=dec(raw.open_interest), comment_count=raw.comment_count or 0,
        series_slug=raw.series_slug or "", tags=tuple(tag_from_wire(t) for t in raw.tags or ()),
        markets=tuple(market_from_wire(m) for m in raw.markets or ()),
    )


# --------------------------------------------------------------------------------------------
# Client


class GammaClient:
    """Gamma API client. ``base_url`` is the Gamma root (``VenueSettings.url("gamma")``)."""

    def __init__(self, base_url: str = GAMMA_URL, *, http: HttpClient | None = None) -> None:
        self.http = http or HttpClient(base_url, "gamma")
        self.keyset_supported: bool | None = None   # None until the first list call finds out

    async def aclose(self) -> None:
        """Close the HTTP layer."""
        await self.http.aclose()

    async def __aenter__(self) -> GammaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- markets ---------------------------------------------------------------------------

    async def markets_page(
        self, filters: MarketFilters | None = None, *, limit: int = MARKETS_KEYSET_MAX,
        after_cursor: str | None = None,
    ) -> Page[Market]:
        """Return one ``/markets/keyset`` page (``limit`` ≤ 100)."""
        params = (filters or MarketFilters()).to_params()
        params += [("limit", min(limit, MARKETS_KEYSET_MAX)), ("after_cursor", after_cursor)]
        raw = await self.http.request("GET", "/markets/keyset", GammaMarketsKeyset, params=params)
        return Page(items=[market_from_wire(m) for m in raw.markets],
                    next_cursor=raw.next_cursor or None)

    async def legacy_markets_page(
        self, filters: MarketFilters | None = None, *, limit: int = LEGACY_PAGE_MAX,
        offset: int = 0,
    ) -> list[Market]:
        """Return one page of the legacy offset list ``/markets``."""
        params = (filters or MarketFilters()).to_params(legacy=True)
        params += [("limit", min(limit, LEGACY_PAGE_MAX)), ("offset", offset)]
        raw = await self.http.request("GET", "/markets", list[GammaMarket], params=params)
        return [market_from_wire(m) for m in raw]

    async def iter_markets(
        self, filters: MarketFilters | None = None, *, page_size: int = MARKETS_KEYSET_MAX,
        max_items: int | None = None,
    ) -> AsyncIterator[Market]:
        """Yield every market matching ``filters``, page by page (keyset, else legacy)."""
        async for page in self._market_pages(filters, page_size):
            for market in page:
                yield market
                if max_items is not None:
                    max_items -= 1
                    if max_items <= 0:
                        return

    async def list_markets(
        self, filters: MarketFilters | None = None, *, page_size: int = MARKETS_KEYSET_MAX,
        max_items: int | None = None,
    ) -> list[Market]:
        """Return every market matching ``filters`` (all pages, up to ``max_items``)."""
        return [m async for m in self.iter_markets(filters, page_size=page_size,
                                                   max_items=max_items)]

    async def _market_pages(
        self, filters: MarketFilters | None, page_size: int,
    ) -> AsyncIterator[list[Market]]:
        if self.keyset_supported is not False:
            cursor: str | None = None
            try:
                while True:
                    page = await self.markets_page(filters, limit=page_size, after_cursor=cursor)
                    self.keyset_supported = True
                    yield page.items
                    if not page.next_cursor or not page.items:
                        return
                    cursor = page.next_cursor
            except NotFound:
                if self.keyset_supported:
                    raise      # keyset worked before: this 404 is real, not a missing endpoint
                self.keyset_supported = False
        offset = 0
        size = min(page_size, LEGACY_PAGE_MAX)
        while True:
            items = await self.legacy_markets_page(filters, limit=size, offset=offset)
            if items:
                yield items
            if len(items) < size:
                return
            offset += len(items)

    async def get_market(self, market_id: str, *, include_tag: bool | None = None) -> Market:
        """Return one market by Gamma id (``NotFound`` if unknown)."""
        raw = await self.http.request("GET", f"/markets/{market_id}", GammaMarket,
                                      params={"include_tag": include_tag})
        return market_from_wire(raw)

    async def get_market_by_slug(self, slug: str, *, include_tag: bool | None = None) -> Market:
        """Return one market by slug."""
        raw = await self.http.request("GET", f"/markets/slug/{slug}", GammaMarket,
                                      params={"include_tag": include_tag})
        return market_from_wire(raw)

    async def market_tags(self, market_id: str) -> list[Tag]:
        """Return the tags of a market."""
        raw = await self.http.request("GET", f"/markets/{market_id}/tags", list[GammaTag])
        return [tag_from_wire(t) for t in raw]

    # ---- events ----------------------------------------------------------------------------

    async def events_page(
        self, filters: EventFilters | None = None, *, limit: int = EVENTS_KEYSET_MAX,
        after_cursor: str | None = None,
    ) -> Page[Event]:
        """Return one ``/events/keyset`` page (``limit`` ≤ 500)."""
        params = (filters or EventFilters()).to_params()
        params += [("limit", min(limit, EVENTS_KEYSET_MAX)), ("after_cursor", after_cursor)]
        raw = await self.http.request("GET", "/events/keyset", GammaEventsKeyset, params=params)
        return Page(items=[event_from_wire(e) for e in raw.events],
                    next_cursor=raw.next_cursor or None)

    async def legacy_events_page(
        self, filters: EventFilters | None = None, *, limit: int = LEGACY_PAGE_MAX,
        offset: int = 0,
    ) -> list[Event]:
        """Return one page of the legacy offset list ``/events``."""
        params = (filters or EventFilters()).to_params(legacy=True)
        params += [("limit", min(limit, LEGACY_PAGE_MAX)), ("offset", offset)]
        raw = await self.http.request("GET", "/events", list[GammaEvent], params=params)
        return [event_from_wire(e) for e in raw]

    async def iter_events(
        self, filters: EventFilters | None = None, *, page_size: int = 100,
        max_items: int | None = None,
    ) -> AsyncIterator[Event]:
        """Yield every event matching ``filters`` (keyset, else legacy offset)."""
        seen = 0
        if self.keyset_supported is not False:
            cursor: str | None = None
            try:
                while True:
                    page = await self.events_page(filters, limit=page_size, after_cursor=cursor)
                    self.keyset_supported = True
                    for event in page.items:
                        yield event
                        seen += 1
                        if max_items is not None and seen >= max_items:
                            return
                    if not page.next_cursor or not page.items:
                        return
                    cursor = page.next_cursor
            except NotFound:
                if self.keyset_supported:
                    raise
                self.keyset_supported = False
        offset, size = 0, min(page_size, LEGACY_PAGE_MAX)
        while True:
            items = await self.legacy_events_page(filters, limit=size, offset=offset)
            for event in items:
                yield event
                seen += 1
                if max_items is not None and seen >= max_items:
                    return
            if len(items) < size:
                return
            offset += len(items)

    async def list_events(
        self, filters: EventFilters | None = None, *, page_size: int = 100,
        max_items: int | None = None,
    ) -> list[Event]:
        """Return every event matching ``filters``."""
        return [e async for e in self.iter_events(filters, page_size=page_size,
                                                  max_items=max_items)]

    async def get_event(self, event_id: str) -> Event:
        """Return one event (markets embedded) by Gamma id."""
        return event_from_wire(await self.http.request("GET", f"/events/{event_id}", GammaEvent))

    async def get_event_by_slug(self, slug: str) -> Event:
        """Return one event by slug."""
        raw = await self.http.request("GET", f"/events/slug/{slug}", GammaEvent)
        return event_from_wire(raw)

    async def event_tags(self, event_id: str) -> list[Tag]:
        """Return the tags of an event."""
        raw = await self.http.request("GET", f"/events/{event_id}/tags", list[GammaTag])
        return [tag_from_wire(t) for t in raw]

    # ---- tags and search ---------------------------------------------------------------------

    async def tags(self, *, limit: int = 100, offset: int = 0) -> list[Tag]:
        """Return one page of ``/tags`` (``limit`` ≤ 100)."""
        raw = await self.http.request("GET", "/tags", list[GammaTag],
                                      params={"limit": min(limit, 100), "offset": offset})
        return [tag_from_wire(t) for t in raw]

    async def get_tag(self, tag_id: str) -> Tag:
        """Return one tag by id."""
        return tag_from_wire(await self.http.request("GET", f"/tags/{tag_id}", GammaTag))

    async def get_tag_by_slug(self, slug: str) -> Tag:
        """Return one tag by slug."""
        return tag_from_wire(await self.http.request("GET", f"/tags/slug/{slug}", GammaTag))

    async def related_tags(self, tag_id: str) -> list[Tag]:
        """Return the tags related to a tag (``/tags/{id}/related-tags/tags``)."""
        raw = await self.http.request("GET", f"/tags/{tag_id}/related-tags/tags", list[GammaTag])
        return [tag_from_wire(t) for t in raw]

    async def search(
        self, query: str, *, page: int = 1, limit_per_type: int | None = None,
        events_status: Literal["active", "closed"] | None = None,
        extra: Mapping[str, ParamValue] | None = None,
    ) -> SearchResult:
        """Search events, tags and profiles (``/public-search``, page-based)."""
        params: dict[str, ParamValue] = {"q": query, "page": page,
                                         "limit_per_type": limit_per_type,
                                         "events_status": events_status}
        params.update(extra or {})
        raw = await self.http.request("GET", "/public-search", GammaSearch, params=params)
        pagination = raw.pagination
        return SearchResult(
            events=[event_from_wire(e) for e in raw.events or ()],
            tags=[tag_from_wire(t) for t in raw.tags or ()],
            has_more=bool(pagination and pagination.has_more),
            total_results=pagination.total_results if pagination else None,
        )

    # ---- universe ----------------------------------------------------------------------------

    async def discover_universe(
        self, filters: MarketFilters | None = None, *, progress: bool = True,
        page_size: int = MARKETS_KEYSET_MAX, tradable_only: bool = False,
    ) -> list[Market]:
        """Return every open market in one call, with a progress bar (terminal or notebook).

        Defaults to ``closed=false`` (and ``active=true`` on the legacy list); pass ``filters`` to
        narrow it. ``tradable_only`` keeps markets whose order book accepts orders now. Markets
        are de-duplicated by condition id (offset pages can shift while we read them).
        """
        base = filters or MarketFilters()
        if base.closed is None:
            base = dataclasses.replace(base, closed=False)
        if base.active is None:
            base = dataclasses.replace(base, active=True)
        found: dict[str, Market] = {}
        with tqdm(desc="Polymarket markets", unit="mkt", disable=not progress,
                  leave=False) as bar:
            async for batch in self._market_pages(base, page_size):
                for market in batch:
                    if not tradable_only or market.is_tradable:
                        found.setdefault(market.condition_id or market.id, market)
                bar.update(len(batch))
                bar.set_postfix(kept=len(found), refresh=False)
        return list(found.values())

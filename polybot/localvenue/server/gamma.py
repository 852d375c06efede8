"""Gamma API routes (reference §2.1), served under ``/gamma``.

Keyset lists (``/markets/keyset``, ``/events/keyset``: ``after_cursor`` in, ``next_cursor`` out,
absent on the last page, ``offset`` rejected) and the legacy offset lists (``/markets``,
``/events``: bare arrays) share one filter implementation. Cursors are opaque url-safe base64 of
the last row's position key, bound to the ordering they were made for.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from polybot.localvenue.markets import EventSpec, MarketState
from polybot.localvenue.server.context import (
    VenueContext,
    iso_to_ms,
    query_bool,
    query_decimal,
    query_int,
    query_list,
    venue_of,
)
from polybot.localvenue.server.errors import VenueHTTPError, json_response
from polybot.localvenue.server.gamma_shapes import TagIndex, gamma_event, gamma_market

router = APIRouter(prefix="/gamma")

MARKETS_KEYSET_MAX = 100
EVENTS_KEYSET_MAX = 500
LEGACY_DEFAULT_LIMIT = 20
OFFSET_ON_KEYSET = "offset is not supported on keyset endpoints; use after_cursor"


def _tags(venue: VenueContext) -> TagIndex:
    index = venue.extras.get("gamma_tags")
    if not isinstance(index, TagIndex):
        index = TagIndex()
        venue.extras["gamma_tags"] = index
    # Register in world order so ids are stable for a seeded universe.
    for event in venue.exchange.events():
        for label in event.tags:
            index.get(label)
    for state in venue.exchange.markets():
        for label in state.spec.tags:
            index.get(label)
    return index


def _events_by_id(venue: VenueContext) -> dict[str, EventSpec]:
    return {event.event_id: event for event in venue.exchange.events()}


def _encode_cursor(position: int, order: str, ascending: bool) -> str:
    raw = json.dumps({"p": position, "o": order, "a": ascending}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode("ascii")


def _decode_cursor(cursor: str, order: str, ascending: bool) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        position = int(data["p"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeEncodeError):
        raise VenueHTTPError("invalid after_cursor", 400) from None
    if data.get("o") != order or data.get("a") != ascending:
        raise VenueHTTPError("after_cursor was issued for a different ordering", 400)
    return position


# ---------------------------------------------------------------------------------------------
# market filtering


def _market_predicates(request: Request, tags: TagIndex) -> list[Callable[[MarketState], bool]]:
    preds: list[Callable[[MarketState], bool]] = []
    q = request

    def members(name: str, key: Callable[[MarketState], set[str]]) -> None:
        wanted = set(query_list(q, name))
        if wanted:
            preds.append(lambda m: bool(key(m) & wanted))

    members("id", lambda m: {m.spec.gamma_id})
    members("slug", lambda m: {m.spec.slug})
    members("condition_ids", lambda m: {m.spec.condition_id})
    members("question_ids", lambda m: {m.spec.question_id})
    members("clob_token_ids", lambda m: set(m.spec.assets) if m.spec.version == "v1" else set())
    members("position_ids", lambda m: set(m.spec.assets) if m.spec.version == "v2" else set())
    version = q.query_params.get("version")
    if version:
        preds.append(lambda m: m.spec.version == version)
    closed = query_bool(q, "closed")
    if closed is not None:
        preds.append(lambda m: m.closed == closed)
    active = query_bool(q, "active")
    if active is False:
        preds.append(lambda m: False)   # every local market is active
    archived = query_bool(q, "archived")
    if archived:
        preds.append(lambda m: False)   # nothing is archived locally
    status = q.query_params.get("resolution_status")
    if status:
        preds.append(lambda m: ("resolved" if m.closed else "active") == status)
    tag_ids = set(query_list(q, "tag_id"))
    if tag_ids:
        preds.append(lambda m: any(tags.get(label).id in tag_ids for label in m.spec.tags))
    for name, attr in (("volume_num", "volume"), ("liquidity_num", "liquidity")):
        low, high = query_decimal(q, f"{name}_min"), query_decimal(q, f"{name}_max")
        if low is not None or high is not None:
            preds.append(_range_pred(attr, low, high))
    for name, attr in (("start_date", "start"), ("end_date", "end")):
        low_ms = iso_to_ms(q.query_params.get(f"{name}_min", ""))
        high_ms = iso_to_ms(q.query_params.get(f"{name}_max", ""))
        if low_ms is not None or high_ms is not None:
            preds.append(_date_pred(attr, low_ms, high_ms))
    return preds


def _range_pred(
    attr: str, low: Decimal | None, high: Decimal | None
) -> Callable[[MarketState], bool]:
    def value(m: MarketState) -> Decimal:
        if attr == "volume":
            return Decimal(m.volume_units) / 1_000_000
        from polybot.localvenue.server.gamma_shapes import liquidity_of

        return Decimal(repr(liquidity_of(m)))

    return lambda m: (low is None or value(m) >= low) and (high is None or value(m) <= high)


def _date_pred(attr: str, low: int | None, high: int | None) -> Callable[[MarketState], bool]:
    def value(m: MarketState) -> int:
        text = m.spec.start_date_iso if attr == "start" else m.spec.end_date_iso
        parsed = iso_to_ms(text)
        return parsed if parsed is not None else m.created_ms

    return lambda m: (low is None or value(m) >= low) and (high is None or value(m) <= high)


_MARKET_ORDER: dict[str, Callable[[MarketState], Any]] = {
    "id": lambda m: int(m.spec.gamma_id) if m.spec.gamma_id.isdigit() else m.spec.gamma_id,
    "volumeNum": lambda m: m.volume_units,
    "volume": lambda m: m.volume_units,
    "startDate": lambda m: m.spec.start_date_iso or "",
    "endDate": lambda m: m.spec.end_date_iso or "",
    "createdAt": lambda m: m.created_ms,
    "slug": lambda m: m.spec.slug,
}


def _sorted_markets(request: Request, venue: VenueContext) -> tuple[list[MarketState], str, bool]:
    tags = _tags(venue)
    preds = _market_predicates(request, tags)
    rows = [m for m in venue.exchange.markets() if all(p(m) for p in preds)]
    order = request.query_params.get("order", "")
    ascending = query_bool(request, "ascending")
    ascending = True if ascending is None else ascending
    keys = [k.strip() for k in order.split(",") if k.strip()]
    for key in reversed(keys):
        func = _MARKET_ORDER.get(key)
        if func is None:
            raise VenueHTTPError(f"invalid order field: {key}", 400)
        rows.sort(key=func, reverse=not ascending)
    if not keys and not ascending:
        rows.reverse()
    return rows, order, ascending


def _render_markets(request: Request, venue: VenueContext, rows: list[MarketState]) -> list[Any]:
    include_tag = bool(query_bool(request, "include_tag"))
    events = _events_by_id(venue)
    tags = _tags(venue)
    return [
        gamma_market(venue.exchange, m, events=events, tags=tags, include_tag=include_tag)
        for m in rows
    ]


@router.get("/markets/keyset")
async def markets_keyset(request: Request) -> Response:
    """List markets by keyset: ``{"markets": [...], "next_cursor": "..."}``."""
    if "offset" in request.query_params:
        raise VenueHTTPError(OFFSET_ON_KEYSET, 400)
    venue = venue_of(request)
    rows, order, ascending = _sorted_markets(request, venue)
    limit = query_int(request, "limit", MARKETS_KEYSET_MAX, minimum=1, maximum=MARKETS_KEYSET_MAX)
    cursor = request.query_params.get("after_cursor")
    start = _decode_cursor(cursor, order, ascending) if cursor else 0
    page = rows[start:start + limit]
    body: dict[str, Any] = {"markets": _render_markets(request, venue, page)}
    if start + limit < len(rows):
        body["next_cursor"] = _encode_cursor(start + limit, order, ascending)
    return json_response(body)


@router.get("/markets")
async def markets_legacy(request: Request) -> Response:
    """List markets the legacy way: ``limit``/``offset``, bare JSON array."""
    venue = venue_of(request)
    rows, _, _ = _sorted_markets(request, venue)
    limit = query_int(request, "limit", LEGACY_DEFAULT_LIMIT, minimum=0, maximum=500)
    offset = query_int(request, "offset", 0)
    return json_response(_render_markets(request, venue, rows[offset:offset + limit]))


def _one_market(request: Request, venue: VenueContext, state: MarketState | None) -> Response:
    if state is None:
        raise VenueHTTPError("market not found", 404)
    return json_response(_render_markets(request, venue, [state])[0])


@router.get("/markets/slug/{slug}")
async def market_by_slug(request: Request, slug: str) -> Response:
    """Return one market by slug."""
    venue = venue_of(request)
    found = next((m for m in venue.exchange.markets() if m.spec.slug == slug), None)
    return _one_market(request, venue, found)


@router.get("/markets/{market_id}")
async def market_by_id(request: Request, market_id: str) -> Response:
    """Return one market by Gamma id."""
    venue = venue_of(request)
    found = next((m for m in venue.exchange.markets() if m.spec.gamma_id == market_id), None)
    return _one_market(request, venue, found)


@router.get("/markets/{market_id}/tags")
async def market_tags(request: Request, market_id: str) -> Response:
    """Return the tags of one market."""
    venue = venue_of(request)
    found = next((m for m in venue.exchange.markets() if m.spec.gamma_id == market_id), None)
    if found is None:
        raise VenueHTTPError("market not found", 404)
    tags = _tags(venue)
    return json_response([tags.get(label).to_json("") for label in found.spec.tags])


# ---------------------------------------------------------------------------------------------
# events


def _sorted_events(request: Request, venue: VenueContext) -> list[EventSpec]:
    tags = _tags(venue)
    by_condition = {m.condition_id: m for m in venue.exchange.markets()}
    rows = venue.exchange.events()
    ids = set(query_list(request, "id"))
    slugs = set(query_list(request, "slug"))
    tag_ids = set(query_list(request, "tag_id"))
    closed = query_bool(request, "closed")
    if ids:
        rows = [e for e in rows if e.event_id in ids]
    if slugs:
        rows = [e for e in rows if e.slug in slugs]
    if tag_ids:
        rows = [e for e in rows if any(tags.get(t).id in tag_ids for t in e.tags)]
    if closed is not None:
        rows = [e for e in rows if _event_closed(e, by_condition) == closed]
    if query_bool(request, "ascending") is False:
        rows = list(reversed(rows))
    return rows


def _event_closed(event: EventSpec, by_condition: dict[str, MarketState]) -> bool:
    states = [by_condition[c] for c in event.condition_ids if c in by_condition]
    return bool(states) and all(s.closed for s in states)


def _render_events(venue: VenueContext, rows: list[EventSpec]) -> list[Any]:
    by_condition = {m.condition_id: m for m in venue.exchange.markets()}
    events = _events_by_id(venue)
    tags = _tags(venue)
    return [
        gamma_event(
            venue.exchange, e, events=events, tags=tags,
            markets=[by_condition[c] for c in e.condition_ids if c in by_condition],
        )
        for e in rows
    ]


@router.get("/events/keyset")
async def events_keyset(request: Request) -> Response:
    """List events by keyset: ``{"events": [...], "next_cursor": "..."}``."""
    if "offset" in request.query_params:
        raise VenueHTTPError(OFFSET_ON_KEYSET, 400)
    venue = venue_of(request)
    rows = _sorted_events(request, venue)
    ascending = query_bool(request, "ascending") is not False
    limit = query_int(request, "limit", EVENTS_KEYSET_MAX, minimum=1, maximum=EVENTS_KEYSET_MAX)
    cursor = request.query_params.get("after_cursor")
    start = _decode_cursor(cursor, "", ascending) if cursor else 0
    body: dict[str, Any] = {"events": _render_events(venue, rows[start:start + limit])}
    if start + limit < len(rows):
        body["next_cursor"] = _encode_cursor(start + limit, "", ascending)
    return json_response(body)


@router.get("/events")
async def events_legacy(request: Request) -> Response:
    """List events the legacy way (bare array)."""
    venue = venue_of(request)
    rows = _sorted_events(request, venue)
    limit = query_int(request, "limit", LEGACY_DEFAULT_LIMIT, minimum=0, maximum=500)
    offset = query_int(request, "offset", 0)
    return json_response(_render_events(venue, rows[offset:offset + limit]))


def _find_event(venue: VenueContext, match: Callable[[EventSpec], bool]) -> EventSpec:
    found = next((e for e in venue.exchange.events() if match(e)), None)
    if found is None:
        raise VenueHTTPError("event not found", 404)
    return found


@router.get("/events/slug/{slug}")
async def event_by_slug(request: Request, slug: str) -> Response:
    """Return one event by slug."""
    venue = venue_of(request)
    return json_response(_render_events(venue, [_find_event(venue, lambda e: e.slug == slug)])[0])


@router.get("/events/{event_id}")
async def event_by_id(request: Request, event_id: str) -> Response:
    """Return one event by id."""
    venue = venue_of(request)
    found = _find_event(venue, lambda e: e.event_id == event_id)
    return json_response(_render_events(venue, [found])[0])


@router.get("/events/{event_id}/tags")
async def event_tags(request: Request, event_id: str) -> Response:
    """Return the tags of one event."""
    venue = venue_of(request)
    found = _find_event(venue, lambda e: e.event_id == event_id)
    tags = _tags(venue)
    return json_response([tags.get(label).to_json("") for label in found.tags])


# ---------------------------------------------------------------------------------------------
# tags and search


@router.get("/tags")
async def list_tags(request: Request) -> Response:
    """List tags (``limit`` ≤ 100, ``offset``), a bare array."""
    venue = venue_of(request)
    limit = query_int(request, "limit", 100, minimum=0, maximum=100)
    offset = query_int(request, "offset", 0)
    created = "2026-01-01T00:00:00.000000Z"
    rows = _tags(venue).all()[offset:offset + limit]
    return json_response([t.to_json(created) for t in rows])


@router.get("/tags/slug/{slug}")
async def tag_by_slug(request: Request, slug: str) -> Response:
    """Return one tag by slug."""
    found = next((t for t in _tags(venue_of(request)).all() if t.slug == slug), None)
    if found is None:
        raise VenueHTTPError("tag not found", 404)
    return json_response(found.to_json("2026-01-01T00:00:00.000000Z"))


@router.get("/tags/{tag_id}")
async def tag_by_id(request: Request, tag_id: str) -> Response:
    """Return one tag by id."""
    found = next((t for t in _tags(venue_of(request)).all() if t.id == tag_id), None)
    if found is None:
        raise VenueHTTPError("tag not found", 404)
    return json_response(found.to_json("2026-01-01T00:00:00.000000Z"))


@router.get("/public-search")
async def public_search(request: Request) -> Response:
    """Search events (title, market questions) and tags; page-based like the real one."""
    venue = venue_of(request)
    query = request.query_params.get("q", "").strip().lower()
    if not query:
        raise VenueHTTPError("q is required", 400)
    per_type = query_int(request, "limit_per_type", 5, minimum=1, maximum=100)
    page = query_int(request, "page", 1, minimum=1)
    by_condition = {m.condition_id: m for m in venue.exchange.markets()}
    hits = [
        e for e in venue.exchange.events()
        if query in e.title.lower() or any(
            query in by_condition[c].spec.question.lower()
            for c in e.condition_ids if c in by_condition
        )
    ]
    start = (page - 1) * per_type
    tag_hits = [t for t in _tags(venue).all() if query in t.label.lower()][:per_type]
    return json_response({
        "events": _render_events(venue, hits[start:start + per_type]),
        "tags": [{"id": t.id, "label": t.label, "slug": t.slug} for t in tag_hits],
        "profiles": [],
        "pagination": {"hasMore": start + per_type < len(hits), "totalResults": len(hits)},
    })

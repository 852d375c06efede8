"""Data API routes (reference §5), served under ``/data-api``.

v1 (camelCase rows, bare arrays, ``limit``/``offset``) for what copy trading reads — ``/trades``,
``/positions``, ``/activity``, ``/holders``, ``/value`` — and v2 (snake_case, ``{"data": …,
"pagination": …}``, cursor-only: ``offset`` is a 400). v2 cursors are opaque, HMAC-signed and
bound to the filters they were issued for, like the real ones.

Every row is derived from the exchange's trade records and ledger, so what a wallet does on the
local CLOB shows up here at once (the real Data API lags about a minute; see docs).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from polybot.localvenue.markets import MarketState
from polybot.localvenue.server.context import VenueContext, query_bool, query_int, venue_of
from polybot.localvenue.server.errors import VenueHTTPError, json_response
from polybot.localvenue.server.gamma_shapes import yes_price

router = APIRouter(prefix="/data-api")
_NS = 1_000_000_000
_UNIT = Decimal(1_000_000)
V2_MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class FillRow:
    """One wallet's side of one trade."""

    wallet: str
    side: str
    asset: str
    market: MarketState
    size: Decimal
    price: Decimal
    timestamp: int
    tx: str
    is_taker: bool

    @property
    def outcome_index(self) -> int:
        """Return 0 for the first outcome's asset, 1 for the second."""
        return self.market.spec.assets.index(self.asset)


def _fills(venue: VenueContext) -> list[FillRow]:
    """Return every wallet-side fill, newest first."""
    exchange = venue.exchange
    rows: list[FillRow] = []
    for record in exchange.trades.records.values():
        market = exchange.market(record.market)
        stamp = record.match_ns // _NS
        tx = record.transaction_hash or "0x" + hashlib.sha256(record.trade_id.encode()).hexdigest()
        rows.append(FillRow(record.taker_address, record.side.value, record.asset_id, market,
                            Decimal(record.size) / _UNIT, record.price, stamp, tx, True))
        rows.extend(
            FillRow(leg.address, leg.side.value, leg.asset_id, market,
                    Decimal(leg.matched_amount) / _UNIT, leg.price, stamp, tx, False)
            for leg in record.maker_legs
        )
    rows.reverse()
    return rows


def _market_meta(market: MarketState, asset: str, camel: bool) -> dict[str, Any]:
    spec = market.spec
    index = spec.assets.index(asset)
    return {
        "title": spec.question, "slug": spec.slug, "icon": spec.icon,
        ("eventSlug" if camel else "event_slug"): spec.event_id and f"event-{spec.event_id}",
        "outcome": spec.outcomes[index], ("outcomeIndex" if camel else "outcome_index"): index,
    }


def _profile(wallet: str, camel: bool) -> dict[str, Any]:
    short = wallet[:8]
    if camel:
        return {"name": short, "pseudonym": short, "bio": "", "profileImage": "",
                "profileImageOptimized": ""}
    return {"name": short, "pseudonym": short, "bio": "", "profile_image": "",
            "profile_image_optimized": ""}


def _trade_row(row: FillRow, camel: bool) -> dict[str, Any]:
    if camel:
        body: dict[str, Any] = {
            "proxyWallet": row.wallet, "side": row.side, "asset": row.asset,
            "conditionId": row.market.condition_id, "size": float(row.size),
            "price": float(row.price), "timestamp": row.timestamp,
        }
    else:
        body = {
            "proxy_wallet": row.wallet, "side": row.side, "token_id": row.asset,
            "condition_id": row.market.condition_id, "size": float(row.size),
            "price": float(row.price), "timestamp": row.timestamp,
        }
    body.update(_market_meta(row.market, row.asset, camel))
    body.update(_profile(row.wallet, camel))
    body["transactionHash" if camel else "transaction_hash"] = row.tx
    return body


def _filter_fills(request: Request, venue: VenueContext, *, v2: bool) -> list[FillRow]:
    q = request.query_params
    rows = _fills(venue)
    user = q.get("user", "").lower()
    if user:
        rows = [r for r in rows if r.wallet == user]
    markets = {m for name in ("market", "condition", "condition_id", "conditionId")
               for m in q.get(name, "").split(",") if m}
    if markets:
        rows = [r for r in rows if r.market.condition_id in markets]
    event_id = q.get("eventId") or q.get("event_id")
    if event_id:
        rows = [r for r in rows if r.market.spec.event_id == event_id]
    side = q.get("side", "").upper()
    if side:
        rows = [r for r in rows if r.side == side]
    taker_only = query_bool(request, "taker_only" if v2 else "takerOnly")
    if taker_only is not False:   # the real default is takerOnly=true
        rows = [r for r in rows if r.is_taker]
    filter_type = (q.get("filter_type" if v2 else "filterType") or "").upper()
    amount_text = q.get("filter_amount" if v2 else "filterAmount")
    if filter_type in ("CASH", "TOKENS") and amount_text:
        amount = Decimal(amount_text)
        rows = [r for r in rows if (r.size * r.price if filter_type == "CASH" else r.size) >= amount]
    return rows


# ---------------------------------------------------------------------------------------------
# positions


@dataclass(slots=True)
class _Position:
    size: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    bought: Decimal = Decimal(0)
    realized: Decimal = Decimal(0)
    last: int = 0
    first: int = 0


def _positions(venue: VenueContext, user: str) -> dict[str, _Position]:
    positions: dict[str, _Position] = defaultdict(_Position)
    for row in reversed(_fills(venue)):   # oldest first for average cost
        if row.wallet != user:
            continue
        pos = positions[row.asset]
        pos.first = pos.first or row.timestamp
        pos.last = row.timestamp
        if row.side == "BUY":
            pos.size += row.size
            pos.cost += row.size * row.price
            pos.bought += row.size * row.price
        elif pos.size > 0:
            avg = pos.cost / pos.size
            sold = min(row.size, pos.size)
            pos.realized += sold * (row.price - avg)
            pos.cost -= sold * avg
            pos.size -= sold
    held = venue.exchange.accounts.positions(user)
    return {asset: pos for asset, pos in positions.items() if held.get(asset, 0) > 0} | {
        asset: positions.get(asset, _Position()) for asset in held if asset not in positions
    }


def _position_row(venue: VenueContext, user: str, asset: str, pos: _Position,
                  *, camel: bool) -> dict[str, Any]:
    market = venue.exchange.market_by_asset(asset)
    spec = market.spec
    index = spec.assets.index(asset)
    size = Decimal(venue.exchange.accounts.positions(user).get(asset, 0)) / _UNIT
    yes = yes_price(venue.exchange, market)
    price = yes if index == 0 else 1 - yes
    avg = pos.cost / pos.size if pos.size else Decimal(0)
    initial = size * avg
    current = size * price
    cash_pnl = current - initial
    resolved = market.winning_outcome is not None
    other = spec.assets[1 - index]
    mergeable = venue.exchange.accounts.positions(user).get(other, 0) > 0
    values = {
        "proxyWallet": user, "asset": asset, "conditionId": spec.condition_id,
        "size": float(size), "avgPrice": float(avg), "initialValue": float(initial),
        "currentValue": float(current), "cashPnl": float(cash_pnl),
        "percentPnl": float(cash_pnl / initial * 100) if initial else 0.0,
        "totalBought": float(pos.bought), "realizedPnl": float(pos.realized),
        "percentRealizedPnl": float(pos.realized / pos.bought * 100) if pos.bought else 0.0,
        "curPrice": float(price), "redeemable": resolved, "mergeable": mergeable,
        "oppositeOutcome": spec.outcomes[1 - index], "oppositeAsset": other,
        "endDate": spec.end_date_iso, "negativeRisk": spec.neg_risk,
    }
    values.update(_market_meta(market, asset, True))
    if camel:
        return values
    status = "OPEN"
    if resolved:
        status = "REDEEMABLE" if market.winning_outcome == index else "REDEEMABLE_LOST"
    return {
        "proxy_wallet": user, "token_id": asset, "condition_id": spec.condition_id,
        "current_size": float(size), "avg_price": float(avg), "entry_cost_usdc": float(initial),
        "entry_fees_usdc": 0.0, "total_cost_usdc": float(initial), "current_price": float(price),
        "current_value": float(current), "total_size": float(size),
        "realized_pnl": float(pos.realized), "unrealized_pnl": float(cash_pnl),
        "total_pnl": float(pos.realized + cash_pnl), "percent_pnl": values["percentPnl"],
        "percent_realized_pnl": values["percentRealizedPnl"], "status": status,
        "redeemable": resolved, "mergeable": mergeable, "negative_risk": spec.neg_risk,
        "archived": False, "verified": False, "title": spec.question, "slug": spec.slug,
        "icon": spec.icon, "event_slug": values["eventSlug"], "outcome": values["outcome"],
        "opposite_outcome": values["oppositeOutcome"], "name": user[:8], "profile_image": "",
        "event_id": spec.event_id, "outcome_index": index, "opposite_token_id": other,
        "end_date": spec.end_date_iso, "last_event_at": pos.last, "first_entry_at": pos.first,
    }


def _position_rows(request: Request, venue: VenueContext, *, camel: bool) -> list[dict[str, Any]]:
    user = request.query_params.get("user", "").lower()
    if not user:
        raise VenueHTTPError("user is required", 400)
    markets = {m for name in ("market", "condition") for m in
               request.query_params.get(name, "").split(",") if m}
    rows = [
        _position_row(venue, user, asset, pos, camel=camel)
        for asset, pos in _positions(venue, user).items()
    ]
    key = "conditionId" if camel else "condition_id"
    if markets:
        rows = [r for r in rows if r[key] in markets]
    threshold = Decimal(request.query_params.get("sizeThreshold", "0") or "0")
    size_key = "size" if camel else "current_size"
    return [r for r in rows if Decimal(repr(r[size_key])) >= threshold]


# ---------------------------------------------------------------------------------------------
# v1


def _offset_page(request: Request, rows: list[Any], default_limit: int = 100) -> list[Any]:
    limit = query_int(request, "limit", default_limit, minimum=0, maximum=500)
    offset = query_int(request, "offset", 0, maximum=10_000)
    return rows[offset:offset + limit]


@router.get("/trades")
async def trades_v1(request: Request) -> Response:
    """Return trades as a bare camelCase array (newest first)."""
    venue = venue_of(request)
    rows = [_trade_row(r, True) for r in _filter_fills(request, venue, v2=False)]
    return json_response(_offset_page(request, rows))


@router.get("/activity")
async def activity_v1(request: Request) -> Response:
    """Return a wallet's activity (TRADE rows) as a bare camelCase array."""
    venue = venue_of(request)
    if not request.query_params.get("user"):
        raise VenueHTTPError("user is required", 400)
    rows = []
    for row in _filter_fills(request, venue, v2=False):
        body = _trade_row(row, True)
        body.update({"type": "TRADE", "usdcSize": float(row.size * row.price)})
        rows.append(body)
    return json_response(_offset_page(request, rows))


@router.get("/positions")
async def positions_v1(request: Request) -> Response:
    """Return a wallet's open positions as a bare camelCase array."""
    venue = venue_of(request)
    return json_response(_offset_page(request, _position_rows(request, venue, camel=True)))


def _holders(venue: VenueContext, condition_id: str, camel: bool, limit: int) -> list[Any]:
    try:
        market = venue.exchange.market(condition_id)
    except KeyError:
        return []
    out = []
    tokens = venue.exchange.accounts.tokens
    for index, asset in enumerate(market.spec.assets):
        held = sorted(
            ((owner, units) for (owner, a), units in tokens.items() if a == asset and units > 0),
            key=lambda item: -item[1],
        )[:limit]
        holders = []
        for owner, units in held:
            if camel:
                holders.append({"proxyWallet": owner, "bio": "", "asset": asset,
                                "pseudonym": owner[:8], "amount": units / 1_000_000,
                                "displayUsernamePublic": False, "outcomeIndex": index,
                                "name": owner[:8], "profileImage": "",
                                "profileImageOptimized": ""})
            else:
                holders.append({"proxy_wallet": owner, "token_id": asset,
                                "amount": units / 1_000_000, "outcome_index": index,
                                "display_username_public": False, "verified": False,
                                "name": owner[:8], "pseudonym": owner[:8]})
        out.append({"token" if camel else "token_id": asset, "holders": holders})
    return out


@router.get("/holders")
async def holders_v1(request: Request) -> Response:
    """Return the top holders of each outcome of ``market``."""
    venue = venue_of(request)
    limit = query_int(request, "limit", 20, minimum=1, maximum=1000)
    return json_response(_holders(venue, request.query_params.get("market", ""), True, limit))


def _value(venue: VenueContext, user: str) -> float:
    rows = [_position_row(venue, user, a, p, camel=True) for a, p in _positions(venue, user).items()]
    return float(sum(r["currentValue"] for r in rows))


@router.get("/value")
async def value_v1(request: Request) -> Response:
    """Return ``[{"user", "value"}]``: the current value of a wallet's positions."""
    venue = venue_of(request)
    user = request.query_params.get("user", "").lower()
    if not user:
        raise VenueHTTPError("user is required", 400)
    return json_response([{"user": user, "value": _value(venue, user)}])


# ---------------------------------------------------------------------------------------------
# v2


def _cursor_key(venue: VenueContext) -> bytes:
    return venue.keys.subkey("data-api-cursor")


def _filters_of(request: Request) -> str:
    items = sorted((k, v) for k, v in request.query_params.multi_items() if k not in (
        "cursor", "limit"))
    return json.dumps(items, separators=(",", ":"))


def _v2_page(request: Request, venue: VenueContext, rows: list[Any]) -> Response:
    if "offset" in request.query_params:
        raise VenueHTTPError("offset is not supported; use cursor", 400)
    limit = query_int(request, "limit", 100, minimum=1, maximum=V2_MAX_LIMIT)
    filters = _filters_of(request)
    key = _cursor_key(venue)
    start = 0
    cursor = request.query_params.get("cursor")
    if cursor:
        try:
            raw = base64.urlsafe_b64decode(cursor.encode("ascii"))
            body, tag = raw[:-16], raw[-16:]
            if not hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest()[:16], tag):
                raise ValueError("bad tag")
            data = json.loads(body)
            if data["f"] != filters:
                raise VenueHTTPError("cursor does not match the request filters", 400)
            start = int(data["i"])
        except (binascii.Error, ValueError, KeyError, UnicodeEncodeError):
            raise VenueHTTPError("invalid cursor", 400) from None
    page = rows[start:start + limit]
    has_more = start + limit < len(rows)
    next_cursor = None
    if has_more:
        body = json.dumps({"i": start + limit, "f": filters}, separators=(",", ":")).encode()
        tag = hmac.new(key, body, hashlib.sha256).digest()[:16]
        next_cursor = base64.urlsafe_b64encode(body + tag).decode("ascii")
    return json_response({
        "data": page,
        "pagination": {"limit": limit, "has_more": has_more, "next_cursor": next_cursor},
    })


@router.get("/v2/trades")
async def trades_v2(request: Request) -> Response:
    """Return ``{"data": [trade rows], "pagination": …}`` (newest first)."""
    venue = venue_of(request)
    rows = [_trade_row(r, False) for r in _filter_fills(request, venue, v2=True)]
    return _v2_page(request, venue, rows)


@router.get("/v2/activity")
async def activity_v2(request: Request) -> Response:
    """Return a wallet's TRADE activity in the v2 envelope."""
    venue = venue_of(request)
    if not request.query_params.get("user"):
        raise VenueHTTPError("user is required", 400)
    rows = []
    for row in _filter_fills(request, venue, v2=True):
        body = _trade_row(row, False)
        body.update({"type": "TRADE", "usdc_size": float(row.size * row.price),
                     "is_combo": False})
        rows.append(body)
    return _v2_page(request, venue, rows)


@router.get("/v2/positions")
async def positions_v2(request: Request) -> Response:
    """Return a wallet's positions in the v2 envelope (``status`` filter supported)."""
    venue = venue_of(request)
    rows = _position_rows(request, venue, camel=False)
    status = request.query_params.get("status", "").upper()
    if status:
        rows = [r for r in rows if r["status"] == status]
    return _v2_page(request, venue, rows)


@router.get("/v2/holders")
async def holders_v2(request: Request) -> Response:
    """Return ``{"data": [{"token_id", "holders": [...]}]}`` for ``condition``."""
    venue = venue_of(request)
    limit = query_int(request, "limit", 100, minimum=1, maximum=V2_MAX_LIMIT)
    condition = request.query_params.get("condition") or request.query_params.get("market", "")
    return json_response({"data": _holders(venue, condition, False, limit)})


@router.get("/v2/value")
async def value_v2(request: Request) -> Response:
    """Return ``{"data": {"proxy_wallet", "value"}}``."""
    venue = venue_of(request)
    user = request.query_params.get("user", "").lower()
    if not user:
        raise VenueHTTPError("user is required", 400)
    return json_response({"data": {"proxy_wallet": user, "value": _value(venue, user)}})


@router.get("/v2/leaderboard")
async def leaderboard_v2(request: Request) -> Response:
    """Rank wallets by traded volume or by P&L over everything the venue has seen."""
    venue = venue_of(request)
    sort_by = request.query_params.get("sort_by", "PNL").upper()
    if sort_by not in ("PNL", "VOLUME"):
        raise VenueHTTPError("sort_by must be PNL or VOLUME", 400)
    volume: dict[str, Decimal] = defaultdict(Decimal)
    for row in _fills(venue):
        volume[row.wallet] += row.size * row.price
    ranked = []
    for wallet, vol in volume.items():
        pnl = sum(
            (Decimal(repr(r["total_pnl"])) for r in (
                _position_row(venue, wallet, a, p, camel=False)
                for a, p in _positions(venue, wallet).items()
            )),
            Decimal(0),
        )
        ranked.append((wallet, vol, pnl))
    ranked.sort(key=lambda item: -(item[2] if sort_by == "PNL" else item[1]))
    rows = [
        {"rank": i + 1, "proxy_wallet": wallet, "name": wallet[:8], "pseudonym": wallet[:8],
         "volume": float(vol), "pnl": float(pnl), "profile_image": "", "verified": False}
        for i, (wallet, vol, pnl) in enumerate(ranked)
    ]
    return _v2_page(request, venue, rows)


@router.get("/v2/prices-history")
async def prices_history_v2(request: Request) -> Response:
    """Return ``{"data": [{"timestamp", "price", "resolution_seconds"}]}`` for ``token_id``."""
    venue = venue_of(request)
    token = request.query_params.get("token_id", "")
    try:
        market = venue.exchange.market_by_asset(token)
    except KeyError:
        raise VenueHTTPError("token not found", 404) from None
    bucket = query_int(request, "bucket_seconds", 60, minimum=1)
    now_s = venue.now_ms() // 1000
    start = query_int(request, "start", 0)
    end = query_int(request, "end", now_s)
    is_yes = token == market.spec.yes_asset
    buckets: dict[int, tuple[int, Decimal]] = {}
    for stamp, price in market.price_history:
        if start <= stamp <= end:
            buckets[stamp // bucket] = (stamp // bucket * bucket, price if is_yes else 1 - price)
    rows = [{"timestamp": t, "price": float(p), "resolution_seconds": bucket}
            for t, p in sorted(buckets.values())]
    return json_response({"data": rows})


@router.get("/ok")
async def ok() -> Response:
    """Health check."""
    return json_response("OK")

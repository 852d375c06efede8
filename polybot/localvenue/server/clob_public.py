"""Public CLOB REST routes (reference §3.1): time, books, prices, market metadata, history.

Everything numeric is a string except where the real API sends numbers (``/tick-size``,
``/prices-history``, market objects). Unknown tokens get ``404 No orderbook exists for the
requested token id``; a missing ``token_id`` gets ``400 Invalid token id``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from polybot.localvenue.markets import MarketState
from polybot.localvenue.server import errors
from polybot.localvenue.server.clob_shapes import clob_market, compact_market, simplified_market
from polybot.localvenue.server.context import (
    VenueContext,
    dec_str,
    query_int,
    require_token_id,
    venue_of,
)
from polybot.localvenue.server.errors import VenueHTTPError, json_response

router = APIRouter()

START_CURSOR = "MA=="     # base64("0")
END_CURSOR = "LTE="       # base64("-1")
MARKETS_PAGE = 100        # the recorded /markets page holds 100 rows (nt2024_clob_http_markets)
MAX_BOOKS = 500
_INTERVAL_S = {"1m": 60, "1h": 3_600, "6h": 21_600, "1d": 86_400, "1w": 604_800}


def encode_cursor(offset: int) -> str:
    """Return the CLOB cursor for ``offset`` (``LTE=`` means no more pages)."""
    return base64.b64encode(str(offset).encode()).decode("ascii")


def decode_cursor(cursor: str | None) -> int:
    """Return the offset a CLOB cursor stands for (``MA==`` / empty = 0); 400 if malformed."""
    if not cursor:
        return 0
    try:
        offset = int(base64.b64decode(cursor.encode("ascii"), validate=True).decode())
    except (binascii.Error, ValueError, UnicodeError):
        raise VenueHTTPError("invalid next_cursor", 400) from None
    if offset < 0:
        raise VenueHTTPError("no more pages: next_cursor is LTE=", 400)
    return offset


def cursor_page(rows: list[Any], cursor: str | None, limit: int) -> dict[str, Any]:
    """Return ``{"limit","count","next_cursor","data"}`` for one page of ``rows``."""
    start = decode_cursor(cursor)
    page = rows[start:start + limit]
    end = start + len(page)
    return {
        "limit": limit,
        "count": len(page),
        "next_cursor": encode_cursor(end) if end < len(rows) else END_CURSOR,
        "data": page,
    }


def _market_of(venue: VenueContext, token: str) -> MarketState:
    try:
        return venue.exchange.market_by_asset(token)
    except KeyError:
        raise VenueHTTPError(errors.NO_ORDERBOOK, 404) from None


async def _json_list(request: Request) -> list[dict[str, Any]]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise VenueHTTPError(errors.INVALID_PAYLOAD, 400) from None
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise VenueHTTPError(errors.INVALID_PAYLOAD, 400)
    if len(body) > MAX_BOOKS:
        raise VenueHTTPError(errors.PAYLOAD_TOO_LARGE, 400)
    return body


def _tokens_of(items: list[dict[str, Any]]) -> list[str]:
    tokens = []
    for item in items:
        token = item.get("token_id")
        if not isinstance(token, str) or not token:
            raise VenueHTTPError(errors.INVALID_TOKEN_ID, 400)
        tokens.append(token)
    return tokens


def _side_of(raw: object) -> str:
    side = str(raw or "").upper()
    if side not in ("BUY", "SELL"):
        raise VenueHTTPError(errors.INVALID_SIDE, 400)
    return side


# ---------------------------------------------------------------------------------------------
# health and time


@router.get("/")
async def root() -> Response:
    """Answer the bare root like the real CLOB's health check."""
    return json_response("OK")


@router.get("/ok")
async def ok() -> Response:
    """Return ``"OK"``."""
    return json_response("OK")


@router.get("/time")
async def server_time(request: Request) -> Response:
    """Return the venue clock in unix seconds (accelerated when time is)."""
    return json_response(venue_of(request).now_ms() // 1000)


@router.get("/version")
async def version() -> Response:
    """Return the order version the SDKs must sign (CLOB V2)."""
    return json_response({"version": 2})


# ---------------------------------------------------------------------------------------------
# books and prices


@router.get("/book")
async def book(request: Request) -> Response:
    """Return the ``OrderBookSummary`` of one token."""
    venue = venue_of(request)
    token = require_token_id(request)
    _market_of(venue, token)
    return json_response(venue.exchange.book_summary(token).to_wire())


@router.post("/books")
async def books(request: Request) -> Response:
    """Return the books of up to 500 tokens (unknown tokens are left out)."""
    venue = venue_of(request)
    out = []
    for token in _tokens_of(await _json_list(request)):
        try:
            venue.exchange.market_by_asset(token)
        except KeyError:
            continue
        out.append(venue.exchange.book_summary(token).to_wire())
    return json_response(out)


def _price(venue: VenueContext, token: str, side: str) -> str:
    _market_of(venue, token)
    bid, ask = venue.exchange.best_bid_ask(token)
    # Docs: BUY -> best bid, SELL -> best ask (reference §3.1, §11).
    return dec_str(bid if side == "BUY" else ask, empty="0")


def _mid(venue: VenueContext, token: str) -> str:
    _market_of(venue, token)
    bid, ask = venue.exchange.best_bid_ask(token)
    if bid is None or ask is None:
        raise VenueHTTPError(errors.NO_ORDERBOOK, 404)
    return dec_str((bid + ask) / 2)


def _spread(venue: VenueContext, token: str) -> str:
    _market_of(venue, token)
    bid, ask = venue.exchange.best_bid_ask(token)
    if bid is None or ask is None:
        return "0"
    return dec_str(ask - bid)


@router.get("/price")
async def price(request: Request) -> Response:
    """Return ``{"price": …}`` for one side of one token."""
    venue = venue_of(request)
    token = require_token_id(request)
    side = _side_of(request.query_params.get("side"))
    return json_response({"price": _price(venue, token, side)})


@router.post("/prices")
async def prices(request: Request) -> Response:
    """Return ``{token: {side: price}}`` for a list of ``{token_id, side}``."""
    venue = venue_of(request)
    out: dict[str, dict[str, str]] = {}
    for item in await _json_list(request):
        token = _tokens_of([item])[0]
        side = _side_of(item.get("side"))
        out.setdefault(token, {})[side] = _price(venue, token, side)
    return json_response(out)


@router.get("/midpoint")
async def midpoint(request: Request) -> Response:
    """Return ``{"mid": …}``."""
    venue = venue_of(request)
    return json_response({"mid": _mid(venue, require_token_id(request))})


@router.post("/midpoints")
async def midpoints(request: Request) -> Response:
    """Return ``{token: mid}``."""
    venue = venue_of(request)
    tokens = _tokens_of(await _json_list(request))
    return json_response({token: _mid(venue, token) for token in tokens})


@router.get("/spread")
async def spread(request: Request) -> Response:
    """Return ``{"spread": …}``."""
    venue = venue_of(request)
    return json_response({"spread": _spread(venue, require_token_id(request))})


@router.post("/spreads")
async def spreads(request: Request) -> Response:
    """Return ``{token: spread}``."""
    venue = venue_of(request)
    tokens = _tokens_of(await _json_list(request))
    return json_response({token: _spread(venue, token) for token in tokens})


def _last(venue: VenueContext, token: str) -> tuple[str, str]:
    _market_of(venue, token)
    last_price, side = venue.exchange.last_trade(token)
    return dec_str(last_price, empty="0.5"), side


@router.get("/last-trade-price")
async def last_trade_price(request: Request) -> Response:
    """Return ``{"price", "side"}`` of the last trade (side ``""`` when none yet)."""
    venue = venue_of(request)
    last_price, side = _last(venue, require_token_id(request))
    return json_response({"price": last_price, "side": side})


@router.post("/last-trades-prices")
async def last_trades_prices(request: Request) -> Response:
    """Return ``[{"token_id","price","side"}]``."""
    venue = venue_of(request)
    out = []
    for token in _tokens_of(await _json_list(request)):
        last_price, side = _last(venue, token)
        out.append({"token_id": token, "price": last_price, "side": side})
    return json_response(out)


# ---------------------------------------------------------------------------------------------
# market parameters


def _tick_body(venue: VenueContext, token: str) -> dict[str, Any]:
    tick = _market_of(venue, token).tick_size
    return {"minimum_tick_size": float(tick)}


@router.get("/tick-size")
async def tick_size(request: Request) -> Response:
    """Return ``{"minimum_tick_size": 0.01}`` (a number)."""
    venue = venue_of(request)
    return json_response(_tick_body(venue, require_token_id(request)))


@router.get("/tick-size/{token_id}")
async def tick_size_path(request: Request, token_id: str) -> Response:
    """Path form of ``/tick-size``."""
    return json_response(_tick_body(venue_of(request), token_id))


@router.get("/neg-risk")
async def neg_risk(request: Request) -> Response:
    """Return ``{"neg_risk": bool}``."""
    venue = venue_of(request)
    state = _market_of(venue, require_token_id(request))
    return json_response({"neg_risk": state.spec.neg_risk})


@router.get("/fee-rate")
async def fee_rate(request: Request) -> Response:
    """Return ``{"base_fee": bps}`` (V1-era endpoint the SDKs still read)."""
    venue = venue_of(request)
    state = _market_of(venue, require_token_id(request))
    return json_response({"base_fee": int(state.spec.fees.rate * 10_000)})


@router.get("/fees/builder-fees/{builder_code}")
async def builder_fees(builder_code: str) -> Response:
    """Return zero builder fees: the local venue has no builder programme."""
    return json_response({"builder_maker_fee_rate_bps": 0, "builder_taker_fee_rate_bps": 0})


@router.get("/prices-history")
async def prices_history(request: Request) -> Response:
    """Return ``{"history": [{"t": s, "p": price}]}`` for ``market=<token_id>``."""
    venue = venue_of(request)
    token = request.query_params.get("market", "")
    if not token:
        raise VenueHTTPError(errors.INVALID_TOKEN_ID, 400)
    state = _market_of(venue, token)
    interval = request.query_params.get("interval")
    start_raw, end_raw = request.query_params.get("startTs"), request.query_params.get("endTs")
    now_s = venue.now_ms() // 1000
    if interval:
        if interval == "max":
            start_s, end_s = 0, now_s
        elif interval in _INTERVAL_S:
            start_s, end_s = now_s - _INTERVAL_S[interval], now_s
        else:
            raise VenueHTTPError(f"invalid interval: {interval}", 400)
    elif start_raw and end_raw:
        try:
            start_s, end_s = int(start_raw), int(end_raw)
        except ValueError:
            raise VenueHTTPError("startTs and endTs must be unix seconds", 400) from None
    else:
        raise VenueHTTPError("either interval or both startTs and endTs are required", 400)
    fidelity_s = query_int(request, "fidelity", 1, minimum=1) * 60
    is_yes = token == state.spec.yes_asset
    buckets: dict[int, tuple[int, Decimal]] = {}
    for stamp, yes_p in state.price_history:
        if start_s <= stamp <= end_s:
            buckets[stamp // fidelity_s] = (stamp, yes_p if is_yes else 1 - yes_p)
    history = [{"t": t, "p": float(p)} for t, p in sorted(buckets.values())]
    return json_response({"history": history})


# ---------------------------------------------------------------------------------------------
# market metadata


def _market_rows(
    request: Request, render: Callable[[VenueContext, MarketState], dict[str, Any]],
    *, sampling: bool = False,
) -> Response:
    venue = venue_of(request)
    states = venue.exchange.markets()
    if sampling:   # "sampling" = markets currently eligible for rewards: the open ones
        states = [s for s in states if not s.closed]
    rows = [render(venue, s) for s in states]
    return json_response(cursor_page(rows, request.query_params.get("next_cursor"), MARKETS_PAGE))


@router.get("/markets")
async def markets(request: Request) -> Response:
    """Return a cursor page of CLOB market objects."""
    return _market_rows(request, lambda v, s: clob_market(v.exchange, s))


@router.get("/sampling-markets")
async def sampling_markets(request: Request) -> Response:
    """Return a cursor page of the open markets."""
    return _market_rows(request, lambda v, s: clob_market(v.exchange, s), sampling=True)


@router.get("/simplified-markets")
async def simplified_markets(request: Request) -> Response:
    """Return a cursor page of simplified market rows."""
    return _market_rows(request, lambda v, s: simplified_market(v.exchange, s))


@router.get("/sampling-simplified-markets")
async def sampling_simplified_markets(request: Request) -> Response:
    """Return a cursor page of simplified rows of the open markets."""
    return _market_rows(
        request, lambda v, s: simplified_market(v.exchange, s), sampling=True
    )


def _by_condition(venue: VenueContext, condition_id: str) -> MarketState:
    try:
        return venue.exchange.market(condition_id)
    except KeyError:
        raise VenueHTTPError(errors.MARKET_NOT_FOUND, 404) from None


@router.get("/markets/{condition_id}")
async def market(request: Request, condition_id: str) -> Response:
    """Return one CLOB market object."""
    venue = venue_of(request)
    return json_response(clob_market(venue.exchange, _by_condition(venue, condition_id)))


@router.get("/clob-markets/{condition_id}")
async def clob_market_info(request: Request, condition_id: str) -> Response:
    """Return the compact V2 market info the SDKs cache (tick, neg-risk, fees)."""
    venue = venue_of(request)
    return json_response(compact_market(_by_condition(venue, condition_id)))


@router.get("/markets-by-token/{token_id}")
async def market_by_token(request: Request, token_id: str) -> Response:
    """Return ``{"condition_id", …}`` for a token."""
    venue = venue_of(request)
    state = _market_of(venue, token_id)
    body = {"condition_id": state.spec.condition_id}
    body.update(clob_market(venue.exchange, state))
    return json_response(body)

"""msgspec schemas of Gamma and CLOB REST payloads, exactly as Polymarket sends them.

Gamma is camelCase with quirks (``questionID``, ``negRiskMarketID``), mixes strings and numbers
for the same quantity (``volume`` is a string on markets and a number on events) and ships some
arrays as *JSON inside a string* (``outcomes``, ``outcomePrices``, ``clobTokenIds``). The CLOB is
snake_case with numbers as strings. Every field is optional here: one odd market must not make a
100-item page undecodable; the converters in ``gamma.py`` / ``clob.py`` decide what is required.
Unknown fields are ignored, so new API fields never break decoding.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Generic, TypeVar

import msgspec

T = TypeVar("T")
Num = str | float | None          # a quantity that arrives as a JSON string or a JSON number


def camel(overrides: Mapping[str, str] | None = None) -> Callable[[str], str]:
    """Return a msgspec ``rename`` function: snake_case → camelCase, with explicit exceptions."""
    table = dict(overrides or {})

    def rename(name: str) -> str:
        if name in table:
            return table[name]
        head, *rest = name.split("_")
        return head + "".join(part[:1].upper() + part[1:] for part in rest)

    return rename


def json_list(value: str | list[str] | list[float] | None) -> list[str]:
    """Decode a Gamma JSON-in-string array (``"[\\"Yes\\", \\"No\\"]"``) into a list of strings.

    Also accepts a real JSON array (Protocol-V2 ``positionIds`` and some local payloads) and
    treats ``None``/``""`` as empty.
    """
    if value is None or value == "":
        return []
    items = msgspec.json.decode(value) if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError(f"expected a JSON array, got {value!r}")
    return [item if isinstance(item, str) else _number_text(item) for item in items]


def _number_text(item: object) -> str:
    if isinstance(item, float):
        return repr(item)
    return str(item)


def dec(value: str | float | int | Decimal | None) -> Decimal | None:
    """Return a wire quantity as an exact ``Decimal`` (floats via their shortest repr);
    ``None``/``""``/garbage become None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    text = repr(value) if isinstance(value, float) else str(value).strip()
    if not text:
        return None
    try:
        result = Decimal(text)
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


_TZ_SUFFIX = re.compile(r"([+-]\d{2})$")


def parse_time(value: str | int | float | None) -> datetime | None:
    """Parse Polymarket timestamps into aware UTC datetimes, or None.

    Handles ISO-8601 with ``Z``, Postgres-style ``2021-01-02 21:45:52+00``, bare dates and unix
    seconds or milliseconds (numbers or digit strings).
    """
    if value is None or value == "":
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        number = float(value)
        seconds = number / 1000 if number > 1e11 else number
        return datetime.fromtimestamp(seconds, UTC)
    text = value.strip().replace("Z", "+00:00")
    text = _TZ_SUFFIX.sub(r"\1:00", text) if "T" in text or " " in text else text
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# --------------------------------------------------------------------------------------------
# Gamma

_GAMMA_RENAME = camel({
    "question_id": "questionID",
    "neg_risk_market_id": "negRiskMarketID",
    "neg_risk_request_id": "negRiskRequestID",
})


class GammaFeeSchedule(msgspec.Struct, kw_only=True, rename="camel"):
    """``feeSchedule``: ``{"exponent":1,"rate":0.07,"takerOnly":true,"rebateRate":0.2}``."""

    rate: Decimal | None = None
    exponent: int | None = None
    taker_only: bool | None = None
    rebate_rate: Decimal | None = None


class GammaTag(msgspec.Struct, kw_only=True, rename="camel"):
    """A tag as Gamma sends it."""

    id: str | None = None
    label: str | None = None
    slug: str | None = None
    force_show: bool | None = None
    created_at: str | None = None
    updated_at: str | None = None


class GammaMarket(msgspec.Struct, kw_only=True, rename=_GAMMA_RENAME):
    """A Gamma market object (reference §2.2)."""

    id: str | None = None
    question: str | None = None
    condition_id: str | None = None
    question_id: str | None = None
    slug: str | None = None
    description: str | None = None
    category: str | None = None
    group_item_title: str | None = None
    market_type: str | None = None
    outcomes: str | list[str] | None = None
    outcome_prices: str | list[str] | None = None
    clob_token_ids: str | list[str] | None = None
    position_ids: str | list[str] | None = None
    version: str | None = None
    active: bool | None = None
    closed: bool | None = None
    archived: bool | None = None
    restricted: bool | None = None
    accepting_orders: bool | None = None
    enable_order_book: bool | None = None
    neg_risk: bool | None = None
    neg_risk_other: bool | None = None
    neg_risk_market_id: str | None = None
    neg_risk_request_id: str | None = None
    order_price_min_tick_size: Num = None
    order_min_size: Num = None
    fees_enabled: bool | None = None
    fee_schedule: GammaFeeSchedule | None = None
    fee_type: str | None = None
    maker_base_fee: float | None = None
    taker_base_fee: float | None = None
    seconds_delay: int | None = None
    rfq_enabled: bool | None = None
    volume: Num = None
    volume_num: Num = None
    volume_24hr: Num = None
    liquidity: Num = None
    liquidity_num: Num = None
    best_bid: Num = None
    best_ask: Num = None
    spread: Num = None
    last_trade_price: Num = None
    rewards_min_size: Num = None
    rewards_max_spread: Num = None
    start_date: str | None = None
    end_date: str | None = None
    event_start_time: str | None = None
    closed_time: str | None = None
    accepting_orders_timestamp: str | None = None
    resolution_source: str | None = None
    uma_resolution_status: str | None = None
    resolution_status: str | None = None
    sports_market_type: str | None = None
    line: Num = None
    game_id: str | int | None = None
    events: list[GammaEvent] | None = None
    tags: list[GammaTag] | None = None


class GammaEvent(msgspec.Struct, kw_only=True, rename=_GAMMA_RENAME):
    """A Gamma event object (reference §2.3), markets embedded."""

    id: str | None = None
    ticker: str | None = None
    slug: str | None = None
    title: str | None = None
    description: str | None = None
    category: str | None = None
    active: bool | None = None
    closed: bool | None = None
    archived: bool | None = None
    featured: bool | None = None
    restricted: bool | None = None
    neg_risk: bool | None = None
    enable_neg_risk: bool | None = None
    neg_risk_augmented: bool | None = None
    neg_risk_market_id: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    creation_date: str | None = None
    volume: Num = None
    volume_24hr: Num = None
    liquidity: Num = None
    open_interest: Num = None
    comment_count: int | None = None
    series_slug: str | None = None
    tags: list[GammaTag] | None = None
    markets: list[GammaMarket] | None = None


class GammaMarketsKeyset(msgspec.Struct, kw_only=True):
    """``GET /markets/keyset`` page; ``next_cursor`` absent or null on the last page."""

    markets: list[GammaMarket] = msgspec.field(default_factory=list)
    next_cursor: str | None = None


class GammaEventsKeyset(msgspec.Struct, kw_only=True):
    """``GET /events/keyset`` page."""

    events: list[GammaEvent] = msgspec.field(default_factory=list)
    next_cursor: str | None = None


class GammaSearchPagination(msgspec.Struct, kw_only=True, rename="camel"):
    """``pagination`` of ``/public-search``."""

    has_more: bool = False
    total_results: int | None = None


class GammaSearch(msgspec.Struct, kw_only=True):
    """``GET /public-search`` response."""

    events: list[GammaEvent] | None = None
    tags: list[GammaTag] | None = None
    profiles: list[dict[str, object]] | None = None
    pagination: GammaSearchPagination | None = None


# --------------------------------------------------------------------------------------------
# CLOB public


class ClobToken(msgspec.Struct, kw_only=True):
    """``tokens[]`` of a CLOB market object."""

    token_id: str
    outcome: str = ""
    price: Num = None
    winner: bool | None = None


class ClobRewards(msgspec.Struct, kw_only=True):
    """``rewards`` of a CLOB market object (liquidity rewards programme)."""

    min_size: Num = None
    max_spread: Num = None


class ClobMarket(msgspec.Struct, kw_only=True):
    """A CLOB market object (``/markets``, ``/markets/{cid}``, simplified and sampling lists)."""

    condition_id: str
    question_id: str | None = None
    question: str | None = None
    description: str | None = None
    market_slug: str | None = None
    enable_order_book: bool | None = None
    active: bool | None = None
    closed: bool | None = None
    archived: bool | None = None
    accepting_orders: bool | None = None
    accepting_order_timestamp: str | None = None
    minimum_order_size: Num = None
    minimum_tick_size: Num = None
    end_date_iso: str | None = None
    game_start_time: str | None = None
    seconds_delay: int | None = None
    maker_base_fee: float | None = None
    taker_base_fee: float | None = None
    neg_risk: bool | None = None
    neg_risk_market_id: str | None = None
    neg_risk_request_id: str | None = None
    rewards: ClobRewards | None = None
    tokens: list[ClobToken] | None = None
    tags: list[str] | None = None


class CursorPage(msgspec.Struct, Generic[T], kw_only=True):
    """A CLOB cursor page: ``{"limit","count","next_cursor","data"}``; ``LTE=`` marks the end."""

    data: list[T] = msgspec.field(default_factory=list)
    next_cursor: str | None = None
    limit: int | None = None
    count: int | None = None


class ClobFeeDetails(msgspec.Struct, kw_only=True):
    """``fd`` of ``/clob-markets/{cid}``: rate, exponent, taker-only (omitted when false)."""

    r: Decimal | None = None
    e: int | None = None
    to: bool = False


class ClobMarketToken(msgspec.Struct, kw_only=True):
    """``t[]`` of ``/clob-markets/{cid}``: token id and outcome label."""

    t: str
    o: str = ""


class ClobMarketDetails(msgspec.Struct, kw_only=True):
    """Compact ``GET /clob-markets/{condition_id}`` (V2 ``MarketDetails``)."""

    c: str
    t: list[ClobMarketToken] = msgspec.field(default_factory=list)
    mts: Num = None
    nr: bool = False
    fd: ClobFeeDetails | None = None
    mbf: float | None = None
    tbf: float | None = None
    ao: bool | None = None
    mos: Num = None
    sd: int | None = None
    gst: str | None = None
    cbos: bool | None = None
    aot: str | None = None
    rfqe: bool | None = None
    itode: bool | None = None


class WireLevel(msgspec.Struct):
    """``{"price": "0.5", "size": "10"}``."""

    price: str
    size: str


class ClobBook(msgspec.Struct, kw_only=True):
    """REST ``OrderBookSummary`` (``/book``, ``/books``)."""

    market: str = ""
    asset_id: str = ""
    timestamp: str | int = "0"
    hash: str = ""
    bids: list[WireLevel] = msgspec.field(default_factory=list)
    asks: list[WireLevel] = msgspec.field(default_factory=list)
    min_order_size: str | float | None = None
    tick_size: str | float | None = None
    neg_risk: bool | None = None
    last_trade_price: str | float | None = None


# --------------------------------------------------------------------------------------------
# CLOB private (returned to callers as they are: typed, Decimal where the venue sends numbers)


class OrderResponse(msgspec.Struct, kw_only=True, rename="camel"):
    """``POST /order`` result. ``success`` false carries ``error_msg``; see ``errors.order_error``."""

    success: bool = True
    error_msg: str = ""
    order_id: str = msgspec.field(default="", name="orderID")
    status: str = ""
    making_amount: str = ""
    taking_amount: str = ""
    trade_ids: list[str] = msgspec.field(default_factory=list, name="tradeIDs")
    transactions_hashes: list[str] = msgspec.field(default_factory=list)


class CancelResult(msgspec.Struct, kw_only=True):
    """``{"canceled": [...], "not_canceled": {"<id>": "<reason>"}}`` of every cancel endpoint."""

    canceled: list[str] = msgspec.field(default_factory=list)
    not_canceled: dict[str, str] = msgspec.field(default_factory=dict)


class OpenOrder(msgspec.Struct, kw_only=True):
    """A resting order (``/data/orders``, ``/data/order/{id}``)."""

    id: str
    status: str = ""
    owner: str = ""
    maker_address: str = ""
    market: str = ""
    asset_id: str = ""
    side: str = ""
    original_size: Decimal = Decimal(0)
    size_matched: Decimal = Decimal(0)
    price: Decimal = Decimal(0)
    associate_trades: list[str] | None = None
    outcome: str = ""
    created_at: int = 0
    expiration: str | int = "0"
    order_type: str = ""


class MakerOrder(msgspec.Struct, kw_only=True):
    """``maker_orders[]`` of a CLOB trade."""

    order_id: str
    owner: str = ""
    maker_address: str = ""
    matched_amount: Decimal = Decimal(0)
    price: Decimal = Decimal(0)
    fee_rate_bps: Decimal = Decimal(0)
    asset_id: str = ""
    outcome: str = ""
    side: str = ""


class ClobTrade(msgspec.Struct, kw_only=True):
    """A trade of ours (``/data/trades``); ``status`` may be prefixed ``TRADE_STATUS_``."""

    id: str
    taker_order_id: str = ""
    market: str = ""
    asset_id: str = ""
    side: str = ""
    size: Decimal = Decimal(0)
    fee_rate_bps: Decimal = Decimal(0)
    price: Decimal = Decimal(0)
    status: str = ""
    match_time: int = 0
    last_update: int = 0
    outcome: str = ""
    bucket_index: int = 0
    owner: str = ""
    maker_address: str = ""
    transaction_hash: str = ""
    trader_side: str = ""
    err_msg: str | None = None
    maker_orders: list[MakerOrder] = msgspec.field(default_factory=list)

    @property
    def plain_status(self) -> str:
        """Return the status without the REST-only ``TRADE_STATUS_`` prefix (as WS sends it)."""
        return self.status.removeprefix("TRADE_STATUS_")


class BalanceAllowance(msgspec.Struct, kw_only=True):
    """``/balance-allowance``: base units (6 decimals) as strings, allowance per spender."""

    balance: int = 0
    allowances: dict[str, int] = msgspec.field(default_factory=dict)


class ApiKeyResponse(msgspec.Struct, kw_only=True):
    """``/auth/api-key`` and ``/auth/derive-api-key`` response."""

    api_key: str = msgspec.field(name="apiKey")
    secret: str
    passphrase: str


class Page(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """One page of results and the cursor for the next (None on the last page)."""

    items: list[T]
    next_cursor: str | None = None

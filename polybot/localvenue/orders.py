"""The venue's order rules and order-shaped records (reference §3.3, §3.4, §6.2, §8).

Validation runs in the order the real CLOB applies it (§9.5, after auth and signature, which the
HTTP layer owns): trading mode → payload → market → tick / bounds → min size and the $1
marketable minimum → duplicates → balance / allowance. Matching outcomes (post-only crossing,
FOK kill, FAK no match) come after. Every rejection carries the official message text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any

from polybot.core.money import BASE_UNITS
from polybot.venues.polymarket.book_hash import WireLevel
from polybot.venues.sim.book import Side, Token
from polybot.venues.sim.matcher import TimeInForce

_BASE = Decimal(BASE_UNITS)
SIZE_LOT = 100            # 0.0001 share: the finest size the SDKs produce (market BUY taker amount)
GTD_BUFFER_S = 60         # the server's security buffer on GTD expirations (§6.2)
MIN_MARKETABLE_NOTIONAL = BASE_UNITS     # $1


class TradingMode(StrEnum):
    """Venue-wide trading state (fault knob)."""

    NORMAL = "normal"
    CANCEL_ONLY = "cancel-only"
    DISABLED = "disabled"
    POST_ONLY = "post-only"


class Msg:
    """Official error texts (reference §3.4). Methods fill in the ``{…}`` parts."""

    DISABLED = "Trading is currently disabled. Check polymarket.com for updates"
    CANCEL_ONLY = (
        "Trading is currently cancel-only. New orders are not accepted, but cancels are allowed."
    )
    POST_ONLY_MODE = "post-only mode: only post-only orders and cancels are allowed"
    INVALID_PAYLOAD = "Invalid order payload"
    INVALID_TOKEN = "Invalid token id"
    OWNER_MISMATCH = "the order owner has to be the owner of the API KEY"
    SIGNER_MISMATCH = "the order signer address has to be the address of the API KEY"
    NOT_READY = "the market is not yet ready to process new orders"
    POST_ONLY_CROSSES = "invalid post-only order: order crosses book"
    BALANCE = "not enough balance / allowance"
    EXPIRATION = "invalid expiration"
    FOK = "order couldn't be fully filled. FOK orders are fully filled or killed."
    FAK = (
        "no orders found to match with FAK order. FAK orders are partially filled or killed if "
        "no match is found."
    )
    UNAUTHORIZED = "Unauthorized/Invalid api key"
    INVALID_ORDER_ID = "Invalid orderID"
    ALREADY_DONE = "already canceled or matched"

    @staticmethod
    def tick(order_id: str, price: Decimal, tick: Decimal) -> str:
        """Return the tick-size rejection text."""
        return (
            f"order {order_id} is invalid. Price ({fmt_price(price)}) breaks minimum tick size "
            f"rule: {fmt_price(tick)}"
        )

    @staticmethod
    def min_size(order_id: str, size: Decimal, minimum: Decimal) -> str:
        """Return the minimum-size rejection text."""
        return (
            f"order {order_id} is invalid. Size ({fmt_decimal(size)}) lower than the minimum: "
            f"{fmt_decimal(minimum)}"
        )

    @staticmethod
    def duplicated(order_id: str) -> str:
        """Return the duplicate-order rejection text."""
        return f"order {order_id} is invalid. Duplicated."

    @staticmethod
    def marketable_buy(amount: Decimal) -> str:
        """Return the $1 marketable-BUY rejection text."""
        return f"invalid amount for a marketable BUY order (${fmt_decimal(amount)}), min size: $1"


class OrderStatus(StrEnum):
    """Order statuses on REST and the user channel."""

    LIVE = "LIVE"
    MATCHED = "MATCHED"
    CANCELED = "CANCELED"
    CANCELED_MARKET_RESOLVED = "CANCELED_MARKET_RESOLVED"
    CANCELED_EXPIRED_ORDER = "CANCELED_EXPIRED_ORDER"
    INVALID = "INVALID"


def fmt_decimal(value: Decimal) -> str:
    """Return a plain decimal string without exponent or trailing zeros ("5", "0.513")."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def fmt_price(value: Decimal) -> str:
    """Return a price as the wire shows it."""
    return fmt_decimal(value)


def fmt_units(units: int) -> str:
    """Return base units as a decimal string ("1096.87")."""
    return fmt_decimal(Decimal(units) / _BASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class PostOrder:
    """One ``POST /order`` item after the HTTP layer checked auth and the signature."""

    order_id: str               # EIP-712 digest, 0x-hex
    api_key: str                # ``owner`` field
    maker: str                  # funder address (holds the funds)
    signer: str                 # EOA that signed
    asset_id: str               # tokenId / position id
    side: Side
    maker_amount: int           # base units
    taker_amount: int           # base units
    order_type: TimeInForce = TimeInForce.GTC
    expiration: int = 0         # unix s; GTD only
    post_only: bool = False
    defer_exec: bool = False
    timestamp_ms: int = 0
    salt: int = 0


@dataclass(frozen=True, slots=True)
class OrderTerms:
    """Price (asset terms) and size (base units) derived from signed amounts."""

    price: Decimal
    size: int

    @property
    def notional(self) -> int:
        """Return ``size × price`` in base units (exact on the lot grid)."""
        return int((self.size * self.price).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def order_terms(side: Side, maker_amount: int, taker_amount: int, tick: Decimal) -> OrderTerms | None:
    """Turn signed amounts into price and size, or None if they are not an order on ``tick``.

    BUY offers collateral for shares (``price = maker/taker``), SELL the reverse. Market orders
    from the SDKs carry a ratio a hair off the grid (taker amount rounded to 4 decimals), so the
    price snaps to the nearest tick when within ``tick/1000``; the share size is floored to the
    0.0001 lot so every fill's collateral is an exact number of base units.
    """
    if maker_amount <= 0 or taker_amount <= 0:
        return None
    shares, cash = (taker_amount, maker_amount) if side is Side.BUY else (maker_amount, taker_amount)
    raw = Decimal(cash) / Decimal(shares)
    snapped = (raw / tick).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) * tick
    if abs(raw - snapped) > tick / 1000:
        return OrderTerms(raw, shares - shares % SIZE_LOT)
    return OrderTerms(snapped, shares - shares % SIZE_LOT)


def on_grid(price: Decimal, tick: Decimal) -> bool:
    """Return True when ``price`` is a multiple of ``tick`` within ``[tick, 1−tick]``."""
    return price % tick == 0 and tick <= price <= 1 - tick


def round_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    """Floor ``price`` to the tick grid."""
    return (price / tick).quantize(Decimal(1), rounding=ROUND_DOWN) * tick


@dataclass(slots=True, kw_only=True)
class OrderRecord:
    """An accepted order, open or terminal (what ``/data/orders`` and user events show)."""

    order_id: str
    api_key: str
    address: str
    market: str
    asset_id: str
    token: Token
    outcome: str
    side: Side
    price: Decimal
    original_size: int
    order_type: TimeInForce
    expiration: int
    created_ms: int
    size_matched: int = 0
    status: OrderStatus = OrderStatus.LIVE
    reserved: int = 0           # what this order still reserves (pUSD for BUY, shares for SELL)
    associate_trades: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        """Return the open size in base units."""
        return self.original_size - self.size_matched

    @property
    def is_open(self) -> bool:
        """Return True while the order rests on the book."""
        return self.status is OrderStatus.LIVE

    def to_wire(self) -> dict[str, Any]:
        """Return the REST ``OpenOrder`` object."""
        return {
            "id": self.order_id,
            "status": self.status.value,
            "owner": self.api_key,
            "maker_address": self.address,
            "market": self.market,
            "asset_id": self.asset_id,
            "side": self.side.value,
            "original_size": fmt_units(self.original_size),
            "size_matched": fmt_units(self.size_matched),
            "price": fmt_price(self.price),
            "associate_trades": list(self.associate_trades),
            "outcome": self.outcome,
            "created_at": self.created_ms // 1000,
            "expiration": str(self.expiration),
            "order_type": self.order_type.value,
        }


@dataclass(slots=True, kw_only=True)
class OrderResult:
    """What ``POST /order`` answers (``OrderResponse``) plus the HTTP status to use."""

    success: bool
    error_msg: str = ""
    order_id: str = ""
    status: str = ""            # live | matched | delayed | unmatched ("" on rejection)
    making_amount: int = 0
    taking_amount: int = 0
    trade_ids: list[str] = field(default_factory=list)
    http_status: int = 200
    error_code: str = ""        # e.g. "post_only_mode" for the 503 body

    def to_wire(self) -> dict[str, Any]:
        """Return the ``OrderResponse`` JSON object."""
        return {
            "success": self.success,
            "errorMsg": self.error_msg,
            "orderID": self.order_id,
            "status": self.status,
            "makingAmount": fmt_units(self.making_amount) if self.making_amount else "",
            "takingAmount": fmt_units(self.taking_amount) if self.taking_amount else "",
            "tradeIDs": list(self.trade_ids),
            "transactionsHashes": [],
        }


def rejection(msg: str, *, order_id: str = "", http_status: int = 400, code: str = "") -> OrderResult:
    """Return a failed :class:`OrderResult`."""
    return OrderResult(
        success=False, error_msg=msg, order_id=order_id, http_status=http_status, error_code=code
    )


@dataclass(slots=True)
class CancelResult:
    """``{"canceled": [...], "not_canceled": {id: reason}}``, or a global refusal."""

    canceled: list[str] = field(default_factory=list)
    not_canceled: dict[str, str] = field(default_factory=dict)
    error: str = ""             # set when the whole request is refused (e.g. trading disabled)
    http_status: int = 200

    def to_wire(self) -> dict[str, Any]:
        """Return the cancel response body."""
        if self.error:
            return {"error": self.error}
        return {"canceled": list(self.canceled), "not_canceled": dict(self.not_canceled)}


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderBookSummary:
    """REST ``/book`` (and WS ``book``) content, already in wire strings and order."""

    market: str
    asset_id: str
    timestamp: str
    hash: str
    bids: list[WireLevel]       # ascending: best bid last
    asks: list[WireLevel]       # descending: best ask last
    min_order_size: str
    tick_size: str
    neg_risk: bool
    last_trade_price: str

    def to_wire(self) -> dict[str, Any]:
        """Return the REST ``OrderBookSummary`` object."""
        return {
            "market": self.market,
            "asset_id": self.asset_id,
            "timestamp": self.timestamp,
            "hash": self.hash,
            "bids": [dict(level) for level in self.bids],
            "asks": [dict(level) for level in self.asks],
            "min_order_size": self.min_order_size,
            "tick_size": self.tick_size,
            "neg_risk": self.neg_risk,
            "last_trade_price": self.last_trade_price,
        }

    def to_ws(self) -> dict[str, Any]:
        """Return the WS ``book`` message (no ``min_order_size`` / ``neg_risk`` on the wire)."""
        return {
            "event_type": "book",
            "market": self.market,
            "asset_id": self.asset_id,
            "timestamp": self.timestamp,
            "hash": self.hash,
            "bids": [dict(level) for level in self.bids],
            "asks": [dict(level) for level in self.asks],
            "tick_size": self.tick_size,
            "last_trade_price": self.last_trade_price,
        }

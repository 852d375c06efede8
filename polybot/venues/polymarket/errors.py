"""Map what Polymarket says (status codes, ``{"error": …}`` bodies, ``errorMsg``) to PolyBot's
error tree (``polybot.core.errors``), so callers can tell *retry* / *reject* / *fix config* apart.

Messages win over status codes: the matching engine reports order problems such as "FOK orders are
filled or killed" as HTTP 500, and those are rejections (resubmitting the same order fails again),
not server trouble. Likewise a 503 "Trading is currently disabled" is a halt, not a blip.
The message catalogue is reference §3.4 (docs ``resources/error-codes``).
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec

from polybot.core.errors import (
    AuthError,
    CircuitOpen,
    InsufficientFunds,
    NotFound,
    OrderRejected,
    RateLimited,
    TemporaryVenueError,
    TradingHalted,
    VenueError,
)


class InvalidRequest(VenueError):
    """The request itself is wrong (bad parameter, payload too large): fix the call, don't retry."""


class VenueUnreachable(TemporaryVenueError):
    """The request never reached the venue (connect failure): safe to resend, even an order."""


class BreakerOpen(CircuitOpen):
    """``CircuitOpen`` with the details: which circuit, and when it half-opens."""

    def __init__(self, message: str, *, circuit: str, half_open_in_s: float,
                 half_open_at: datetime) -> None:
        super().__init__(message)
        self.circuit = circuit
        self.half_open_in_s = half_open_in_s
        self.half_open_at = half_open_at


# Lower-cased substrings, checked in order; the first hit decides the class.
_RULES: tuple[tuple[str, type[VenueError]], ...] = (
    ("not enough balance", InsufficientFunds),
    ("allowance", InsufficientFunds),
    ("unauthorized", AuthError),
    ("invalid api key", AuthError),
    ("invalid l1 request headers", AuthError),
    ("has to be the owner of the api key", AuthError),
    ("has to be the address of the api key", AuthError),
    ("could not create api key", AuthError),
    ("could not derive api key", AuthError),
    ("could not retrieve api keys", TemporaryVenueError),
    ("trading is currently disabled", TradingHalted),
    ("trading is currently cancel-only", TradingHalted),
    ("cancel-only", TradingHalted),
    ("post-only mode", TradingHalted),
    ("post_only_mode", TradingHalted),
    ("address banned", TradingHalted),
    ("closed only mode", TradingHalted),
    ("no orderbook exists", NotFound),
    ("not found", NotFound),
    ("invalid token id", NotFound),
    ("order_version_mismatch", InvalidRequest),
    ("too many orders in payload", InvalidRequest),
    ("payload exceeds the limit", InvalidRequest),
    ("invalid side", InvalidRequest),
    ("invalid asset type", InvalidRequest),
    ("invalid signature_type", InvalidRequest),
    ("invalid heartbeat id", InvalidRequest),
    ("invalid orderid", InvalidRequest),
    # Order processing and engine rejections (400 body, errorMsg, or 500 from the engine).
    ("invalid post-only order", OrderRejected),
    ("minimum tick size", OrderRejected),
    ("lower than the minimum", OrderRejected),
    ("duplicated", OrderRejected),
    ("crosses the book", OrderRejected),
    ("invalid nonce", OrderRejected),
    ("invalid expiration", OrderRejected),
    ("order canceled in the ctf exchange", OrderRejected),
    ("fok orders are", OrderRejected),
    ("fak orders are", OrderRejected),
    ("no orders found to match", OrderRejected),
    ("there are no matching orders", OrderRejected),
    ("rounding issues", OrderRejected),
    ("discrepancy greater than allowed", OrderRejected),
    ("not yet ready to process new orders", OrderRejected),
    ("invalid amount for a marketable", OrderRejected),
    ("invalid order payload", OrderRejected),
    ("order match delayed", OrderRejected),
)


def classify_message(message: str) -> type[VenueError] | None:
    """Return the error class a Polymarket message means, or None if it is not a known one."""
    lowered = message.casefold()
    for needle, cls in _RULES:
        if needle in lowered:
            return cls
    return None


def message_from_body(body: Any, fallback: str = "") -> str:
    """Pull the human message out of an error body (``error``, ``error_msg``, ``errorMsg``…)."""
    if isinstance(body, dict):
        for key in ("error", "error_msg", "errorMsg", "message", "code", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
        return fallback
    if isinstance(body, str) and body.strip():
        text = body.strip()
        if text.lstrip().startswith("<"):     # Cloudflare/HTML page: keep it short
            return fallback or "HTML error page (proxy/Cloudflare block?)"
        return text[:500]
    return fallback


def decode_body(content: bytes) -> Any:
    """Decode a response body as JSON when it is JSON, else return it as text."""
    if not content:
        return None
    try:
        return msgspec.json.decode(content)
    except msgspec.DecodeError:
        return content.decode("utf-8", "replace")


def retry_after_s(headers: Mapping[str, str], body: Any, *, now: datetime | None = None) -> (
    float | None
):
    """Return the server's back-off hint: ``Retry-After`` (seconds or HTTP date) or the body's
    ``retry_after_seconds``; None when neither is present or readable."""
    raw = headers.get("retry-after")
    if raw:
        raw = raw.strip()
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            current = now or datetime.now(UTC)
            return max(0.0, (when - current).total_seconds())
    if isinstance(body, dict):
        value = body.get("retry_after_seconds", body.get("retry_after"))
        if isinstance(value, int | float) and not isinstance(value, bool):
            return max(0.0, float(value))
        if isinstance(value, str):
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


def error_from_response(
    status: int, content: bytes, headers: Mapping[str, str], *, order_endpoint: bool = False,
) -> VenueError:
    """Turn a non-2xx response into the right ``VenueError`` subclass.

    ``order_endpoint`` marks POST /order(s): an unrecognised 400 there is an ``OrderRejected``
    (the venue refused the order) rather than an ``InvalidRequest``.
    """
    body = decode_body(content)
    message = message_from_body(body, fallback=f"HTTP {status}")
    detail = f"HTTP {status}: {message}"
    if status == 429:
        return RateLimited(detail, status=status, body=body,
                           retry_after_s=retry_after_s(headers, body))
    if status == 425:
        return TemporaryVenueError(f"{detail} (matching engine restarting)", status=status,
                                   body=body)
    known = classify_message(message)
    if known is None and isinstance(body, dict) and isinstance(body.get("code"), str):
        known = classify_message(body["code"])
    if known is not None:
        return known(detail, status=status, body=body)
    cls: type[VenueError]
    if status in (401, 403):
        cls = AuthError
    elif status in (404, 410):
        cls = NotFound
    elif status == 408 or status >= 500:
        cls = TemporaryVenueError
    elif order_endpoint:
        cls = OrderRejected
    else:
        cls = InvalidRequest
    return cls(detail, status=status, body=body)


def order_error(error_msg: str, *, body: Any = None) -> VenueError:
    """Return the error for an order response with ``success: false`` and this ``errorMsg``.

    Anything not recognised as a halt/auth/funds problem is an ``OrderRejected``: the venue
    looked at the order and said no.
    """
    known = classify_message(error_msg)
    if known is None or known in (InvalidRequest, NotFound, TemporaryVenueError):
        known = OrderRejected
    return known(error_msg or "order rejected", status=200, body=body)


def is_retryable(error: BaseException) -> bool:
    """Return True when retrying the same request later may succeed."""
    return isinstance(error, TemporaryVenueError) and not isinstance(error, CircuitOpen)

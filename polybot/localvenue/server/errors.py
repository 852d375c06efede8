"""Polymarket's error bodies and status codes (reference §3.4), as the local venue sends them.

Every CLOB/Gamma/Data error is ``{"error": "<message>"}``. The texts below are the official ones
(docs ``resources/error-codes``); clients match on them, so they are spelled exactly. The venue
also applies Polymarket's status override rule: a message containing ``not found`` is a 404, one
containing ``unauthorized`` a 401 and ``context canceled`` a 400, whatever the handler chose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import Response

# Global / auth
UNAUTHORIZED: Final = "Unauthorized/Invalid api key"
INVALID_L1_HEADERS: Final = "Invalid L1 Request headers"
TRADING_DISABLED: Final = "Trading is currently disabled. Check polymarket.com for updates"
CANCEL_ONLY: Final = (
    "Trading is currently cancel-only. New orders are not accepted, but cancels are allowed."
)
POST_ONLY_MODE: Final = "post-only mode: only post-only orders and cancels are allowed"
TOO_MANY_REQUESTS: Final = "Too Many Requests"
# Our wording: Polymarket documents the 425 status ("matching engine restarting"), not its text.
ENGINE_RESTARTING: Final = "matching engine is restarting, please retry"
INTERNAL_ERROR: Final = "Internal Server Error"

# Book / pricing
INVALID_TOKEN_ID: Final = "Invalid token id"
NO_ORDERBOOK: Final = "No orderbook exists for the requested token id"
INVALID_SIDE: Final = "Invalid side"
INVALID_PAYLOAD: Final = "Invalid payload"
PAYLOAD_TOO_LARGE: Final = "Payload exceeds the limit"
MARKET_NOT_FOUND: Final = "market not found"

# POST /order(s)
INVALID_ORDER_PAYLOAD: Final = "Invalid order payload"
OWNER_MISMATCH: Final = "the order owner has to be the owner of the API KEY"
SIGNER_MISMATCH: Final = "the order signer address has to be the address of the API KEY"
INVALID_SIGNATURE: Final = "invalid signature"
MAX_BATCH_ORDERS: Final = 15


def too_many_orders(count: int, limit: int = MAX_BATCH_ORDERS) -> str:
    """Return the official batch-size rejection text."""
    return f"Too many orders in payload: {count}, max allowed: {limit}"


def address_banned(address: str) -> str:
    """Return the official banned-address text."""
    return f"'{address}' address banned"


def address_closed_only(address: str) -> str:
    """Return the official closed-only-mode text."""
    return f"'{address}' address in closed only mode"


# Cancels
INVALID_ORDER_ID: Final = "Invalid orderID"
MAX_CANCEL_IDS: Final = 3000


def too_many_cancels(limit: int = MAX_CANCEL_IDS) -> str:
    """Return the official cancel batch-size rejection text."""
    return f"Too many orders in payload, max allowed: {limit}"


# API keys
COULD_NOT_CREATE_KEY: Final = "Could not create api key"
COULD_NOT_DERIVE_KEY: Final = "Could not derive api key!"
COULD_NOT_RETRIEVE_KEYS: Final = "Could not retrieve API keys"

# Balance
INVALID_ASSET_TYPE: Final = "Invalid asset type"
INVALID_SIGNATURE_TYPE: Final = "Invalid signature_type"

# Heartbeats
INVALID_HEARTBEAT_ID: Final = "Invalid Heartbeat ID"


def status_for(message: str, status: int) -> int:
    """Apply Polymarket's override rule: the message text can force the status code."""
    lowered = message.lower()
    if "not found" in lowered:
        return 404
    if "unauthorized" in lowered:
        return 401
    if "context canceled" in lowered:
        return 400
    return status


class VenueHTTPError(Exception):
    """An error response in Polymarket's shape: raise it anywhere inside a route.

    ``body`` replaces the default ``{"error": message}`` when a route needs extra keys
    (heartbeats send ``error_msg`` + ``heartbeat_id``; post-only mode adds ``code``).
    """

    def __init__(
        self,
        message: str,
        status: int = 400,
        *,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status_for(message, status)
        self.body: Mapping[str, Any] = body if body is not None else {"error": message}
        self.headers: dict[str, str] = dict(headers or {})


def json_response(
    content: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """Return compact JSON (Polymarket's servers send no whitespace)."""
    return Response(
        orjson.dumps(content), status_code=status, headers=dict(headers or {}),
        media_type="application/json",
    )


def error_response(
    message: str, status: int = 400, headers: Mapping[str, str] | None = None
) -> Response:
    """Return ``{"error": message}`` with the status after the override rule."""
    return json_response({"error": message}, status_for(message, status), headers)


async def handle_venue_error(request: Request, exc: Exception) -> Response:
    """Starlette exception handler that renders :class:`VenueHTTPError`."""
    assert isinstance(exc, VenueHTTPError)  # registered for this class only
    return json_response(exc.body, exc.status, exc.headers)

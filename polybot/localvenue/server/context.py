"""What every route of the local venue shares: the exchange core and the server-side knobs.

One :class:`VenueContext` hangs off ``app.state.venue``; routes fetch it with :func:`venue_of`.
Also the small wire-format helpers every API module needs (decimal strings, ISO dates, query
parsing), kept here so the route modules stay about routes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection, Request

from polybot.localvenue.server import errors
from polybot.localvenue.server.clob_auth import ApiKeyStore, Authenticator
from polybot.localvenue.server.errors import VenueHTTPError
from polybot.localvenue.server.faults import Faults
from polybot.localvenue.server.ratelimit import IpLimiter, SignerLimiter

if TYPE_CHECKING:
    from polybot.localvenue.exchange import Exchange
    from polybot.localvenue.server.ws import WsHub


@dataclass(slots=True)
class VenueContext:
    """The exchange plus everything the HTTP/WS layer adds around it."""

    exchange: Exchange
    keys: ApiKeyStore
    auth: Authenticator
    faults: Faults
    ip_limits: IpLimiter
    signer_limits: SignerLimiter
    hub: WsHub
    chain_id: int
    admin_token: str | None = None
    banned: set[str] = field(default_factory=set)        # lower-case addresses
    closed_only: set[str] = field(default_factory=set)   # lower-case addresses
    funders: dict[str, set[str]] = field(default_factory=dict)  # signer -> proxy/Safe makers
    # Called after every admin/trading call that moves state, so background work (flow, the
    # trade lifecycle) can be nudged; the server sets it, tests may leave it.
    on_change: Callable[[], None] | None = None
    extras: dict[str, object] = field(default_factory=dict)

    def now_ms(self) -> int:
        """Return the venue clock in milliseconds."""
        return self.exchange.clock.now_ms()


def venue_of(connection: HTTPConnection) -> VenueContext:
    """Return the venue context of the app serving a request or WebSocket."""
    venue = connection.app.state.venue
    assert isinstance(venue, VenueContext)
    return venue


# ---------------------------------------------------------------------------------------------
# wire formatting


def dec_str(value: Decimal | None, empty: str = "") -> str:
    """Return a decimal as Polymarket writes it: plain notation, no trailing zeros."""
    if value is None:
        return empty
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def units_str(units: int) -> str:
    """Return integer base units (6 decimals) as a decimal string ("12.5")."""
    return dec_str(Decimal(units).scaleb(-6))


def units_float(units: int) -> float:
    """Return integer base units as a float (Data API and Gamma send numbers)."""
    return units / 1_000_000


def iso_ms(ms: int) -> str:
    """Return ``2026-03-11T09:27:51.140Z`` for epoch milliseconds."""
    stamp = datetime.fromtimestamp(ms / 1000, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond:06d}Z"


def iso_to_ms(text: str) -> int | None:
    """Parse an ISO-8601 date or datetime (``Z`` allowed) to epoch ms; None if unparseable."""
    if not text:
        return None
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


def query_list(request: Request, name: str) -> list[str]:
    """Return a repeatable query parameter (``?id=1&id=2``; comma lists are split too)."""
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        values.extend(part for part in raw.split(",") if part)
    return values


def query_bool(request: Request, name: str) -> bool | None:
    """Return a boolean query parameter, None when absent; 400 on anything but true/false."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise VenueHTTPError(f"invalid boolean for {name}: {raw!r}", 400)


def query_int(
    request: Request, name: str, default: int, *, minimum: int = 0, maximum: int | None = None
) -> int:
    """Return an integer query parameter clamped to ``maximum``; 400 if not an integer."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise VenueHTTPError(f"invalid integer for {name}: {raw!r}", 400) from None
    if value < minimum:
        raise VenueHTTPError(f"{name} must be >= {minimum}", 400)
    return value if maximum is None else min(value, maximum)


def query_decimal(request: Request, name: str) -> Decimal | None:
    """Return a decimal query parameter, None when absent; 400 if malformed."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(raw)
    except ArithmeticError:
        raise VenueHTTPError(f"invalid number for {name}: {raw!r}", 400) from None
    if not value.is_finite():
        raise VenueHTTPError(f"invalid number for {name}: {raw!r}", 400)
    return value


def require_token_id(request: Request, name: str = "token_id") -> str:
    """Return the ``token_id`` query parameter or raise Polymarket's 400."""
    token = request.query_params.get(name, "")
    if not token:
        raise VenueHTTPError(errors.INVALID_TOKEN_ID, 400)
    return token


def wall_s() -> float:
    """Return wall-clock seconds (rate limits and auth freshness use real time)."""
    return time.time()

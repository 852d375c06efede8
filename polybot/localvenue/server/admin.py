"""Local-only admin API under ``/_polybot/admin`` — deliberately outside Polymarket's paths.

Fund wallets, move or accelerate time, resolve markets, change ticks, set fault knobs, the
trading mode and rate-limit tiers, ban addresses, drop WebSockets. Requests must come from
loopback, or carry ``X-Polybot-Admin-Token`` when the server was started with a token (needed
when it listens beyond loopback). Bodies and answers are plain JSON; errors are
``{"error": "..."}`` with 400/403/404.
"""

from __future__ import annotations

import ipaddress
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from polybot.core.clock import ManualClock
from polybot.core.money import to_base_units
from polybot.localvenue.orders import TradingMode
from polybot.localvenue.server.clock import VenueClock
from polybot.localvenue.server.context import VenueContext, units_str, venue_of
from polybot.localvenue.server.errors import VenueHTTPError, json_response
from polybot.venues.polymarket.signer import to_checksum_address

router = APIRouter(prefix="/_polybot/admin")
TOKEN_HEADER = "X-Polybot-Admin-Token"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost", "testclient")


async def _admin(request: Request) -> tuple[VenueContext, dict[str, Any]]:
    venue = venue_of(request)
    if venue.admin_token is not None:
        if request.headers.get(TOKEN_HEADER) != venue.admin_token:
            raise VenueHTTPError("admin token required", 403)
    elif request.client is None or not _is_loopback(request.client.host):
        raise VenueHTTPError("the admin API only answers loopback clients", 403)
    raw = await request.body()
    if not raw:
        return venue, {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise VenueHTTPError("body is not JSON", 400) from None
    if not isinstance(body, dict):
        raise VenueHTTPError("body must be a JSON object", 400)
    return venue, body


def _decimal(body: dict[str, Any], name: str) -> Decimal:
    try:
        value = Decimal(str(body[name]))
    except KeyError:
        raise VenueHTTPError(f"{name} is required", 400) from None
    except InvalidOperation:
        raise VenueHTTPError(f"{name} is not a number", 400) from None
    if not value.is_finite():
        raise VenueHTTPError(f"{name} is not a number", 400)
    return value


def _changed(venue: VenueContext) -> None:
    if venue.on_change is not None:
        venue.on_change()


def _mode(text: str) -> TradingMode:
    normalized = text.replace("_", "-").lower()
    try:
        return TradingMode(normalized)
    except ValueError:
        names = ", ".join(m.value for m in TradingMode)
        raise VenueHTTPError(f"unknown trading_mode {text!r}; one of {names}", 400) from None


def _state(venue: VenueContext) -> dict[str, Any]:
    clock = venue.exchange.clock
    markets = venue.exchange.markets()
    return {
        "time_ms": clock.now_ms(),
        "speed": clock.speed if isinstance(clock, VenueClock) else None,
        "markets": len(markets),
        "open_markets": sum(1 for m in markets if not m.closed),
        "events": len(venue.exchange.events()),
        "trading_mode": venue.exchange.trading_mode.value,
        "faults": venue.faults.config.to_json(),
        "ws_connections": len(venue.hub.connections),
        "ws_frames_sent": venue.hub.sent_frames,
        "ws_messages_sent": venue.hub.sent_messages,
        "ip_limits": {"enabled": venue.ip_limits.enabled, "scale": venue.ip_limits.scale},
        "signer_limits": {
            "enabled": venue.signer_limits.enabled,
            "warning_mode": venue.signer_limits.warning_mode,
            "default_tier": venue.signer_limits.default_tier,
        },
        "banned": sorted(venue.banned),
        "closed_only": sorted(venue.closed_only),
    }


@router.get("/state")
async def state(request: Request) -> Response:
    """Return a summary of the venue: clock, markets, modes, knobs, WS stats."""
    venue, _ = await _admin(request)
    return json_response(_state(venue))


@router.post("/fund")
async def fund(request: Request) -> Response:
    """Mint pUSD to an address: ``{"address": "0x…", "amount": "1000"}`` (pUSD, not units)."""
    venue, body = await _admin(request)
    try:
        address = to_checksum_address(str(body.get("address", "")))
    except ValueError:
        raise VenueHTTPError("address must be a 0x-prefixed 20-byte address", 400) from None
    amount = _decimal(body, "amount")
    if amount <= 0:
        raise VenueHTTPError("amount must be positive", 400)
    balance = venue.exchange.fund(address, to_base_units(amount))
    _changed(venue)
    return json_response({"address": address, "balance": units_str(balance)})


@router.post("/advance")
async def advance(request: Request) -> Response:
    """Move venue time forward: ``{"seconds": 60}``; due expiries and lifecycle steps run now."""
    venue, body = await _admin(request)
    seconds = float(_decimal(body, "seconds"))
    if seconds < 0:
        raise VenueHTTPError("seconds must be >= 0", 400)
    clock = venue.exchange.clock
    if isinstance(clock, VenueClock):
        clock.advance(seconds)
        venue.exchange.tick()
    elif isinstance(clock, ManualClock):
        venue.exchange.advance(seconds)
    else:
        raise VenueHTTPError("this venue runs on a clock that cannot be advanced", 400)
    _changed(venue)
    return json_response({"time_ms": clock.now_ms()})


@router.post("/speed")
async def speed(request: Request) -> Response:
    """Accelerate time: ``{"speed": 10}`` = ten venue seconds per real second."""
    venue, body = await _admin(request)
    value = float(_decimal(body, "speed"))
    clock = venue.exchange.clock
    if not isinstance(clock, VenueClock):
        raise VenueHTTPError("this venue's clock has no speed", 400)
    try:
        clock.set_speed(value)
    except ValueError as exc:
        raise VenueHTTPError(str(exc), 400) from None
    return json_response({"speed": clock.speed, "time_ms": clock.now_ms()})


@router.post("/resolve")
async def resolve(request: Request) -> Response:
    """Resolve a market: ``{"condition_id": "0x…", "outcome": 0 | 1 | "Yes" | "No"}``."""
    venue, body = await _admin(request)
    condition_id = str(body.get("condition_id", ""))
    try:
        state = venue.exchange.market(condition_id)
    except KeyError:
        raise VenueHTTPError("market not found", 404) from None
    outcome = body.get("outcome", 0)
    if isinstance(outcome, str) and not outcome.isdigit():
        names = [name.lower() for name in state.spec.outcomes]
        if outcome.lower() not in names:
            raise VenueHTTPError(f"outcome must be one of {list(state.spec.outcomes)}", 400)
        outcome = names.index(outcome.lower())
    index = int(outcome)
    if index not in (0, 1):
        raise VenueHTTPError("outcome must be 0 or 1", 400)
    if state.closed:
        raise VenueHTTPError("market is already resolved", 400)
    venue.exchange.resolve(condition_id, index)
    _changed(venue)
    return json_response({
        "condition_id": condition_id, "winning_outcome": state.spec.outcomes[index],
        "winning_asset_id": state.spec.assets[index],
    })


@router.post("/tick-size")
async def tick_size(request: Request) -> Response:
    """Change a market's tick: ``{"condition_id": "0x…", "tick_size": "0.001"}``."""
    venue, body = await _admin(request)
    condition_id = str(body.get("condition_id", ""))
    tick = _decimal(body, "tick_size")
    try:
        venue.exchange.market(condition_id)
    except KeyError:
        raise VenueHTTPError("market not found", 404) from None
    venue.exchange.set_tick_size(condition_id, tick)
    return json_response({"condition_id": condition_id, "tick_size": str(tick)})


@router.get("/faults")
async def get_faults(request: Request) -> Response:
    """Return the fault knobs and the trading mode."""
    venue, _ = await _admin(request)
    return json_response({
        **venue.faults.config.to_json(), "trading_mode": venue.exchange.trading_mode.value,
    })


@router.post("/faults")
async def set_faults(request: Request) -> Response:
    """Change fault knobs (partial update; ``{"reset": true}`` first clears them all).

    ``trading_mode`` (``normal``, ``cancel-only``, ``disabled``, ``post-only``) is accepted here
    too; ``drop_ws: true`` drops every open WebSocket once.
    """
    venue, body = await _admin(request)
    changes = dict(body)
    mode = changes.pop("trading_mode", None)
    drop = bool(changes.pop("drop_ws", False))
    new_mode = _mode(str(mode)) if mode is not None else None
    try:
        config = venue.faults.update(changes)
    except (ValueError, TypeError) as exc:
        raise VenueHTTPError(str(exc), 400) from None
    if new_mode is not None:
        venue.exchange.set_trading_mode(new_mode)
    elif changes.get("reset"):
        venue.exchange.set_trading_mode(TradingMode.NORMAL)
    dropped = venue.hub.drop_all() if drop else 0
    return json_response({
        **config.to_json(), "trading_mode": venue.exchange.trading_mode.value,
        "dropped_ws": dropped,
    })


@router.post("/drop-ws")
async def drop_ws(request: Request) -> Response:
    """Drop every open WebSocket now (close code 1011)."""
    venue, _ = await _admin(request)
    return json_response({"dropped": venue.hub.drop_all()})


@router.post("/ratelimits")
async def ratelimits(request: Request) -> Response:
    """Configure rate limits.

    Keys: ``ip_enabled``, ``ip_scale`` (multiplies every IP limit), ``signer_enabled``,
    ``warning_mode``, ``tier`` (default tier), ``signer_tiers`` (``{address: tier}``).
    """
    venue, body = await _admin(request)
    try:
        venue.ip_limits.configure(
            enabled=body.get("ip_enabled"),
            scale=float(body["ip_scale"]) if "ip_scale" in body else None,
        )
        venue.signer_limits.configure(
            enabled=body.get("signer_enabled"), warning_mode=body.get("warning_mode"),
            default_tier=body.get("tier"), signer_tiers=body.get("signer_tiers"),
        )
    except (ValueError, TypeError) as exc:
        raise VenueHTTPError(str(exc), 400) from None
    return json_response(_state(venue)["signer_limits"] | {"ip": _state(venue)["ip_limits"]})


@router.post("/address-status")
async def address_status(request: Request) -> Response:
    """Ban or restrict an address: ``{"address": "0x…", "status": "banned|closed_only|ok"}``."""
    venue, body = await _admin(request)
    address = str(body.get("address", "")).lower()
    status = str(body.get("status", "ok"))
    if status not in ("banned", "closed_only", "ok"):
        raise VenueHTTPError("status must be banned, closed_only or ok", 400)
    venue.banned.discard(address)
    venue.closed_only.discard(address)
    if status == "banned":
        venue.banned.add(address)
    elif status == "closed_only":
        venue.closed_only.add(address)
    return json_response({"address": address, "status": status})


@router.post("/funder")
async def link_funder(request: Request) -> Response:
    """Let ``signer`` trade for a proxy/Safe/deposit wallet: ``{"signer": "0x…", "funder": "0x…"}``.

    Orders with signature type 1–3 name the funder as ``maker``; on chain the wallet contract
    proves ownership, locally this link does.
    """
    venue, body = await _admin(request)
    try:
        signer = to_checksum_address(str(body.get("signer", "")))
        funder = to_checksum_address(str(body.get("funder", "")))
    except ValueError:
        raise VenueHTTPError("signer and funder must be 0x-prefixed 20-byte addresses", 400) from None
    venue.funders.setdefault(signer.lower(), set()).add(funder.lower())
    return json_response({"signer": signer, "funder": funder})

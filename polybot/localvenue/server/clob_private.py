"""Private (L2) CLOB routes (reference §3.3): orders, cancels, order/trade queries, balances.

Each route authenticates with L2 first (``401 Unauthorized/Invalid api key``), then takes from
the signer's ``order`` or ``cancel`` bucket (429 + ``Retry-After`` when empty), then does its
work. Order and cancel responses carry the ``Poly-RateLimit-*`` headers.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from polybot.localvenue.accounts import AssetType
from polybot.localvenue.orders import CancelResult, OrderResult
from polybot.localvenue.server import errors
from polybot.localvenue.server.clob_auth import ApiKeyRecord
from polybot.localvenue.server.clob_public import cursor_page
from polybot.localvenue.server.context import VenueContext, venue_of
from polybot.localvenue.server.errors import VenueHTTPError, json_response
from polybot.localvenue.server.order_intake import IntakeError, check_item, parse_item
from polybot.localvenue.server.ratelimit import Kind
from polybot.venues.polymarket.contracts import (
    EXCHANGE_V2,
    EXCHANGE_V3,
    NEG_RISK_ADAPTER,
    NEG_RISK_EXCHANGE_V2,
)

router = APIRouter()

PAGE_SIZE = 100
MAX_UINT256 = str((1 << 256) - 1)


async def _body_json(request: Request, message: str) -> Any:
    raw = await request.body()
    if not raw:
        raise VenueHTTPError(message, 400)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise VenueHTTPError(message, 400) from None


def _admit(venue: VenueContext, key: ApiKeyRecord, kind: Kind, cost: int) -> dict[str, str]:
    decision = venue.signer_limits.admit(key.address, kind, cost)
    if not decision.allowed:
        raise VenueHTTPError(errors.TOO_MANY_REQUESTS, 429, headers=decision.headers)
    return decision.headers


def _changed(venue: VenueContext) -> None:
    if venue.on_change is not None:
        venue.on_change()


# ---------------------------------------------------------------------------------------------
# orders


def _result_body(result: OrderResult) -> dict[str, Any]:
    return result.to_wire()


def _submit(venue: VenueContext, key: ApiKeyRecord, item: Any) -> OrderResult:
    try:
        order = check_item(venue, key, parse_item(item))
    except IntakeError as refused:
        return OrderResult(
            success=False, error_msg=refused.message, order_id=refused.order_id,
            http_status=refused.status,
        )
    return venue.exchange.post_order(order)


@router.post("/order")
async def post_order(request: Request) -> Response:
    """Place one order; answer an ``OrderResponse`` or Polymarket's error body."""
    venue = venue_of(request)
    key = await venue.auth.l2(request)
    headers = _admit(venue, key, "order", 1)
    item = await _body_json(request, errors.INVALID_ORDER_PAYLOAD)
    result = _submit(venue, key, item)
    _changed(venue)
    if result.success or result.http_status == 200:
        return json_response(_result_body(result), headers=headers)
    body: dict[str, Any] = {"error": result.error_msg}
    if result.error_code:
        body["code"] = result.error_code
    return json_response(body, errors.status_for(result.error_msg, result.http_status), headers)


@router.post("/orders")
async def post_orders(request: Request) -> Response:
    """Place up to 15 orders; per-order rejections come back inside the 200 array."""
    venue = venue_of(request)
    key = await venue.auth.l2(request)
    items = await _body_json(request, errors.INVALID_ORDER_PAYLOAD)
    if not isinstance(items, list) or not items:
        raise VenueHTTPError(errors.INVALID_ORDER_PAYLOAD, 400)
    if len(items) > errors.MAX_BATCH_ORDERS:
        raise VenueHTTPError(errors.too_many_orders(len(items)), 400)
    headers = _admit(venue, key, "order", len(items))
    results = [_submit(venue, key, item) for item in items]
    _changed(venue)
    return json_response([_result_body(r) for r in results], headers=headers)


def _cancel_response(
    venue: VenueContext, result: CancelResult, headers: dict[str, str]
) -> Response:
    _changed(venue)
    if result.error:
        return json_response(
            result.to_wire(), errors.status_for(result.error, result.http_status), headers
        )
    return json_response(result.to_wire(), headers=headers)


@router.delete("/order")
async def cancel_order(request: Request) -> Response:
    """Cancel one order: ``{"orderID": "0x…"}``."""
    venue = venue_of(request)
    key = await venue.auth.l2(request)
    headers = _admit(venue, key, "cancel", 1)
    body = await _body_json(request, errors.INVALID_ORDER_ID)
    order_id = body.get("orderID") if isinstance(body, dict) else None
    if not isinstance(order_id, str) or not order_id:
        raise VenueHTTPError(errors.INVALID_ORDER_ID, 400, headers=headers)
    return _cancel_response(venue, venue.exchange.cancel(key.api_key, [order_id]), headers)


@router.delete("/orders")
async def cancel_orders(request: Request) -> Response:
    """Cancel up to 3000 orders by id: ``["0x…", …]``."""
    venue = venue_of(request)
    key = await venue.auth.l2(request)
    ids = await _body_json(request, errors.INVALID_ORDER_ID)
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise VenueHTTPError(errors.INVALID_ORDER_ID, 400)
    if len(ids) > errors.MAX_CANCEL_IDS:
        raise VenueHTTPError(errors.too_many_cancels(), 400)
    headers = _admit(venue, key, "cancel", max(1, len(ids)))
    return _cancel_response(venue, venue.exchange.cancel(key.api_key, ids), headers)


@router.delete("/cancel-all")
async def cancel_all(request: Request) -> Response:
    """Cancel every open order of the caller (costs 1 + #canceled cancel tokens)."""
    venue = venue_of(request)
    key = await venue.auth.l2(request)
    _admit(venue, key, "cancel", 1)
    result = venue.exchange.cancel_all(key.api_key)
    headers = venue.signer_limits.charge(key.address, "cancel", len(result.canceled))
    return _cancel_response(venue, result, headers)


@router.delete("/cancel-market-orders")
async def cancel_market_orders(request: Request) -> Response:
    """Cancel the caller's orders in a market and/or asset."""
    venue = venue_of(request)
    key = await venue.auth.l2(request)
    _admit(venue, key, "cancel", 1)
    raw = await request.body()
    body = orjson.loads(raw) if raw else {}
    if not isinstance(body, dict):
        raise VenueHTTPError(errors.INVALID_PAYLOAD, 400)
    market, asset = str(body.get("market") or ""), str(body.get("asset_id") or "")
    result = venue.exchange.cancel_market(key.api_key, market, asset)
    headers = venue.signer_limits.charge(key.address, "cancel", len(result.canceled))
    return _cancel_response(venue, result, headers)


# ---------------------------------------------------------------------------------------------
# queries


@router.get("/data/order/{order_id}")
async def get_order(request: Request, order_id: str) -> Response:
    """Return one of the caller's *open* orders; terminal or foreign orders are empty (null)."""
    venue = venue_of(request)
    key = await venue.auth.l2(request)
    record = venue.exchange.order(order_id)
    if record is None or not record.is_open or record.address.lower() != key.address.lower():
        return json_response(None)
    return json_response(record.to_wire())


@router.get("/data/orders")
async def get_orders(request: Request) -> Response:
    """Return a cursor page of the caller's open orders (filters ``market``/``asset_id``/``id``)."""
    venue = venue_of(request)
    key = await venue.auth.l2(request)
    q = request.query_params
    rows = venue.exchange.open_orders(
        address=key.address, market=q.get("market", ""), asset_id=q.get("asset_id", ""),
        order_id=q.get("id", ""),
    )
    return json_response(cursor_page([r.to_wire() for r in rows], q.get("next_cursor"), PAGE_SIZE))


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise VenueHTTPError(f"invalid {name}", 400) from None


@router.get("/data/trades")
async def get_trades(request: Request) -> Response:
    """Return a cursor page of the caller's trades, as taker or maker."""
    venue = venue_of(request)
    key = await venue.auth.l2(request)
    q = request.query_params
    address = q.get("maker_address") or key.address
    if address.lower() != key.address.lower():
        return json_response(cursor_page([], q.get("next_cursor"), PAGE_SIZE))
    records = venue.exchange.trades_for(
        address, trade_id=q.get("id", ""), market=q.get("market", ""),
        asset_id=q.get("asset_id", ""), before_s=_int_param(request, "before"),
        after_s=_int_param(request, "after"),
    )
    low = address.lower()
    rows = []
    for record in reversed(records):   # newest first, like the real ledger
        if record.taker_address.lower() == low:
            rows.append(record.to_wire(api_key=record.taker_api_key, trader_side="TAKER"))
        else:
            leg_key = next(
                (leg.api_key for leg in record.maker_legs if leg.address.lower() == low),
                key.api_key,
            )
            rows.append(record.to_wire(api_key=leg_key, trader_side="MAKER"))
    return json_response(cursor_page(rows, q.get("next_cursor"), PAGE_SIZE))


def _balance(request: Request, venue: VenueContext, key: ApiKeyRecord) -> dict[str, Any]:
    q = request.query_params
    try:
        asset_type = AssetType(q.get("asset_type", "COLLATERAL"))
    except ValueError:
        raise VenueHTTPError(errors.INVALID_ASSET_TYPE, 400) from None
    sig_type = q.get("signature_type", "0") or "0"
    if sig_type not in ("0", "1", "2", "3"):
        raise VenueHTTPError(errors.INVALID_SIGNATURE_TYPE, 400)
    token = q.get("token_id", "")
    if asset_type is not AssetType.COLLATERAL and not token:
        raise VenueHTTPError(errors.INVALID_TOKEN_ID, 400)
    view = venue.exchange.balance(key.address, asset_type, token)
    spenders = (EXCHANGE_V3,) if asset_type is AssetType.CONDITIONAL_V2 else (
        EXCHANGE_V2, NEG_RISK_EXCHANGE_V2, NEG_RISK_ADAPTER,
    )
    # The local venue has no ERC-20 approvals to make: every exchange is approved for max.
    return {"balance": str(view.balance), "allowances": dict.fromkeys(spenders, MAX_UINT256)}


@router.get("/balance-allowance")
async def balance_allowance(request: Request) -> Response:
    """Return ``{"balance": base units, "allowances": {exchange: amount}}``."""
    venue = venue_of(request)
    key = await venue.auth.l2(request)
    return json_response(_balance(request, venue, key))


@router.get("/balance-allowance/update")
async def balance_allowance_update(request: Request) -> Response:
    """Refresh the (always fresh) balance cache; answers like ``/balance-allowance``."""
    venue = venue_of(request)
    key = await venue.auth.l2(request)
    return json_response(_balance(request, venue, key))


@router.get("/order-scoring")
async def order_scoring(request: Request) -> Response:
    """Return ``{"scoring": bool}``: resting orders score (rewards are not simulated further)."""
    venue = venue_of(request)
    await venue.auth.l2(request)
    record = venue.exchange.order(request.query_params.get("order_id", ""))
    return json_response({"scoring": bool(record is not None and record.is_open)})


@router.post("/orders-scoring")
async def orders_scoring(request: Request) -> Response:
    """Return ``{order_id: bool}`` for a list of ids."""
    venue = venue_of(request)
    await venue.auth.l2(request)
    ids = await _body_json(request, errors.INVALID_PAYLOAD)
    if not isinstance(ids, list):
        raise VenueHTTPError(errors.INVALID_PAYLOAD, 400)
    out = {}
    for order_id in ids:
        record = venue.exchange.order(str(order_id))
        out[str(order_id)] = bool(record is not None and record.is_open)
    return json_response(out)


@router.post("/v1/heartbeats")
async def heartbeats(request: Request) -> Response:
    """Arm/feed the dead-man switch: send ``""`` first, then echo the id returned."""
    venue = venue_of(request)
    key = await venue.auth.l2(request)
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        raise VenueHTTPError(errors.INVALID_PAYLOAD, 400) from None
    heartbeat_id = body.get("heartbeat_id", "") if isinstance(body, dict) else ""
    result = venue.exchange.heartbeat(key.api_key, str(heartbeat_id or ""))
    return json_response(result.to_wire(), 200 if result.ok else 400)


@router.get("/notifications")
async def notifications(request: Request) -> Response:
    """Return no notifications (the local venue sends none)."""
    await venue_of(request).auth.l2(request)
    return json_response([])


@router.delete("/notifications")
async def drop_notifications(request: Request) -> Response:
    """Acknowledge dropping notifications."""
    await venue_of(request).auth.l2(request)
    return json_response("OK")


@router.get("/v1/user/rate-limit-tier")
async def rate_limit_tier(request: Request) -> Response:
    """Return the caller's per-signer rate-limit tier."""
    venue = venue_of(request)
    key = await venue.auth.l2(request)
    tier = venue.signer_limits.tier_of(key.address)
    return json_response({
        "tier": tier.name, "order_rate": tier.order_rate, "order_burst": tier.order_burst,
        "cancel_rate": tier.cancel_rate, "cancel_burst": tier.cancel_burst,
    })


@router.get("/data/pre-migration-orders")
async def pre_migration_orders(request: Request) -> Response:
    """Return an empty page: the local venue has no V1 orders left from the migration."""
    await venue_of(request).auth.l2(request)
    return json_response(cursor_page([], request.query_params.get("next_cursor"), PAGE_SIZE))

"""Orders: list and detail (from polybot.db), place (a signal to the executor), cancel, cancel all.

Placing an order pushes a ``Signal`` into the executor's PULL socket — the same door, and the same
risk checks, as every strategy — and waits (bounded) for the executor's first fate event about
that ``signal_id`` on ``events.pub``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import select

from polybot.bus.messages import AnyMessage, Event, OrderUpdate, Signal
from polybot.statecmd import queries
from polybot.storage.journal import record_audit
from polybot.storage.models import Order, OrderStatus
from services.api.auth import AuthDep
from services.api.deps import (
    FAILED,
    CommandRefused,
    CtxDep,
    SessionDep,
    WriteSessionDep,
    new_signal_id,
)
from services.api.schemas import (
    CancelAllRequest,
    CancelOut,
    CommandResult,
    OrderOut,
    OrderPlacement,
    PlaceOrderRequest,
    errors,
)

router = APIRouter(prefix="/orders", tags=["orders"])

_REFUSALS = ("reject", "fail", "invalid", "error", "refus")
_FINAL = (OrderStatus.CANCELED, OrderStatus.MATCHED, OrderStatus.REJECTED, OrderStatus.FAILED)
StatusFilter = Annotated[
    str,
    Query(
        pattern=r"^(open|all|PENDING_SUBMIT|LIVE|MATCHED|CANCELED|REJECTED|FAILED)$",
        description="open (not final), all, or one status",
    ),
]


@router.get("", response_model=list[OrderOut], responses=errors(422, 503))
def list_orders(
    session: SessionDep,
    status: StatusFilter = "open",
    strategy: Annotated[str | None, Query(max_length=100)] = None,
    market_id: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> list[OrderOut]:
    """List our orders, newest first."""
    args: dict[str, Any] = {"status": status, "limit": limit}
    if strategy:
        args["strategy"] = strategy
    if market_id:
        args["market_id"] = market_id
    return [OrderOut.model_validate(row) for row in queries.orders(session, args)]


@router.get("/{client_order_id}", response_model=OrderOut, responses=errors(404, 503))
def get_order(session: SessionDep, client_order_id: str) -> OrderOut:
    """Return one order by our client order id."""
    return OrderOut.model_validate(_order_row(_order(session, client_order_id)))


@router.post(
    "",
    response_model=OrderPlacement,
    dependencies=[AuthDep],
    responses=errors(401, 409, 422, 503, 504),
)
async def place_order(ctx: CtxDep, body: PlaceOrderRequest) -> OrderPlacement:
    """Send an order to the executor and return its fate (accepted or rejected with a reason).

    ``accepted`` is false when the executor or its risk gate refused the order; ``reason`` says
    why. A 504 means the executor took the signal but said nothing in time: look it up with
    ``GET /orders?status=all`` before sending it again (re-use ``signal_id`` to stay idempotent).
    """
    signal = Signal(
        strategy=body.strategy,
        market_id=body.market_id,
        action=body.action,
        token_id=body.token_id,
        price=body.price,
        size=body.size,
        reason=body.reason or "placed through the API",
        signal_id=body.signal_id or new_signal_id(),
        order_type=body.order_type,
        post_only=body.post_only,
        expiration=body.expiration,
    )
    ctx.count("orders_placed")
    fate = await ctx.executor.place(signal)
    return _placement(signal.signal_id, fate)


def _placement(signal_id: str, fate: AnyMessage) -> OrderPlacement:
    if isinstance(fate, OrderUpdate):
        refused = fate.status.upper() in ("REJECTED", "FAILED", "INVALID")
        return OrderPlacement(
            signal_id=signal_id,
            accepted=not refused,
            fate=f"order_{fate.status.lower()}",
            reason=fate.reason,
            data={"client_order_id": fate.client_order_id, "order_id": fate.order_id},
            timestamp_ms=fate.timestamp,
        )
    assert isinstance(fate, Event)
    kind = fate.event_type.lower()
    return OrderPlacement(
        signal_id=signal_id,
        accepted=not any(word in kind for word in _REFUSALS),
        fate=fate.event_type,
        reason=str(fate.data.get("reason", "")),
        data=fate.data,
        timestamp_ms=fate.timestamp,
    )


@router.post(
    "/cancel-all",
    response_model=CommandResult,
    dependencies=[AuthDep],
    responses=errors(400, 401, 403, 422, 503),
)
async def cancel_all_orders(ctx: CtxDep, body: CancelAllRequest) -> CommandResult:
    """Cancel every live order (of one strategy and/or market when given), via the state service."""
    args: dict[str, Any] = {"actor": "api"}
    if body.strategy:
        args["strategy"] = body.strategy
    if body.market_id:
        args["market_id"] = body.market_id
    result = await ctx.state.call("cancel_all", args, token=ctx.token)
    return CommandResult(command="cancel_all", result=result)


@router.delete(
    "/{client_order_id}",
    response_model=CancelOut,
    dependencies=[AuthDep],
    responses=errors(400, 401, 404, 409, 503, 504),
)
async def cancel_order(ctx: CtxDep, session: WriteSessionDep, client_order_id: str) -> CancelOut:
    """Cancel one live order: the executor cancels it at the venue and confirms on events.pub."""
    order = _order(session, client_order_id)
    if order.status in _FINAL:
        raise HTTPException(409, f"order {client_order_id!r} is already {order.status}")
    session.rollback()  # end the read: the wait below must not hold a SQLite snapshot
    answer = await ctx.executor.command("cancel", {"client_order_id": client_order_id})
    applied = answer.event_type != FAILED
    detail = answer.data.get("result") if applied else answer.data.get("error")
    with session.begin():
        record_audit(
            session,
            actor="api",
            command="cancel",
            args={"client_order_id": client_order_id},
            result=str(detail)[:2000],
            is_ok=applied,
            request_id=str(answer.data.get("request_id", "")),
        )
    if not applied:
        raise CommandRefused(f"the executor could not cancel {client_order_id!r}: {detail}", 400)
    ctx.count("orders_cancelled")
    return CancelOut(client_order_id=client_order_id, applied=True, detail=detail)


def _order(session: Any, client_order_id: str) -> Order:
    order: Order | None = session.scalar(
        select(Order).where(Order.client_order_id == client_order_id)
    )
    if order is None:
        raise HTTPException(404, f"no order {client_order_id!r} (see GET /orders?status=all)")
    return order


def _order_row(order: Order) -> dict[str, Any]:
    return {name: queries.plain(getattr(order, name)) for name in OrderOut.model_fields}

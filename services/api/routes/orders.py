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
    PlacementOutcome,
    PlaceOrderRequest,
    errors,
)

router = APIRouter(prefix="/orders", tags=["orders"])

_REFUSALS = ("reject", "fail", "invalid", "error", "refus")
# The executor's fate for a signal of a strategy in shadow mode (polybot/execution/fates.py);
# spelled out here so the API does not import the executor's package.
SIGNAL_SHADOWED = "signal_shadowed"
_DUPLICATE = "duplicate"  # data["fate"] of the executor's answer to a resent signal_id
# The executor's command to cancel one order (docs/operations-services.md, control contract).
CANCEL_ORDER = "cancel_order"
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


@router.get("/{client_order_id}", response_model=OrderOut, responses=errors(404, 422, 503))
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
    """Send an order to the executor and return its fate: accepted, rejected or shadowed.

    ``outcome`` says what happened: ``accepted`` (the order goes to the venue), ``rejected`` (the
    executor or its risk gate refused it) or ``shadowed`` (the strategy is in shadow mode: nothing
    was sent to the venue). ``accepted`` is true only for the first; ``reason`` says why for the
    others. A 504 means the executor took the signal but said nothing in time: look it up with
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
            outcome="rejected" if refused else "accepted",
            accepted=not refused,
            fate=f"order_{fate.status.lower()}",
            reason=fate.reason if refused else "",
            data={"client_order_id": fate.client_order_id, "order_id": fate.order_id},
            timestamp_ms=fate.timestamp,
        )
    assert isinstance(fate, Event)
    kind, data = fate.event_type.lower(), fate.data
    outcome: PlacementOutcome
    if _shadowed(kind, data):
        outcome = "shadowed"
    elif any(word in kind for word in _REFUSALS):
        outcome = "rejected"
    else:
        outcome = "accepted"
    return OrderPlacement(
        signal_id=signal_id,
        outcome=outcome,
        accepted=outcome == "accepted",
        fate=fate.event_type,
        reason=_reason(outcome, data),
        data=data,
        timestamp_ms=fate.timestamp,
    )


def _shadowed(kind: str, data: dict[str, Any]) -> bool:
    if kind == SIGNAL_SHADOWED or data.get("shadow") is True:
        return True
    # A resent signal_id: the executor repeats the journalled fate, which for a shadowed signal
    # is a rejection whose detail reads "shadow: would be …" (polybot/execution/executor.py).
    return data.get("fate") == _DUPLICATE and str(data.get("detail", "")).startswith("shadow")


def _reason(outcome: PlacementOutcome, data: dict[str, Any]) -> str:
    """Return the executor's explanation (``data["reason"]`` is the signal's own reason)."""
    rule, detail = str(data.get("rule") or ""), str(data.get("detail") or "")
    explained = f"{rule}: {detail}" if rule and detail else rule or detail
    if outcome == "shadowed":
        text = (
            f"strategy {data.get('strategy', '')!r} is in shadow mode: the signal was checked "
            "and recorded but not sent to the venue"
        )
        if data.get("would_be"):
            text += f"; it would be {data['would_be']}"
            text += f" ({explained})" if explained else ""
        elif explained:
            text += f" ({explained})"
    elif outcome == "rejected":
        text = explained or str(data.get("error") or data.get("reason") or "refused")
    else:
        text = ""
    if data.get("fate") == _DUPLICATE:
        status = str(data.get("status") or "") if outcome != "shadowed" else ""
        prefix = "repeats an earlier signal with this signal_id" + (
            f" (journal status {status})" if status else ""
        )
        text = f"{prefix}: {text}" if text else prefix
    return text


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
    responses=errors(400, 401, 404, 409, 422, 503, 504),
)
async def cancel_order(ctx: CtxDep, session: WriteSessionDep, client_order_id: str) -> CancelOut:
    """Cancel one live order: the executor cancels it at the venue and confirms on events.pub."""
    order = _order(session, client_order_id)
    if order.status in _FINAL:
        raise HTTPException(409, f"order {client_order_id!r} is already {order.status}")
    session.rollback()  # end the read: the wait below must not hold a SQLite snapshot
    answer = await ctx.executor.command(CANCEL_ORDER, {"client_order_id": client_order_id})
    applied = answer.event_type != FAILED
    detail = answer.data.get("result") if applied else answer.data.get("error")
    with session.begin():
        record_audit(
            session,
            actor="api",
            command=CANCEL_ORDER,
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

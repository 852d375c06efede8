"""Turn a received signal into an exact order plan, or say precisely why it cannot be one.

The bus carries floats; an order carries ``Decimal`` on the market's tick grid. ``to_decimal``
recovers the decimal the sender meant (``0.45`` stays ``0.45``), and a price that is not an exact
multiple of the tick is refused rather than rounded: rounding would trade at a price nobody
asked for. The checks mirror the venue's own (tick, bounds, 2-decimal sizes, minimum size for
resting orders, the $1 minimum of marketable BUYs) so a bad order is refused here, with a rule
name, instead of costing a round trip and a rate-limit token.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import msgspec

from polybot.bus.messages import Signal
from polybot.core.money import decimal_places, to_decimal
from polybot.execution.markets import MarketInfo
from polybot.model.fees import FeeSchedule
from polybot.risk import BookState, OrderIntent

SIZE_DECIMALS = 2
MARKETABLE_MIN_NOTIONAL = Decimal(1)
_ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a signal was refused before the risk gate: a rule name, a sentence, the numbers."""

    rule: str
    detail: str
    numbers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OrderPlan:
    """Everything needed to journal, risk-check, sign and submit one order (exact amounts)."""

    signal_id: str
    client_order_id: str
    strategy: str
    market_id: str
    token_id: str
    side: Literal["BUY", "SELL"]
    price: Decimal
    size: Decimal
    order_type: Literal["GTC", "GTD", "FOK", "FAK"]
    post_only: bool
    expiration: int
    outcome_index: int
    event_id: str
    neg_risk: bool
    tick_size: Decimal
    fee_schedule: FeeSchedule
    protocol_version: str = "v1"

    @property
    def notional(self) -> Decimal:
        """Return price × size in pUSD."""
        return self.price * self.size

    def risk_intent(self) -> OrderIntent:
        """Return the risk gate's view of this order."""
        return OrderIntent(
            market_id=self.market_id,
            token_id=self.token_id,
            side=self.side,
            price=self.price,
            size=self.size,
            event_id=self.event_id,
            outcome_index=self.outcome_index,
        )


def with_signal_id(signal: Signal) -> Signal:
    """Return the signal with an id: the sender's, or a fresh one when it sent none."""
    if signal.signal_id:
        return signal
    return msgspec.structs.replace(signal, signal_id=f"sig-{uuid.uuid4().hex}")


def _refuse(rule: str, detail: str, **numbers: object) -> Refusal:
    return Refusal(rule, detail, {k: str(v) for k, v in numbers.items()})


def plan_order(signal: Signal, market: MarketInfo | None) -> OrderPlan | Refusal:
    """Validate ``signal`` against its market and return the order plan, or the refusal."""
    if market is None:
        return _refuse(
            "unknown_market", "the venue does not know this market", market_id=signal.market_id
        )
    if not market.is_tradable:
        return _refuse(
            "market_inactive", "the market is not accepting orders", market_id=signal.market_id
        )
    index = market.outcome_index(signal.token_id)
    if index is None:
        return _refuse(
            "unknown_token", "the token does not belong to this market", token_id=signal.token_id
        )
    side, _, outcome = signal.action.partition("_")
    wanted = 0 if outcome == "YES" else 1
    if index != wanted:
        return _refuse(
            "token_mismatch",
            f"{signal.action} names outcome {wanted} but the token is outcome {index}",
            action=signal.action,
            token_index=index,
        )
    try:
        price, size = to_decimal(signal.price), to_decimal(signal.size)
    except ValueError as exc:
        return _refuse("bad_number", str(exc))
    problem = _check_amounts(signal, market, price, size)
    if problem is not None:
        return problem
    return OrderPlan(
        signal_id=signal.signal_id,
        client_order_id=signal.signal_id,  # one order per signal: the signal id is our order id
        strategy=signal.strategy,
        market_id=signal.market_id,
        token_id=signal.token_id,
        side="BUY" if side == "BUY" else "SELL",
        price=price,
        size=size,
        order_type=signal.order_type,
        post_only=signal.post_only,
        expiration=signal.expiration,
        outcome_index=index,
        event_id=market.event_id,
        neg_risk=market.neg_risk,
        tick_size=market.tick_size,
        fee_schedule=market.fee_schedule,
        protocol_version=market.protocol_version,
    )


def _check_amounts(
    signal: Signal, market: MarketInfo, price: Decimal, size: Decimal
) -> Refusal | None:
    tick = market.tick_size
    if price % tick != 0:
        return _refuse(
            "off_tick", "the price is not on the market's tick grid", price=price, tick=tick
        )
    if not tick <= price <= _ONE - tick:
        return _refuse(
            "price_out_of_range", "the price is outside [tick, 1 − tick]", price=price, tick=tick
        )
    if decimal_places(size) > SIZE_DECIMALS:
        return _refuse("size_precision", "sizes have at most 2 decimals", size=size)
    resting = signal.order_type in ("GTC", "GTD")
    if resting and size < market.min_order_size:
        return _refuse(
            "min_size",
            "the size is below the market's minimum",
            size=size,
            min_size=market.min_order_size,
        )
    if signal.post_only and not resting:
        return _refuse("time_in_force", "post-only is only allowed for GTC/GTD orders")
    if (signal.order_type == "GTD") != (signal.expiration > 0):
        return _refuse(
            "time_in_force", "GTD orders need an expiration, and only GTD orders have one"
        )
    return None


def check_marketable(plan: OrderPlan, book: BookState | None) -> Refusal | None:
    """Refuse a marketable BUY under $1 (the venue's rule); needs the book to know it crosses."""
    if plan.side != "BUY" or plan.notional >= MARKETABLE_MIN_NOTIONAL:
        return None
    crosses = plan.order_type in ("FOK", "FAK") or (
        book is not None and book.best_ask is not None and plan.price >= book.best_ask
    )
    if not crosses:
        return None
    return _refuse(
        "marketable_min",
        "a marketable BUY needs at least $1 notional",
        notional=plan.notional,
        minimum=MARKETABLE_MIN_NOTIONAL,
    )

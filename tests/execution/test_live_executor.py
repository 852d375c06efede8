"""Live mode end to end: real executor process, real NNG sockets, the real local venue."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from executor_stack import Stack
from sqlalchemy import select

from polybot.bus.messages import Command, Event, Signal
from polybot.storage.models import Order, Position, SignalJournalEntry, Trade


def best(book: dict[str, Any], side: str) -> Decimal:
    """Return the best bid/ask of a CLOB book (bids ascending, asks descending: best last)."""
    return Decimal(book[side][-1]["price"])


def below_bid(stack: Stack, token_id: str) -> Decimal:
    """Return a price that rests (never crosses): a few ticks under the best bid, at least 0.01."""
    return max(best(stack.venue.book(token_id), "bids") - Decimal("0.03"), Decimal("0.01"))


def signal(
    market: dict[str, Any], *, action: str = "BUY_YES", price: float, size: float, **extra: Any
) -> Signal:
    index = 0 if action.endswith("YES") else 1
    return Signal(
        strategy=extra.pop("strategy", "e2e"),
        market_id=market["condition_id"],
        action=action,  # type: ignore[arg-type]
        token_id=market["tokens"][index]["token_id"],
        price=price,
        size=size,
        reason="test",
        signal_id=extra.pop("signal_id", f"sig-{uuid.uuid4().hex[:12]}"),
        **extra,
    )


def command(stack: Stack, name: str, **args: Any) -> Event:
    request_id = uuid.uuid4().hex
    stack.send(Command(request_id=request_id, command=name, args=args))
    return stack.wait_event(
        lambda e: (
            e.event_type in ("command_applied", "command_failed")
            and e.data.get("request_id") == request_id
        )
    )


def test_signal_becomes_filled_order_position_and_pnl(stack: Stack) -> None:
    market = stack.venue.tradable_markets(neg_risk=False)[0]
    yes = market["tokens"][0]["token_id"]
    ask = best(stack.venue.book(yes), "asks")
    sig = signal(market, price=float(ask), size=10)

    stack.send(sig)

    accepted = stack.fate(sig.signal_id, "signal_accepted", "signal_rejected")
    assert accepted.event_type == "signal_accepted", accepted.data
    assert accepted.data["strategy"] == "e2e"
    assert accepted.data["price"] == float(ask)
    filled = stack.fate(sig.signal_id, "order_filled")
    assert filled.data["fate"] == "filled"
    assert Decimal(filled.data["fill"]["size"]) == Decimal(10)
    assert filled.data["order_id"].startswith("0x")
    with stack.sessions() as session:
        order = session.scalar(select(Order).where(Order.client_order_id == sig.signal_id))
        assert order is not None
        assert order.status == "MATCHED"
        assert order.size_matched == Decimal(10)
        trades = session.scalars(select(Trade).where(Trade.client_order_id == sig.signal_id)).all()
        assert len(trades) == 1
        assert trades[0].liquidity == "TAKER"
        assert trades[0].price == ask
        position = session.scalar(
            select(Position).where(Position.token_id == yes, Position.strategy == "e2e")
        )
        assert position is not None
        assert position.size == Decimal(10)
        assert position.avg_price == ask
        journal = session.scalar(
            select(SignalJournalEntry).where(SignalJournalEntry.signal_id == sig.signal_id)
        )
        assert journal is not None
        assert journal.status == "FILLED"


def test_kill_switch_cancels_resting_orders_and_halts(stack: Stack) -> None:
    market = stack.venue.tradable_markets(neg_risk=False)[1]
    yes = market["tokens"][0]["token_id"]
    low = below_bid(stack, yes)
    resting = signal(market, price=float(low), size=10)
    stack.send(resting)
    placed = stack.fate(resting.signal_id, "order_placed", "signal_rejected", "order_failed")
    assert placed.event_type == "order_placed", (
        placed.data.get("rule"),
        placed.data.get("detail"),
        placed.data.get("numbers"),
    )
    venue_id = placed.data["order_id"]

    answer = command(stack, "kill_switch", on=True, reason="test")

    assert answer.event_type == "command_applied"
    assert answer.data["result"]["canceled"] >= 1
    canceled = stack.fate(resting.signal_id, "order_canceled")
    assert canceled.data["order_id"] == venue_id
    with stack.sessions() as session:
        order = session.scalar(select(Order).where(Order.venue_order_id == venue_id))
        assert order is not None
        assert order.status == "CANCELED"
    halted = signal(market, price=float(low), size=10)
    stack.send(halted)
    rejected = stack.fate(halted.signal_id, "signal_rejected")
    assert rejected.data["rule"] == "kill_switch"
    assert command(stack, "kill_switch", on=False).event_type == "command_applied"


def test_resent_signal_is_not_acted_on_twice(stack: Stack) -> None:
    market = stack.venue.tradable_markets(neg_risk=False)[2]
    yes = market["tokens"][0]["token_id"]
    low = below_bid(stack, yes)
    sig = signal(market, price=float(low), size=7)
    stack.send(sig)
    assert stack.fate(sig.signal_id, "order_placed").data["fate"] == "placed"

    stack.send(sig)

    again = stack.wait_event(
        lambda e: e.data.get("signal_id") == sig.signal_id and e.data.get("fate") == "duplicate"
    )
    assert again.data["status"] == "SUBMITTED"
    with stack.sessions() as session:
        orders = session.scalars(select(Order).where(Order.signal_id == sig.signal_id)).all()
        assert len(orders) == 1


def test_malformed_frames_are_dead_lettered_and_service_keeps_serving(stack: Stack) -> None:
    from polybot.storage.models import DeadLetter

    stack.send_frame(b"\xc1 not msgpack")
    stack.send_frame(b"\x81\xa4type\xa6signal")  # a signal with no fields

    letters = [
        stack.wait_event(lambda e: e.event_type == "dead_letter" and "msgpack" in e.data["reason"])
    ]
    letters.append(
        stack.wait_event(lambda e: e.event_type == "dead_letter" and "signal" in e.data["reason"])
    )
    with stack.sessions() as session:
        stored = session.scalars(
            select(DeadLetter).where(DeadLetter.id.in_([e.data["id"] for e in letters]))
        ).all()
        assert {row.payload for row in stored} == {b"\xc1 not msgpack", b"\x81\xa4type\xa6signal"}
    market = stack.venue.tradable_markets(neg_risk=False)[0]
    after = signal(market, price=0.5, size=5000)  # still served: rejected by the notional limit
    stack.send(after)
    assert stack.fate(after.signal_id, "signal_rejected").data["rule"] == "max_order_notional"


def test_risk_rules_reject_with_rule_and_numbers(stack: Stack) -> None:
    market = stack.venue.tradable_markets(neg_risk=False)[3]
    market["tokens"][0]["token_id"]

    sell = signal(market, action="SELL_YES", price=0.5, size=10)
    stack.send(sell)
    rejected = stack.fate(sell.signal_id, "signal_rejected")
    assert rejected.data["rule"] == "insufficient_shares"
    assert {k: Decimal(v) for k, v in rejected.data["numbers"].items()} == {"size": 10, "held": 0}

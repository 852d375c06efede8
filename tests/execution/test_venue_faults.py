"""The venue misbehaves (its fault knobs): the executor survives and never doubles an order.

POST /order answered with 429 (+ ``Retry-After``), with 500, or so slowly that the client times
out while the venue still places the order: each signal ends with exactly one order at the venue
and in SQLite. A dropped user WebSocket is reconnected and fills still arrive.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from executor_stack import Stack, wait_until
from sqlalchemy import select
from test_live_executor import below_bid, best, command, signal

from polybot.storage.models import Order, OrderStatus, Trade

# The executor reconciles every 15 s; an order left unresolved by a fault is settled by then.
SETTLE_S = 60.0


@pytest.fixture(autouse=True)
def no_faults(stack: Stack) -> Iterator[None]:
    """Every test starts and ends with a well-behaved venue."""
    stack.venue.admin("faults", {"reset": True})
    yield
    stack.venue.admin("faults", {"reset": True})


def log_has(stack: Stack, text: str) -> bool:
    return text in stack.log_path.read_text(errors="replace")


def disconnects(stack: Stack) -> int:
    """How often the executor logged that its user WebSocket went away."""
    return stack.log_path.read_text(errors="replace").count(" disconnected: ")


def orders_of(stack: Stack, signal_id: str) -> list[Order]:
    with stack.sessions() as session:
        return list(session.scalars(select(Order).where(Order.signal_id == signal_id)).all())


FAULTS: dict[str, dict[str, Any]] = {
    "429": {"error_429_rate": 1.0},  # answered with Retry-After: 1, retried, then ambiguous
    "5xx": {"error_5xx_rate": 1.0},  # a 500 on a POST: maybe acted on, so looked up
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_order_post_errors_end_in_exactly_one_order(stack: Stack, fault: str) -> None:
    market = stack.venue.tradable_markets(neg_risk=False, tick="0.01")[
        40 + list(FAULTS).index(fault)
    ]
    yes = market["tokens"][0]["token_id"]
    sig = signal(market, price=float(below_bid(stack, yes)), size=6)
    stack.venue.admin("faults", {**FAULTS[fault], "path_prefixes": ["/order"]})

    stack.send(sig)

    assert stack.fate(sig.signal_id, "signal_accepted", "signal_rejected").event_type == (
        "signal_accepted"
    )
    # The submit failed ambiguously and the identical resubmit too: the order is left pending.
    wait_until(
        lambda: log_has(stack, f"order {sig.signal_id} still unresolved"),
        SETTLE_S,
        "the executor to give up on the faulty venue for now",
    )
    [pending] = orders_of(stack, sig.signal_id)
    assert pending.status == OrderStatus.PENDING_SUBMIT
    assert pending.venue_order_id not in stack.venue.open_order_ids(
        stack.data_dir, market["condition_id"]
    )
    stack.venue.admin("faults", {"reset": True})

    placed = stack.fate(sig.signal_id, "order_placed", "order_failed", timeout=SETTLE_S)

    assert placed.event_type == "order_placed", placed.data
    [order] = orders_of(stack, sig.signal_id)
    assert order.status == OrderStatus.LIVE
    assert order.venue_order_id == placed.data["order_id"]
    assert stack.venue.open_order_ids(stack.data_dir, market["condition_id"]) == {
        order.venue_order_id
    }
    assert (
        command(stack, "cancel_all", market_id=market["condition_id"]).data["result"]["canceled"]
        == 1
    )


def test_post_that_times_out_but_was_placed_is_not_doubled(stack: Stack) -> None:
    """The venue places the order after the client gave up waiting (its timeout is 10 s)."""
    market = stack.venue.tradable_markets(neg_risk=False, tick="0.01")[42]
    yes = market["tokens"][0]["token_id"]
    sig = signal(market, price=float(below_bid(stack, yes)), size=6)
    stack.venue.admin("faults", {"latency_ms": 11_000, "path_prefixes": ["/order"]})

    stack.send(sig)

    wait_until(
        lambda: log_has(stack, f"submit of {sig.signal_id} is ambiguous"),
        SETTLE_S,
        "the submit to time out",
    )
    stack.venue.admin("faults", {"reset": True})
    placed = stack.fate(sig.signal_id, "order_placed", "order_failed", timeout=SETTLE_S)
    assert placed.event_type == "order_placed", placed.data

    def settled() -> bool:
        orders = orders_of(stack, sig.signal_id)
        return len(orders) == 1 and orders[0].status == OrderStatus.LIVE

    wait_until(settled, SETTLE_S, "the order to be LIVE")
    [order] = orders_of(stack, sig.signal_id)
    assert stack.venue.open_order_ids(stack.data_dir, market["condition_id"]) == {
        order.venue_order_id
    }
    assert (
        command(stack, "cancel_all", market_id=market["condition_id"]).data["result"]["canceled"]
        == 1
    )


def test_dropped_user_socket_reconnects_and_fills_still_arrive(stack: Stack) -> None:
    market = stack.venue.tradable_markets(neg_risk=False, tick="0.01")[43]
    yes = market["tokens"][0]["token_id"]
    assert stack.venue.http.get("/_polybot/admin/state").json()["ws_connections"] >= 1

    drops_before = disconnects(stack)

    dropped = stack.venue.http.post("/_polybot/admin/drop-ws").json()["dropped"]

    assert dropped >= 1
    wait_until(lambda: disconnects(stack) > drops_before, 30.0, "the executor to see the drop")
    wait_until(
        lambda: stack.venue.http.get("/_polybot/admin/state").json()["ws_connections"] >= 1,
        30.0,
        "the user channel to reconnect",
    )
    ask = best(stack.venue.book(yes), "asks")
    taker = signal(market, price=float(ask), size=5)
    stack.send(taker)
    filled = stack.fate(taker.signal_id, "order_filled", "signal_rejected", "order_failed")
    assert filled.event_type == "order_filled", filled.data

    def booked() -> list[Trade]:
        with stack.sessions() as session:
            return list(
                session.scalars(select(Trade).where(Trade.client_order_id == taker.signal_id))
            )

    wait_until(lambda: any(t.status == "CONFIRMED" for t in booked()), 30.0, "CONFIRMED")
    trades = booked()
    assert len(trades) == 1  # the socket and reconciliation both saw it: booked once
    assert trades[0].size == 5

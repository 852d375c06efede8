"""Every pre-trade risk rule says no through the real running executor, with its name and numbers.

Signals go to the executor's real PULL socket, limits change with ``set_risk_limits`` on the
running process, stale/crossed books are published on the test's ``prices.pub``, and each fate is
read off ``events.pub``. Limits are put back to the defaults after every test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import ROUND_UP, Decimal
from typing import Any

import pytest
from executor_stack import Stack
from sqlalchemy import select
from test_live_executor import below_bid, best, command, signal

from polybot.bus.messages import BookSnapshot, Event, Level
from polybot.core.clock import wall_ms
from polybot.risk import RiskLimits
from polybot.storage.models import Order, OrderStatus, SignalJournalEntry

DEFAULTS = RiskLimits().model_dump(mode="json")


@pytest.fixture(autouse=True)
def default_limits(stack: Stack) -> Iterator[None]:
    """Start and end every test with the default limits and the kill switch off."""
    assert command(stack, "set_risk_limits", limits=DEFAULTS).event_type == "command_applied"
    yield
    assert command(stack, "set_risk_limits", limits=DEFAULTS).event_type == "command_applied"


def set_limits(stack: Stack, **limits: Any) -> None:
    answer = command(stack, "set_risk_limits", limits=limits)
    assert answer.event_type == "command_applied", answer.data
    for name, value in limits.items():
        assert Decimal(str(answer.data["result"]["limits"][name])) == Decimal(str(value))


def numbers(event: Event) -> dict[str, str]:
    return dict(event.data["numbers"])


def rejected(stack: Stack, sig: Any) -> Event:
    stack.send(sig)
    fate = stack.fate(
        sig.signal_id, "signal_rejected", "signal_accepted", "signal_shadowed", "order_failed"
    )
    assert fate.event_type == "signal_rejected", fate.data
    return fate


# ---- limits on the order itself and on the portfolio --------------------------------------------
LIMIT_CASES = {
    "max_order_notional": {"max_order_notional": "1.5"},
    "min_balance": {"min_balance": "1000000000"},
    "max_market_position": {"max_market_position": "1.5"},
    "max_total_exposure": {"max_total_exposure": "1.5"},
}


@pytest.mark.parametrize("rule", list(LIMIT_CASES))
def test_buy_limits_reject_with_rule_and_numbers(stack: Stack, rule: str) -> None:
    index = list(LIMIT_CASES).index(rule) + 10  # a market nobody else in this module trades
    market = stack.venue.tradable_markets(neg_risk=False, tick="0.01")[index]
    yes = market["tokens"][0]["token_id"]
    price = below_bid(stack, yes)
    size = (Decimal(2) / price).quantize(Decimal(1), rounding=ROUND_UP) + 5  # notional > 2
    notional = price * size
    sig = signal(market, price=float(price), size=float(size))

    set_limits(stack, **LIMIT_CASES[rule])
    fate = rejected(stack, sig)

    assert fate.data["rule"] == rule
    got = numbers(fate)
    limit = Decimal(next(iter(LIMIT_CASES[rule].values())))
    if rule == "max_order_notional":
        assert {k: Decimal(v) for k, v in got.items()} == {"notional": notional, "limit": limit}
    elif rule == "min_balance":
        assert Decimal(got["notional"]) == notional
        assert Decimal(got["min_balance"]) == limit
        assert Decimal(got["balance"]) - notional < limit
    elif rule == "max_market_position":
        assert Decimal(got["market_cost"]) == notional  # nothing held or resting in this market
        assert Decimal(got["limit"]) == limit
    else:
        assert Decimal(got["exposure"]) >= notional
        assert Decimal(got["limit"]) == limit
    with stack.sessions() as session:
        assert session.scalar(select(Order).where(Order.signal_id == sig.signal_id)) is None
        entry = session.scalar(
            select(SignalJournalEntry).where(SignalJournalEntry.signal_id == sig.signal_id)
        )
        assert entry is not None
        assert entry.status == "REJECTED"
        assert (entry.reason or "").startswith(f"{rule}:")


def test_max_event_exposure_counts_the_worst_case_over_the_neg_risk_event(stack: Stack) -> None:
    market = stack.venue.tradable_markets(neg_risk=True)[0]
    yes = market["tokens"][0]["token_id"]
    tick = Decimal(str(market["minimum_tick_size"]))
    price = max(best(stack.venue.book(yes), "bids") - 3 * tick, tick)  # rests, on the tick grid
    sig = signal(market, price=float(price), size=10)

    set_limits(stack, max_event_exposure="0.05")
    fate = rejected(stack, sig)

    assert fate.data["rule"] == "max_event_exposure"
    got = numbers(fate)
    assert got["event_id"]
    # Nothing else held in the event: if another market wins, the whole cost is lost.
    assert Decimal(got["worst_case_loss"]) == price * 10
    assert Decimal(got["limit"]) == Decimal("0.05")


def test_max_open_orders_counts_resting_orders(stack: Stack) -> None:
    market = stack.venue.tradable_markets(neg_risk=False, tick="0.01")[20]
    yes = market["tokens"][0]["token_id"]
    resting = signal(market, price=float(below_bid(stack, yes)), size=10)
    stack.send(resting)
    assert stack.fate(resting.signal_id, "order_placed", "signal_rejected").event_type == (
        "order_placed"
    )
    with stack.sessions() as session:
        live = len(session.scalars(select(Order).where(Order.status == OrderStatus.LIVE)).all())
    assert live >= 1

    set_limits(stack, max_open_orders=live)
    fate = rejected(stack, signal(market, price=float(below_bid(stack, yes)), size=10))

    assert fate.data["rule"] == "max_open_orders"
    assert numbers(fate) == {"open_orders": str(live), "limit": str(live)}
    assert (
        command(stack, "cancel_all", market_id=market["condition_id"]).data["result"]["canceled"]
        == 1
    )


def test_max_daily_loss_stops_buys_after_a_losing_day(stack: Stack) -> None:
    market = stack.venue.tradable_markets(neg_risk=False, tick="0.01")[21]
    yes = market["tokens"][0]["token_id"]
    book = stack.venue.book(yes)
    ask, bid = best(book, "asks"), best(book, "bids")
    assert ask > bid
    taker = signal(market, price=float(ask), size=10)  # bought at the ask, marked at the mid
    stack.send(taker)
    assert stack.fate(taker.signal_id, "order_filled", "signal_rejected").event_type == (
        "order_filled"
    )

    set_limits(stack, max_daily_loss="0.0001")
    fate = rejected(stack, signal(market, price=float(below_bid(stack, yes)), size=10))

    assert fate.data["rule"] == "max_daily_loss"
    got = numbers(fate)
    assert Decimal(got["daily_pnl"]) < 0
    assert Decimal(got["limit"]) == Decimal("-0.0001")
    # A SELL reduces exposure: still allowed with the day's loss limit reached.
    set_limits(stack, max_daily_loss="0.0001")
    out = signal(market, action="SELL_YES", price=float(bid), size=10)
    stack.send(out)
    assert stack.fate(out.signal_id, "signal_accepted", "signal_rejected").event_type == (
        "signal_accepted"
    )


def test_insufficient_shares(stack: Stack) -> None:
    market = stack.venue.tradable_markets(neg_risk=False, tick="0.01")[22]
    fate = rejected(stack, signal(market, action="SELL_YES", price=0.5, size=10))
    assert fate.data["rule"] == "insufficient_shares"
    assert {k: Decimal(v) for k, v in numbers(fate).items()} == {"size": 10, "held": 0}


def test_kill_switch_rejects_then_clears(stack: Stack) -> None:
    market = stack.venue.tradable_markets(neg_risk=False, tick="0.01")[23]
    yes = market["tokens"][0]["token_id"]
    assert command(stack, "kill_switch", on=True, reason="risk test").event_type == (
        "command_applied"
    )
    try:
        fate = rejected(stack, signal(market, price=float(below_bid(stack, yes)), size=5))
        assert fate.data["rule"] == "kill_switch"
        assert numbers(fate) == {}
    finally:
        assert command(stack, "kill_switch", on=False).event_type == "command_applied"
    after = signal(market, price=float(below_bid(stack, yes)), size=5)
    stack.send(after)
    assert stack.fate(after.signal_id, "order_placed", "signal_rejected").event_type == (
        "order_placed"
    )


# ---- books from the feed: crossed, then stale ----------------------------------------------------
def publish_book(stack: Stack, market: dict[str, Any], token_id: str, bid: str, ask: str) -> None:
    stack.prices.publish(
        BookSnapshot(
            market_id=market["condition_id"],
            token_id=token_id,
            bids=[Level(float(bid), 100.0)],
            asks=[Level(float(ask), 100.0)],
            timestamp=wall_ms(),
        )
    )


def test_crossed_then_stale_feed_book(stack: Stack) -> None:
    market = stack.venue.tradable_markets(neg_risk=False, tick="0.01")[24]
    yes = market["tokens"][0]["token_id"]
    stack.prices.wait_for_peers(1, timeout=10.0)
    publish_book(stack, market, yes, bid="0.6", ask="0.4")

    # A SELL of shares we do not hold: refused either way, so nothing trades while the book is
    # on its way. Once the feed's book is in, the book rules come first.
    def crossed() -> Event | None:
        sig = signal(market, action="SELL_YES", price=0.5, size=10, signal_id=uuid.uuid4().hex)
        fate = rejected(stack, sig)
        return fate if fate.data["rule"] == "crossed_book" else None

    fate = None
    for _ in range(20):
        fate = crossed()
        if fate is not None:
            break
    assert fate is not None, "the crossed book published on prices.pub never reached the gate"
    assert numbers(fate) == {"best_bid": "0.6", "best_ask": "0.4"}

    # The feed goes quiet: its book is never replaced by a REST snapshot, it goes stale.
    set_limits(stack, stale_book_ms=1)
    stale = rejected(stack, signal(market, action="SELL_YES", price=0.5, size=10))
    assert stale.data["rule"] == "stale_book"
    got = numbers(stale)
    assert int(got["age_ms"]) > 1
    assert got["limit_ms"] == "1"


# ---- a new strategy starts in shadow -----------------------------------------------------------
def test_unknown_strategy_is_shadow_until_enabled_live(stack: Stack) -> None:
    market = stack.venue.tradable_markets(neg_risk=False, tick="0.01")[25]
    yes = market["tokens"][0]["token_id"]
    strategy = f"new-{uuid.uuid4().hex[:8]}"
    before = stack.venue.book(yes)
    ask = best(before, "asks")
    taker = signal(market, price=float(ask), size=5, strategy=strategy)

    stack.send(taker)

    fate = stack.fate(taker.signal_id, "signal_shadowed", "signal_accepted", "signal_rejected")
    assert fate.event_type == "signal_shadowed", fate.data
    assert fate.data["fate"] == "shadow"
    assert fate.data["would_be"] == "accepted"
    # Risk-checked too: a shadow signal that breaks a rule says which.
    too_big = signal(market, price=float(ask), size=5000, strategy=strategy)
    stack.send(too_big)
    judged = stack.fate(too_big.signal_id, "signal_shadowed", "signal_accepted", "signal_rejected")
    assert judged.event_type == "signal_shadowed"
    assert (judged.data["would_be"], judged.data["rule"]) == ("rejected", "max_order_notional")
    with stack.sessions() as session:
        for sig in (taker, too_big):
            assert session.scalar(select(Order).where(Order.signal_id == sig.signal_id)) is None
            entry = session.scalar(
                select(SignalJournalEntry).where(SignalJournalEntry.signal_id == sig.signal_id)
            )
            assert entry is not None
            assert (entry.reason or "").startswith("shadow:")
    assert stack.venue.book(yes)["asks"] == before["asks"]  # nothing reached the venue

    stack.set_mode(strategy, "live")
    live = signal(market, price=float(below_bid(stack, yes)), size=5, strategy=strategy)
    stack.send(live)
    placed = stack.fate(live.signal_id, "order_placed", "signal_shadowed", "signal_rejected")
    assert placed.event_type == "order_placed", placed.data
    assert command(stack, "cancel_all", strategy=strategy).data["result"]["canceled"] == 1


def test_hand_placed_orders_are_live_unless_shadowed(stack: Stack) -> None:
    market = stack.venue.tradable_markets(neg_risk=False, tick="0.01")[26]
    yes = market["tokens"][0]["token_id"]
    order = signal(market, price=float(below_bid(stack, yes)), size=5, strategy="manual")
    stack.send(order)
    placed = stack.fate(order.signal_id, "order_placed", "signal_shadowed", "signal_rejected")
    assert placed.event_type == "order_placed", placed.data
    assert command(stack, "cancel_all", strategy="manual").data["result"]["canceled"] == 1

    stack.set_mode("manual", "shadow")
    again = signal(market, price=float(below_bid(stack, yes)), size=5, strategy="manual")
    stack.send(again)
    shadowed = stack.fate(again.signal_id, "order_placed", "signal_shadowed", "signal_rejected")
    assert shadowed.event_type == "signal_shadowed", shadowed.data

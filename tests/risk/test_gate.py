"""The risk gate: each rule rejects with its name and numbers; exits are never blocked."""

from __future__ import annotations

from decimal import Decimal as D  # noqa: N817 - short numbers read better in tables of cases

import pytest

from polybot.risk import BookState, OrderIntent, Portfolio, Position, RiskLimits, check_order
from polybot.risk.gate import worst_case_event_loss

NOW = 1_800_000_000_000
FRESH = BookState(best_bid=D("0.44"), best_ask=D("0.46"), updated_ms=NOW - 100)
LIMITS = RiskLimits(
    max_order_notional=D(100),
    max_market_position=D(300),
    max_total_exposure=D(1000),
    max_daily_loss=D(50),
    max_open_orders=3,
    min_balance=D(10),
    max_event_exposure=D(200),
    stale_book_ms=5_000,
)
EMPTY = Portfolio(balance=D(1000), open_orders=0, daily_pnl=D(0))


def buy(size: str = "10", price: str = "0.45", **kwargs: object) -> OrderIntent:
    fields: dict[str, object] = {
        "market_id": "m1",
        "token_id": "y1",
        "side": "BUY",
        "price": D(price),
        "size": D(size),
    }
    fields.update(kwargs)
    return OrderIntent(**fields)  # type: ignore[arg-type]


def holding(
    market: str, token: str, shares: str, cost: str, event: str = "", outcome: int = 0
) -> Position:
    return Position(
        market_id=market,
        token_id=token,
        shares=D(shares),
        cost=D(cost),
        event_id=event,
        outcome_index=outcome,
    )


def test_a_plain_order_within_limits_passes() -> None:
    assert check_order(buy(), LIMITS, EMPTY, FRESH, NOW) is None


def test_kill_switch_rejects_everything() -> None:
    rejection = check_order(
        buy(), LIMITS.model_copy(update={"kill_switch": True}), EMPTY, FRESH, NOW
    )
    assert rejection is not None
    assert rejection.rule == "kill_switch"


@pytest.mark.parametrize(
    ("book", "rule"),
    [
        (None, "stale_book"),
        (BookState(best_bid=D("0.4"), best_ask=D("0.5"), updated_ms=NOW - 6_000), "stale_book"),
        (BookState(best_bid=D("0.5"), best_ask=D("0.5"), updated_ms=NOW), "crossed_book"),
        (BookState(best_bid=D("0.6"), best_ask=D("0.5"), updated_ms=NOW), "crossed_book"),
    ],
)
def test_no_trading_on_a_stale_or_crossed_book(book: BookState | None, rule: str) -> None:
    rejection = check_order(buy(), LIMITS, EMPTY, book, NOW)
    assert rejection is not None
    assert rejection.rule == rule


def test_stale_rejection_carries_the_age_and_the_limit() -> None:
    book = BookState(best_bid=D("0.4"), best_ask=D("0.5"), updated_ms=NOW - 6_000)
    rejection = check_order(buy(), LIMITS, EMPTY, book, NOW)
    assert rejection is not None
    assert rejection.numbers == {"age_ms": "6000", "limit_ms": "5000"}


def test_order_notional_limit_names_the_numbers() -> None:
    rejection = check_order(buy(size="250", price="0.5"), LIMITS, EMPTY, FRESH, NOW)
    assert rejection is not None
    assert (rejection.rule, rejection.numbers) == (
        "max_order_notional",
        {"notional": "125.0", "limit": "100"},
    )


def test_open_orders_limit() -> None:
    portfolio = Portfolio(balance=D(1000), open_orders=3, daily_pnl=D(0))
    rejection = check_order(buy(), LIMITS, portfolio, FRESH, NOW)
    assert rejection is not None
    assert rejection.rule == "max_open_orders"


def test_daily_loss_stops_buys_but_not_exits() -> None:
    losing = Portfolio(
        balance=D(1000),
        open_orders=0,
        daily_pnl=D(-50),
        positions={"y1": holding("m1", "y1", "100", "45")},
    )
    rejection = check_order(buy(), LIMITS, losing, FRESH, NOW)
    assert rejection is not None
    assert rejection.rule == "max_daily_loss"
    assert check_order(buy(side="SELL", size="100"), LIMITS, losing, FRESH, NOW) is None


def test_min_balance_after_the_buy() -> None:
    poor = Portfolio(balance=D("14"), open_orders=0, daily_pnl=D(0))
    rejection = check_order(buy(size="10", price="0.45"), LIMITS, poor, FRESH, NOW)
    assert rejection is not None
    assert rejection.rule == "min_balance"
    assert check_order(buy(size="8", price="0.45"), LIMITS, poor, FRESH, NOW) is None


def test_market_position_counts_held_cost_and_resting_buys() -> None:
    portfolio = Portfolio(
        balance=D(1000),
        open_orders=1,
        daily_pnl=D(0),
        positions={"y1": holding("m1", "y1", "400", "200")},
        open_buy_notional={"m1": D(60)},
    )
    rejection = check_order(buy(size="100", price="0.45"), LIMITS, portfolio, FRESH, NOW)
    assert rejection is not None
    assert rejection.rule == "max_market_position"
    assert rejection.numbers["market_cost"] == "305.00"
    other_market = buy(market_id="m2", token_id="y2", size="100", price="0.45")
    assert check_order(other_market, LIMITS, portfolio, FRESH, NOW) is None


def test_total_exposure_across_markets() -> None:
    positions = {f"y{i}": holding(f"m{i}", f"y{i}", "500", "250") for i in range(4)}
    portfolio = Portfolio(balance=D(5000), open_orders=0, daily_pnl=D(0), positions=positions)
    rejection = check_order(
        buy(market_id="m9", token_id="y9", size="100"), LIMITS, portfolio, FRESH, NOW
    )
    assert rejection is not None
    assert rejection.rule == "max_total_exposure"


def test_selling_more_than_held_is_rejected() -> None:
    portfolio = Portfolio(
        balance=D(0), open_orders=0, daily_pnl=D(0), positions={"y1": holding("m1", "y1", "5", "2")}
    )
    rejection = check_order(buy(side="SELL", size="6"), LIMITS, portfolio, FRESH, NOW)
    assert rejection is not None
    assert rejection.rule == "insufficient_shares"


def test_event_worst_case_counts_every_outcome() -> None:
    # Long YES of two markets of a 3-market event: if the third wins, both lose.
    positions = [holding("a", "ya", "100", "30", "ev"), holding("b", "yb", "100", "30", "ev")]
    intent = buy(
        market_id="c", token_id="yc", size="100", price="0.3", event_id="ev", event_markets=4
    )
    # cost 90; payouts: a wins 100, b wins 100, c wins 100, the 4th wins 0 -> worst loss 90
    assert worst_case_event_loss(positions, intent) == D("90.0")
    complete = buy(
        market_id="c", token_id="yc", size="100", price="0.3", event_id="ev", event_markets=3
    )
    # every market held: some YES always pays 100 -> a guaranteed gain (negative loss)
    assert worst_case_event_loss(positions, complete) == D("-10.0")


def test_event_exposure_rejects_a_concentrated_bet_but_passes_the_arbitrage() -> None:
    limits = LIMITS.model_copy(
        update={
            "max_event_exposure": D(50),
            "max_order_notional": D(1000),
            "max_market_position": D(1000),
        }
    )
    positions = {
        "ya": holding("a", "ya", "100", "30", "ev"),
        "yb": holding("b", "yb", "100", "30", "ev"),
    }
    portfolio = Portfolio(balance=D(1000), open_orders=0, daily_pnl=D(0), positions=positions)
    hedge = buy(
        market_id="c", token_id="yc", size="100", price="0.3", event_id="ev", event_markets=3
    )
    assert check_order(hedge, limits, portfolio, FRESH, NOW) is None
    unknown_size = buy(market_id="c", token_id="yc", size="100", price="0.3", event_id="ev")
    rejection = check_order(unknown_size, limits, portfolio, FRESH, NOW)
    assert rejection is not None
    assert (rejection.rule, rejection.numbers["worst_case_loss"]) == ("max_event_exposure", "90.0")


def test_no_in_a_neg_risk_event_pays_when_another_market_wins() -> None:
    positions = [holding("a", "na", "100", "70", "ev", outcome=1)]
    intent = buy(
        market_id="b",
        token_id="nb",
        size="100",
        price="0.7",
        event_id="ev",
        outcome_index=1,
        event_markets=3,
    )
    # NO a + NO b cost 140; a wins -> NO b pays 100; b wins -> NO a pays 100; c wins -> 200
    assert worst_case_event_loss(positions, intent) == D("40.0")

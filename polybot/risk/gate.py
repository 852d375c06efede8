"""The pre-trade risk gate: pure checks that say no with the rule and the numbers.

``check_order`` runs every rule in a fixed order and returns the first ``Rejection`` (or None).
Rules that limit exposure only stop orders that add exposure: a SELL of tokens we hold always
reduces it (Polymarket has no shorting: selling needs the tokens), so it passes those rules —
a trader over a limit can always get out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from polybot.risk.limits import RiskLimits

ZERO = Decimal(0)


@dataclass(frozen=True)
class OrderIntent:
    """The order the gate is asked about (exact amounts)."""

    market_id: str
    token_id: str
    side: Literal["BUY", "SELL"]
    price: Decimal
    size: Decimal
    event_id: str = ""  # neg-risk event the market belongs to ("" = none)
    outcome_index: int = 0  # 0 = YES (first outcome), 1 = NO
    event_markets: int = 0  # how many markets the event has (0 = unknown: assume more)

    @property
    def notional(self) -> Decimal:
        """Return price × size in pUSD."""
        return self.price * self.size


@dataclass(frozen=True)
class Position:
    """What we hold of one outcome token."""

    market_id: str
    token_id: str
    shares: Decimal
    cost: Decimal  # pUSD paid for the shares held (cost basis)
    event_id: str = ""
    outcome_index: int = 0


@dataclass(frozen=True)
class BookState:
    """What the gate needs to know about the token's book."""

    best_bid: Decimal | None
    best_ask: Decimal | None
    updated_ms: int


@dataclass(frozen=True)
class Portfolio:
    """Our side of the world when the order arrives."""

    balance: Decimal  # free pUSD
    open_orders: int
    daily_pnl: Decimal  # realized + unrealized since 00:00 UTC
    positions: Mapping[str, Position] = field(default_factory=dict)  # by token id
    open_buy_notional: Mapping[str, Decimal] = field(default_factory=dict)  # by market id


@dataclass(frozen=True)
class Rejection:
    """Why the gate said no: the rule's name, a sentence, and the numbers behind it."""

    rule: str
    detail: str
    numbers: dict[str, str]


def check_order(
    intent: OrderIntent,
    limits: RiskLimits,
    portfolio: Portfolio,
    book: BookState | None,
    now_ms: int,
) -> Rejection | None:
    """Return the first rule ``intent`` breaks, or None when it may go to the venue."""
    if limits.kill_switch:
        return _reject("kill_switch", "the kill switch is on: no new orders")
    book_problem = _check_book(book, limits, now_ms)
    if book_problem is not None:
        return book_problem
    if portfolio.open_orders >= limits.max_open_orders:
        return _reject(
            "max_open_orders",
            "too many open orders",
            open_orders=portfolio.open_orders,
            limit=limits.max_open_orders,
        )
    if intent.notional > limits.max_order_notional:
        return _reject(
            "max_order_notional",
            "order notional above the limit",
            notional=intent.notional,
            limit=limits.max_order_notional,
        )
    if intent.side == "SELL":
        return _check_sell(intent, portfolio)
    return _check_buy(intent, limits, portfolio)


def _check_book(book: BookState | None, limits: RiskLimits, now_ms: int) -> Rejection | None:
    if book is None:
        return _reject("stale_book", "no book for this token yet")
    age_ms = now_ms - book.updated_ms
    if age_ms > limits.stale_book_ms:
        return _reject(
            "stale_book", "the book is stale", age_ms=age_ms, limit_ms=limits.stale_book_ms
        )
    if book.best_bid is not None and book.best_ask is not None and book.best_bid >= book.best_ask:
        return _reject(
            "crossed_book", "the book is crossed", best_bid=book.best_bid, best_ask=book.best_ask
        )
    return None


def _check_sell(intent: OrderIntent, portfolio: Portfolio) -> Rejection | None:
    held = portfolio.positions.get(intent.token_id)
    shares = held.shares if held else ZERO
    if intent.size > shares:
        return _reject(
            "insufficient_shares", "selling more shares than held", size=intent.size, held=shares
        )
    return None


def _check_buy(intent: OrderIntent, limits: RiskLimits, portfolio: Portfolio) -> Rejection | None:
    if portfolio.daily_pnl <= -limits.max_daily_loss:
        return _reject(
            "max_daily_loss",
            "the UTC day's loss limit is reached",
            daily_pnl=portfolio.daily_pnl,
            limit=-limits.max_daily_loss,
        )
    if portfolio.balance - intent.notional < limits.min_balance:
        return _reject(
            "min_balance",
            "the order would take the balance below the minimum",
            balance=portfolio.balance,
            notional=intent.notional,
            min_balance=limits.min_balance,
        )
    market_cost = _market_cost(portfolio, intent.market_id) + intent.notional
    if market_cost > limits.max_market_position:
        return _reject(
            "max_market_position",
            "position in this market above the limit",
            market_cost=market_cost,
            limit=limits.max_market_position,
        )
    total = _total_cost(portfolio) + intent.notional
    if total > limits.max_total_exposure:
        return _reject(
            "max_total_exposure",
            "total exposure above the limit",
            exposure=total,
            limit=limits.max_total_exposure,
        )
    if intent.event_id:
        worst = worst_case_event_loss(portfolio.positions.values(), intent)
        if worst > limits.max_event_exposure:
            return _reject(
                "max_event_exposure",
                "worst-case loss over the neg-risk event above the limit",
                event_id=intent.event_id,
                worst_case_loss=worst,
                limit=limits.max_event_exposure,
            )
    return None


def worst_case_event_loss(positions: Iterable[Position], intent: OrderIntent) -> Decimal:
    """Return the largest loss over the mutually exclusive outcomes of ``intent``'s neg-risk event.

    In the scenario "market k resolves YES", YES of k pays 1 per share, NO of every other market
    pays 1 per share, everything else pays 0. Loss = cost paid − payout; the worst scenario is the
    one with the smallest payout. While some of the event's markets are not held (or the event's
    size is unknown), "another market wins" is a scenario too, in which no YES we hold pays.
    """
    rows = [
        (p.market_id, p.outcome_index, p.shares, p.cost)
        for p in positions
        if p.event_id == intent.event_id
    ]
    rows.append((intent.market_id, intent.outcome_index, intent.size, intent.notional))
    cost = sum((row[3] for row in rows), ZERO)
    markets = {row[0] for row in rows}
    scenarios: list[str | None] = list(markets)
    if intent.event_markets == 0 or len(markets) < intent.event_markets:
        scenarios.append(None)
    worst_payout = min(_payout(rows, winner) for winner in scenarios)
    return cost - worst_payout


def _payout(rows: list[tuple[str, int, Decimal, Decimal]], winner: str | None) -> Decimal:
    total = ZERO
    for market_id, outcome_index, shares, _ in rows:
        wins = (market_id == winner) == (outcome_index == 0)
        total += shares if wins else ZERO
    return total


def _market_cost(portfolio: Portfolio, market_id: str) -> Decimal:
    held = sum((p.cost for p in portfolio.positions.values() if p.market_id == market_id), ZERO)
    return held + portfolio.open_buy_notional.get(market_id, ZERO)


def _total_cost(portfolio: Portfolio) -> Decimal:
    held = sum((p.cost for p in portfolio.positions.values()), ZERO)
    return held + sum(portfolio.open_buy_notional.values(), ZERO)


def _reject(rule: str, detail: str, **numbers: object) -> Rejection:
    return Rejection(rule=rule, detail=detail, numbers={k: str(v) for k, v in numbers.items()})

"""The live pre-trade risk gate, run by the engine on every order a strategy places.

``polybot.risk.check_order`` is pure; this module builds its inputs from the engine's own state
the way the executor builds them from its ledger, so a backtest rejects what live would reject:

- ``Portfolio``: cash minus what resting and in-flight BUYs reserve; open orders counted as the
  executor counts them (acknowledged and not yet acknowledged); today's (UTC, engine clock)
  realized PnL plus the unrealized PnL of everything held, marked at mid (the executor's
  conservative choice); holdings at cost with their neg-risk event and outcome index.
- ``BookState``: the engine's book of the token (None before its first message), dated by the
  last venue timestamp seen for it.

Only orders pay for this: nothing here runs on the replay hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from polybot.core.money import to_decimal
from polybot.engine.book import NO_ASK, NO_BID
from polybot.model.market import Market
from polybot.risk import BookState, OrderIntent, Portfolio, Position, Rejection, check_order

if TYPE_CHECKING:
    from polybot.engine.engine import Engine, StrategyHost

_ZERO = Decimal(0)
_DAY_NS = 86_400 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class InFlight:
    """An order sent to the venue and not acknowledged yet (counts against the limits)."""

    market_id: str
    side: Literal["BUY", "SELL"]
    price: Decimal
    size: Decimal


def event_of(market: Market, token_id: str) -> tuple[str, int]:
    """Return the market's neg-risk event id ("" when none) and the token's outcome index."""
    event_id = market.neg_risk_market_id if market.neg_risk else ""
    for index, outcome in enumerate(market.outcomes):
        if outcome.asset_id == token_id:
            return event_id, index
    return event_id, 0


def check(
    engine: Engine,
    host: StrategyHost,
    market: Market,
    token_id: str,
    side: Literal["BUY", "SELL"],
    price: Decimal,
    size: Decimal,
) -> Rejection | None:
    """Run the shared gate on one order of ``host``; return the rejection or None."""
    assert engine.risk is not None
    event_id, index = event_of(market, token_id)
    intent = OrderIntent(
        market_id=market.condition_id,
        token_id=token_id,
        side=side,
        price=price,
        size=size,
        event_id=event_id,
        outcome_index=index,
    )
    now_ms = engine.now_ns // 1_000_000
    return check_order(
        intent, engine.risk, portfolio_of(engine, host), book_state(engine, token_id), now_ms
    )


def book_state(engine: Engine, token_id: str) -> BookState | None:
    """Return the gate's view of the engine's book of ``token_id`` (None before any message)."""
    code = engine._codes.get(token_id)
    if code is None:
        return None
    book = engine._books[code]
    if book.timestamp_ms == 0:
        return None
    return BookState(
        best_bid=None if book.best_bid_px == NO_BID else to_decimal(book.best_bid_px),
        best_ask=None if book.best_ask_px == NO_ASK else to_decimal(book.best_ask_px),
        updated_ms=book.timestamp_ms,
    )


def portfolio_of(engine: Engine, host: StrategyHost) -> Portfolio:
    """Return the gate's view of ``host``'s account at engine time."""
    account = host.portfolio
    by_market: dict[str, Decimal] = {}
    for order in host.orders.values():
        if order.side == "BUY":
            rest = order.price * (order.original_size - order.size_matched)
            by_market[order.market_id] = by_market.get(order.market_id, _ZERO) + rest
    pending = [o for cid, o in host.inflight.items() if cid not in host.orders]
    for flight in pending:
        if flight.side == "BUY":
            rest = flight.price * flight.size
            by_market[flight.market_id] = by_market.get(flight.market_id, _ZERO) + rest
    reserved = sum(by_market.values(), _ZERO)
    positions: dict[str, Position] = {}
    unrealized = _ZERO
    for token, shares in account.positions.items():
        avg = account.avg_cost.get(token, _ZERO)
        market = engine._token_market.get(token)
        market_id = account.token_market.get(token) or (market.condition_id if market else "")
        event_id, index = event_of(market, token) if market is not None else ("", 0)
        positions[token] = Position(
            market_id=market_id,
            token_id=token,
            shares=shares,
            cost=shares * avg,
            event_id=event_id,
            outcome_index=index,
        )
        code = engine._codes.get(token)
        mid = engine._books[code].mid if code is not None else None
        if mid is not None:
            unrealized += (to_decimal(mid) - avg) * shares
    return Portfolio(
        balance=account.cash - reserved,
        open_orders=len(host.orders) + len(pending),
        daily_pnl=_realized_today(host, engine.now_ns) + unrealized,
        positions=positions,
        open_buy_notional=by_market,
    )


def _realized_today(host: StrategyHost, now_ns: int) -> Decimal:
    day_start = now_ns - now_ns % _DAY_NS
    total = _ZERO
    for trade in reversed(host.portfolio.closed):  # booked in time order: stop at yesterday
        if trade.ts_ns < day_start:
            break
        total += trade.pnl
    return total

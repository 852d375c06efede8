"""Positions, fills and PnL in ``polybot.db``, and the risk gate's view of our side of the world.

Accounting (average cost, per account × strategy × token):

* a BUY of ``s`` at ``p`` moves the average price to the size-weighted mean; its fee is booked as
  realized PnL (``−fee``) and in ``fees_paid``;
* a SELL realizes ``s × (p − avg) − fee``;
* each fill is one ``trades`` row carrying the PnL it realized, so the UTC day's realized PnL is a
  sum over ``traded_at >= 00:00 UTC``;
* unrealized PnL marks what is held at the book's mid (at the average price when no book).

``record_fill`` is idempotent on (fill id, client order id): the user channel, the REST trades
used by reconciliation and a restarted executor can all report the same fill; it counts once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from polybot.bus.messages import Fill
from polybot.risk import Portfolio
from polybot.risk import Position as RiskPosition
from polybot.storage.models import Order, OrderStatus, Position, Trade

ZERO = Decimal(0)
Mark = Callable[[str], Decimal | None]
Describe = Callable[[str, str], tuple[str, int]]


@dataclass(frozen=True, slots=True)
class PnL:
    """Realized (net of fees), unrealized, and the UTC day's total."""

    realized: Decimal
    unrealized: Decimal
    daily: Decimal
    fees: Decimal


class Ledger:
    """Fills, positions and PnL of one account."""

    def __init__(self, sessions: sessionmaker[Session], *, account: str) -> None:
        self.sessions = sessions
        self.account = account

    def record_fill(self, fill: Fill, order: Order) -> bool:
        """Book one fill of ``order`` (trade row, position, order totals); False if known already."""
        with self.sessions.begin() as session:
            known = session.scalar(
                select(Trade).where(
                    Trade.fill_id == fill.fill_id, Trade.client_order_id == order.client_order_id
                )
            )
            if known is not None:
                if known.status != fill.status:
                    known.status = fill.status
                return False
            realized = self._apply(session, fill, order.strategy)
            session.add(
                Trade(
                    fill_id=fill.fill_id,
                    order_id=order.id,
                    client_order_id=order.client_order_id,
                    venue_order_id=order.venue_order_id or "",
                    strategy=order.strategy,
                    account=self.account,
                    market_id=fill.market_id,
                    token_id=fill.token_id,
                    side=fill.side,
                    price=fill.price,
                    size=fill.size,
                    fee=fill.fee,
                    liquidity=fill.liquidity,
                    status=fill.status,
                    realized_pnl=realized,
                    traded_at=_when(fill.timestamp),
                )
            )
            row = session.get(Order, order.id)
            assert row is not None
            previous = row.size_matched
            row.size_matched = previous + fill.size
            row.fees_paid = row.fees_paid + fill.fee
            avg = row.avg_fill_price or ZERO
            row.avg_fill_price = (avg * previous + fill.price * fill.size) / row.size_matched
            return True

    def _apply(self, session: Session, fill: Fill, strategy: str) -> Decimal:
        position = session.scalar(
            select(Position).where(
                Position.account == self.account,
                Position.strategy == strategy,
                Position.token_id == fill.token_id,
            )
        )
        if position is None:
            position = Position(
                account=self.account,
                strategy=strategy,
                market_id=fill.market_id,
                token_id=fill.token_id,
                size=ZERO,
                avg_price=ZERO,
                realized_pnl=ZERO,
                fees_paid=ZERO,
            )
            session.add(position)
        realized = -fill.fee
        if fill.side == "BUY":
            total = position.size + fill.size
            position.avg_price = (
                position.avg_price * position.size + fill.price * fill.size
            ) / total
            position.size = total
        else:
            closing = min(fill.size, max(position.size, ZERO))
            realized += closing * (fill.price - position.avg_price)
            position.size = position.size - fill.size
            if position.size <= 0:
                position.avg_price = ZERO
        position.realized_pnl = position.realized_pnl + realized
        position.fees_paid = position.fees_paid + fill.fee
        return realized

    def positions(self) -> list[Position]:
        """Return every non-empty position of the account."""
        with self.sessions() as session:
            rows = session.scalars(
                select(Position).where(Position.account == self.account, Position.size != ZERO)
            )
            return [p for p in rows if p.size != 0]

    def pnl(self, mark: Mark, now: datetime | None = None) -> PnL:
        """Return realized, unrealized and today's (UTC) PnL, marking holdings with ``mark``."""
        today = (now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
        with self.sessions() as session:
            realized = _sum(
                session.scalars(
                    select(Position.realized_pnl).where(Position.account == self.account)
                )
            )
            fees = _sum(
                session.scalars(select(Position.fees_paid).where(Position.account == self.account))
            )
            daily_realized = _sum(
                session.scalars(
                    select(Trade.realized_pnl).where(
                        Trade.account == self.account, Trade.traded_at >= today
                    )
                )
            )
        unrealized = ZERO
        for position in self.positions():
            price = mark(position.token_id)
            if price is not None:
                unrealized += (price - position.avg_price) * position.size
        # Without a mark history, today's PnL counts all unrealized PnL of what is held now: the
        # conservative choice for a loss limit (an old loss still weighs on today).
        return PnL(realized, unrealized, daily_realized + unrealized, fees)

    def risk_view(self, balance: Decimal, mark: Mark, describe: Describe) -> Portfolio:
        """Return the risk gate's ``Portfolio``: holdings by token, open orders, free balance.

        ``describe(market_id, token_id)`` gives a holding's neg-risk event id and outcome index.
        The free balance is the venue balance minus what our resting BUYs have reserved.
        """
        held: dict[str, RiskPosition] = {}
        for position in self.positions():
            event_id, index = describe(position.market_id, position.token_id)
            current = held.get(position.token_id)
            shares = position.size + (current.shares if current else ZERO)
            cost = position.size * position.avg_price + (current.cost if current else ZERO)
            held[position.token_id] = RiskPosition(
                market_id=position.market_id,
                token_id=position.token_id,
                shares=shares,
                cost=cost,
                event_id=event_id,
                outcome_index=index,
            )
        open_orders, reserved, by_market = self._open_orders()
        return Portfolio(
            balance=balance - reserved,
            open_orders=open_orders,
            daily_pnl=self.pnl(mark).daily,
            positions=held,
            open_buy_notional=by_market,
        )

    def _open_orders(self) -> tuple[int, Decimal, dict[str, Decimal]]:
        with self.sessions() as session:
            rows = list(
                session.scalars(
                    select(Order).where(
                        Order.account == self.account,
                        Order.status.in_([OrderStatus.PENDING_SUBMIT, OrderStatus.LIVE]),
                    )
                )
            )
        by_market: dict[str, Decimal] = {}
        for order in rows:
            if order.side == "BUY":
                rest = order.price * (order.original_size - order.size_matched)
                by_market[order.market_id] = by_market.get(order.market_id, ZERO) + rest
        return len(rows), sum(by_market.values(), ZERO), by_market

    def trade_count(self) -> int:
        """Return how many fills are booked for the account."""
        with self.sessions() as session:
            return int(
                session.scalar(
                    select(func.count()).select_from(Trade).where(Trade.account == self.account)
                )
                or 0
            )


def _sum(values: object) -> Decimal:
    total = ZERO
    for value in values:  # type: ignore[attr-defined]
        if value is not None:
            total += value
    return total


def _when(timestamp_ms: int) -> datetime:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC) if timestamp_ms else datetime.now(UTC)

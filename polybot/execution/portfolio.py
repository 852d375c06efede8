"""Positions, fills and PnL in ``polybot.db``, and the risk gate's view of our side of the world.

Accounting (average cost, per account × strategy × token):

* a BUY of ``s`` at ``p`` moves the average price to the size-weighted mean; its fee is booked as
  realized PnL (``−fee``) and in ``fees_paid``;
* a SELL realizes ``s × (p − avg) − fee``;
* each fill is one ``trades`` row carrying the PnL it realized, so the UTC day's realized PnL is a
  sum over ``traded_at >= 00:00 UTC``;
* unrealized PnL marks what is held at the book's mid (at the average price when no book);
* today's PnL is today's realized PnL plus the change of unrealized PnL since the day's first
  valuation.

``record_fill`` is idempotent on (fill id, client order id): the user channel, the REST trades
used by reconciliation and a restarted executor can all report the same fill; it counts once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from polybot.bus.messages import Fill
from polybot.risk import Portfolio
from polybot.risk import Position as RiskPosition
from polybot.storage.models import Order, Position, Trade

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
    """Fills, positions and PnL of one account.

    SQLite is the record; the ledger also keeps the account's positions and PnL totals in memory
    (loaded at start, moved by each booked fill), so the risk gate's view costs no query.
    """

    def __init__(self, sessions: sessionmaker[Session], *, account: str) -> None:
        self.sessions = sessions
        self.account = account
        self._positions: dict[tuple[str, str], Position] = {}  # (strategy, token) -> row copy
        self._realized = ZERO
        self._fees = ZERO
        self._day = _utc_day(datetime.now(UTC))
        self._day_realized = ZERO
        self._held_at_open: set[tuple[str, str]] = set()  # positions held when the day began
        self._open_unrealized: dict[tuple[str, str], Decimal] = {}  # their first marks today
        self._load()

    def _load(self) -> None:
        with self.sessions() as session:
            for position in session.scalars(
                select(Position).where(Position.account == self.account)
            ):
                self._positions[(position.strategy, position.token_id)] = position
                self._realized += position.realized_pnl
                self._fees += position.fees_paid
            self._day_realized = self._realized_since(session, self._day)
        self._held_at_open = {key for key, p in self._positions.items() if p.size != 0}

    def _realized_since(self, session: Session, day: datetime) -> Decimal:
        return _sum(
            session.scalars(
                select(Trade.realized_pnl).where(
                    Trade.account == self.account, Trade.traded_at >= day
                )
            )
        )

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
            position, realized = self._apply(session, fill, order.strategy)
            traded_at = _when(fill.timestamp)
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
                    traded_at=traded_at,
                )
            )
            row = session.get(Order, order.id)
            assert row is not None
            previous = row.size_matched
            row.size_matched = previous + fill.size
            row.fees_paid = row.fees_paid + fill.fee
            avg = row.avg_fill_price or ZERO
            row.avg_fill_price = (avg * previous + fill.price * fill.size) / row.size_matched
        # Committed: now the in-memory view may move.
        self._positions[(order.strategy, fill.token_id)] = position
        self._realized += realized
        self._fees += fill.fee
        if traded_at >= self._day:
            self._day_realized += realized
        return True

    def _apply(self, session: Session, fill: Fill, strategy: str) -> tuple[Position, Decimal]:
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
        return position, realized

    def positions(self) -> list[Position]:
        """Return every non-empty position of the account."""
        return [p for p in self._positions.values() if p.size != 0]

    def pnl(self, mark: Mark, now: datetime | None = None) -> PnL:
        """Return realized, unrealized and today's (UTC) PnL, marking holdings with ``mark``.

        Today's PnL is what the account made since 00:00 UTC: the realized PnL of today's fills
        plus how the unrealized PnL moved today — for a position held when the day began, since
        its first mark of the day (at start, or when the day rolled over); for one opened today,
        all of it. So a loss carried from yesterday does not count against today's limit again.
        """
        day = _utc_day(now or datetime.now(UTC))
        if day != self._day:
            self._day = day
            with self.sessions() as session:
                self._day_realized = self._realized_since(session, day)
            self._held_at_open = {key for key, p in self._positions.items() if p.size != 0}
            self._open_unrealized = {}
        unrealized = moved = ZERO
        for key, position in self._positions.items():
            if position.size == 0:
                value = ZERO  # closed: what it made is in the realized PnL now
            else:
                price = mark(position.token_id)
                if price is None:
                    continue  # unmarked: valued at cost until a mark arrives
                value = (price - position.avg_price) * position.size
                unrealized += value
            if key not in self._held_at_open:
                start = ZERO  # opened today: all of its PnL is today's
            elif position.size != 0:
                start = self._open_unrealized.setdefault(key, value)
            else:
                start = self._open_unrealized.get(key, ZERO)
            moved += value - start
        return PnL(self._realized, unrealized, self._day_realized + moved, self._fees)

    def risk_view(
        self, balance: Decimal, mark: Mark, describe: Describe, open_orders: Sequence[Order]
    ) -> Portfolio:
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
        by_market: dict[str, Decimal] = {}
        for order in open_orders:
            if order.side == "BUY":
                rest = order.price * (order.original_size - order.size_matched)
                by_market[order.market_id] = by_market.get(order.market_id, ZERO) + rest
        reserved = sum(by_market.values(), ZERO)
        return Portfolio(
            balance=balance - reserved,
            open_orders=len(open_orders),
            daily_pnl=self.pnl(mark).daily,
            positions=held,
            open_buy_notional=by_market,
        )

    def trade_count(self) -> int:
        """Return how many fills are booked for the account."""
        with self.sessions() as session:
            return int(
                session.scalar(
                    select(func.count()).select_from(Trade).where(Trade.account == self.account)
                )
                or 0
            )


def _utc_day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _sum(values: object) -> Decimal:
    total = ZERO
    for value in values:  # type: ignore[attr-defined]
        if value is not None:
            total += value
    return total


def _when(timestamp_ms: int) -> datetime:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC) if timestamp_ms else datetime.now(UTC)

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

Two more things move a position (each once, each persisted in the same commit as the position):

* **settlement** (``settle``): when its market resolves, a position is closed at 1 pUSD per
  winning share and 0 per losing one, realizing ``size × (payout − avg)`` (a ``settlements`` row;
  the resolution itself is a ``market_resolutions`` row, the first winner stands). A position
  already flat settles nothing, so a resolution seen twice, or again after a restart, is a no-op;
  a fill booked later in a resolved market is settled at once;
* **reversal** (``book`` with a FAILED fill): a fill booked when MATCHED whose trade the venue
  later marks FAILED is undone. The position is replayed from its fills in booking order without
  the failed ones (settlements at their place), so it becomes exactly what it would have been had
  the fill never happened; the differences (size, realized PnL, fees, cash) are a
  ``fill_reversals`` row, unique per trade. A fill first seen FAILED is recorded, never applied.

Realized PnL therefore is, per position and over any time window, the sum of its fills'
``realized_pnl``, its settlements' and its reversals' (by ``traded_at``, ``settled_at``,
``reversed_at``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from polybot.bus.messages import Fill
from polybot.risk import Portfolio
from polybot.risk import Position as RiskPosition
from polybot.storage.models import (
    FillReversal,
    MarketResolution,
    Order,
    Position,
    Settlement,
    Trade,
)

log = logging.getLogger(__name__)

ZERO = Decimal(0)
ONE = Decimal(1)
FAILED = "FAILED"  # the venue's terminal trade status for a match that did not settle on chain
Mark = Callable[[str], Decimal | None]
Describe = Callable[[str, str], tuple[str, int]]


@dataclass(frozen=True, slots=True)
class PnL:
    """Realized (net of fees), unrealized, and the UTC day's total."""

    realized: Decimal
    unrealized: Decimal
    daily: Decimal
    fees: Decimal


@dataclass(slots=True)
class Book:
    """The average-cost arithmetic of one position (the one place it is written down)."""

    size: Decimal = ZERO
    avg_price: Decimal = ZERO
    realized: Decimal = ZERO
    fees: Decimal = ZERO

    @classmethod
    def of(cls, position: Position) -> Book:
        """Return the book of a stored position."""
        return cls(position.size, position.avg_price, position.realized_pnl, position.fees_paid)

    def fill(self, side: str, price: Decimal, size: Decimal, fee: Decimal) -> Decimal:
        """Apply one fill; return the PnL it realized (net of its fee)."""
        realized = -fee
        if side == "BUY":
            total = self.size + size
            self.avg_price = (
                (self.avg_price * self.size + price * size) / total if total != 0 else ZERO
            )
            self.size = total
        else:
            closing = min(size, max(self.size, ZERO))
            realized += closing * (price - self.avg_price)
            self.size = self.size - size
            if self.size <= 0:
                self.avg_price = ZERO
        self.realized += realized
        self.fees += fee
        return realized

    def settle(self, payout_price: Decimal) -> Decimal:
        """Close the position at ``payout_price`` (1 won, 0 lost); return the PnL realized."""
        realized = self.size * (payout_price - self.avg_price)
        self.size = ZERO
        self.avg_price = ZERO
        self.realized += realized
        return realized

    def store(self, position: Position) -> None:
        """Write this book into a position row."""
        position.size = self.size
        position.avg_price = self.avg_price
        position.realized_pnl = self.realized
        position.fees_paid = self.fees


@dataclass(frozen=True, slots=True)
class Settled:
    """One position closed by its market's resolution."""

    settlement_id: int
    strategy: str
    market_id: str
    token_id: str
    winning_token_id: str
    winning_outcome: str
    shares: Decimal
    avg_price: Decimal
    payout_price: Decimal
    payout: Decimal  # what redeeming the shares at the venue pays
    realized_pnl: Decimal
    position_realized_pnl: Decimal  # the position's realized PnL after the settlement
    source: str
    resolved_at: datetime


@dataclass(frozen=True, slots=True)
class Reversal:
    """A booked fill undone because its trade FAILED: what the reversal moved."""

    reversal_id: int
    fill_id: str
    client_order_id: str
    strategy: str
    market_id: str
    token_id: str
    size_delta: Decimal
    realized_pnl: Decimal
    fees_delta: Decimal
    cash_delta: Decimal  # free collateral given back (BUY) or taken back (SELL)
    position_size: Decimal
    position_avg_price: Decimal
    position_realized_pnl: Decimal
    reversed_at: datetime


@dataclass(frozen=True, slots=True)
class Booking:
    """What ``Ledger.book`` did with one fill report."""

    applied: bool = False  # a new fill moved the position
    reversal: Reversal | None = None  # a booked fill was undone (its trade FAILED)


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
        self._resolved: dict[str, str] = {}  # market id -> winning token, as applied
        self._load()

    def _load(self) -> None:
        with self.sessions() as session:
            for position in session.scalars(
                select(Position).where(Position.account == self.account)
            ):
                self._positions[(position.strategy, position.token_id)] = position
                self._realized += position.realized_pnl
                self._fees += position.fees_paid
            for resolution in session.scalars(
                select(MarketResolution).where(MarketResolution.account == self.account)
            ):
                self._resolved[resolution.market_id] = resolution.winning_token_id
            self._day_realized = self._realized_since(session, self._day)
        self._held_at_open = {key for key, p in self._positions.items() if p.size != 0}

    def _realized_since(self, session: Session, day: datetime) -> Decimal:
        return realized_since(session, self.account, day)

    def record_fill(self, fill: Fill, order: Order) -> bool:
        """Book one fill of ``order`` (trade row, position, order totals); False if known already.

        A FAILED report of a booked fill reverses it (see ``book``, which also says so).
        """
        return self.book(fill, order).applied

    def book(self, fill: Fill, order: Order) -> Booking:
        """Book one fill report of ``order``: a new fill, a status change, or a FAILED trade.

        New: a trade row, the position and the order's totals move (one commit). Known: its status
        follows the venue's (FAILED stays FAILED). FAILED for a fill that was applied: the fill is
        reversed, once. A fill first seen FAILED is recorded and never applied.
        """
        failed = fill.status == FAILED
        with self.sessions.begin() as session:
            known = session.scalar(
                select(Trade).where(
                    Trade.fill_id == fill.fill_id, Trade.client_order_id == order.client_order_id
                )
            )
            if known is not None:
                if known.status == FAILED or known.status == fill.status:
                    return Booking()
                if not failed:
                    known.status = fill.status
                    return Booking()
                known.status = FAILED
                position, reversal = self._reverse(session, known)
            else:
                if failed:
                    session.add(self._trade_row(fill, order, ZERO))
                    log.info(
                        "fill %s of %s arrived FAILED: recorded, not applied",
                        fill.fill_id,
                        order.client_order_id,
                    )
                    return Booking()
                position, realized = self._apply(session, fill, order.strategy)
                traded_at = _when(fill.timestamp)
                session.add(self._trade_row(fill, order, realized, traded_at))
                row = session.get(Order, order.id)
                assert row is not None
                previous = row.size_matched
                row.size_matched = previous + fill.size
                row.fees_paid = row.fees_paid + fill.fee
                avg = row.avg_fill_price or ZERO
                row.avg_fill_price = (avg * previous + fill.price * fill.size) / row.size_matched
                reversal = None
        # Committed: now the in-memory view may move.
        self._positions[(position.strategy, position.token_id)] = position
        if reversal is not None:
            self._moved(reversal.realized_pnl, reversal.fees_delta, reversal.reversed_at)
            return Booking(reversal=reversal)
        self._moved(realized, fill.fee, traded_at)
        return Booking(applied=True)

    def _moved(self, realized: Decimal, fees: Decimal, when: datetime) -> None:
        self._realized += realized
        self._fees += fees
        if when >= self._day:
            self._day_realized += realized

    def _trade_row(
        self, fill: Fill, order: Order, realized: Decimal, traded_at: datetime | None = None
    ) -> Trade:
        return Trade(
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
            traded_at=traded_at or _when(fill.timestamp),
        )

    def _reverse(self, session: Session, trade: Trade) -> tuple[Position, Reversal]:
        """Undo a booked fill (its row is already FAILED): replay the position without it."""
        position = self._position(session, trade.strategy, trade.market_id, trade.token_id)
        before = Book.of(position)
        after = self._replay(session, trade.strategy, trade.token_id)
        after.store(position)
        notional = trade.price * trade.size
        cash = notional + trade.fee if trade.side == "BUY" else -notional + trade.fee
        row = FillReversal(
            trade_id=trade.id,
            fill_id=trade.fill_id,
            client_order_id=trade.client_order_id,
            account=self.account,
            strategy=trade.strategy,
            market_id=trade.market_id,
            token_id=trade.token_id,
            side=trade.side,
            price=trade.price,
            size=trade.size,
            fee=trade.fee,
            size_delta=after.size - before.size,
            realized_pnl=after.realized - before.realized,
            fees_delta=after.fees - before.fees,
            cash_delta=cash,
            reversed_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        return position, Reversal(
            reversal_id=row.id,
            fill_id=trade.fill_id,
            client_order_id=trade.client_order_id,
            strategy=trade.strategy,
            market_id=trade.market_id,
            token_id=trade.token_id,
            size_delta=row.size_delta,
            realized_pnl=row.realized_pnl,
            fees_delta=row.fees_delta,
            cash_delta=cash,
            position_size=after.size,
            position_avg_price=after.avg_price,
            position_realized_pnl=after.realized,
            reversed_at=row.reversed_at,
        )

    def _replay(self, session: Session, strategy: str, token_id: str) -> Book:
        """Rebuild a position from its fills in booking order, skipping FAILED ones.

        Each settlement is applied where it happened: after the trade rows it followed.
        """
        where = (
            Trade.account == self.account,
            Trade.strategy == strategy,
            Trade.token_id == token_id,
        )
        trades = session.scalars(select(Trade).where(*where).order_by(Trade.id)).all()
        settlements = list(
            session.scalars(
                select(Settlement)
                .where(
                    Settlement.account == self.account,
                    Settlement.strategy == strategy,
                    Settlement.token_id == token_id,
                )
                .order_by(Settlement.id)
            )
        )
        book = Book()
        for trade in trades:
            while settlements and settlements[0].after_trade_id < trade.id:
                book.settle(settlements.pop(0).payout_price)
            if trade.status != FAILED:
                book.fill(trade.side, trade.price, trade.size, trade.fee)
        for settlement in settlements:
            book.settle(settlement.payout_price)
        return book

    def _position(self, session: Session, strategy: str, market_id: str, token_id: str) -> Position:
        position = session.scalar(
            select(Position).where(
                Position.account == self.account,
                Position.strategy == strategy,
                Position.token_id == token_id,
            )
        )
        if position is None:
            position = Position(
                account=self.account,
                strategy=strategy,
                market_id=market_id,
                token_id=token_id,
                size=ZERO,
                avg_price=ZERO,
                realized_pnl=ZERO,
                fees_paid=ZERO,
            )
            session.add(position)
        return position

    # ---- resolution ---------------------------------------------------------------------------
    def resolution(self, market_id: str) -> str | None:
        """Return the winning token of a market this ledger saw resolve, else None."""
        return self._resolved.get(market_id)

    def held_markets(self) -> set[str]:
        """Return the markets where the account holds (or owes) shares."""
        return {p.market_id for p in self._positions.values() if p.size != 0}

    def settle(
        self,
        market_id: str,
        winning_token_id: str,
        *,
        winning_outcome: str = "",
        source: str = "",
        resolved_at: datetime | None = None,
    ) -> list[Settled]:
        """Apply a market's resolution: close every position held in it (one commit); idempotent.

        The first resolution recorded for the market stands (a different winner later is logged
        and ignored). Positions already flat settle nothing, so a repeat returns ``[]``.
        """
        now = datetime.now(UTC)
        settled: list[tuple[Settlement, Position]] = []
        with self.sessions.begin() as session:
            resolution = session.scalar(
                select(MarketResolution).where(
                    MarketResolution.account == self.account,
                    MarketResolution.market_id == market_id,
                )
            )
            if resolution is None:
                resolution = MarketResolution(
                    account=self.account,
                    market_id=market_id,
                    winning_token_id=winning_token_id,
                    winning_outcome=winning_outcome,
                    source=source,
                    resolved_at=resolved_at or now,
                )
                session.add(resolution)
            elif resolution.winning_token_id != winning_token_id:
                log.warning(
                    "market %s: resolution to %s ignored; it resolved to %s (%s) already",
                    market_id,
                    winning_token_id,
                    resolution.winning_token_id,
                    resolution.source,
                )
                return []
            held = session.scalars(
                select(Position)
                .where(Position.account == self.account, Position.market_id == market_id)
                .order_by(Position.id)
            ).all()
            for position in held:
                if position.size == 0:
                    continue
                last_trade = session.scalar(
                    select(func.max(Trade.id)).where(
                        Trade.account == self.account,
                        Trade.strategy == position.strategy,
                        Trade.token_id == position.token_id,
                    )
                )
                book = Book.of(position)
                shares, avg = book.size, book.avg_price
                payout_price = ONE if position.token_id == resolution.winning_token_id else ZERO
                realized = book.settle(payout_price)
                book.store(position)
                row = Settlement(
                    account=self.account,
                    strategy=position.strategy,
                    market_id=market_id,
                    token_id=position.token_id,
                    winning_token_id=resolution.winning_token_id,
                    shares=shares,
                    avg_price=avg,
                    payout_price=payout_price,
                    payout=shares * payout_price,
                    realized_pnl=realized,
                    after_trade_id=int(last_trade or 0),
                    source=source,
                    settled_at=now,
                )
                session.add(row)
                settled.append((row, position))
            session.flush()
            winner = resolution.winning_token_id
            outcome = resolution.winning_outcome
            when = resolution.resolved_at
        # Committed: now the in-memory view may move.
        self._resolved[market_id] = winner
        out: list[Settled] = []
        for row, position in settled:
            self._positions[(position.strategy, position.token_id)] = position
            self._moved(row.realized_pnl, ZERO, now)
            out.append(
                Settled(
                    settlement_id=row.id,
                    strategy=row.strategy,
                    market_id=market_id,
                    token_id=row.token_id,
                    winning_token_id=winner,
                    winning_outcome=outcome,
                    shares=row.shares,
                    avg_price=row.avg_price,
                    payout_price=row.payout_price,
                    payout=row.payout,
                    realized_pnl=row.realized_pnl,
                    position_realized_pnl=position.realized_pnl,
                    source=source,
                    resolved_at=when,
                )
            )
        return out

    def _apply(self, session: Session, fill: Fill, strategy: str) -> tuple[Position, Decimal]:
        position = self._position(session, strategy, fill.market_id, fill.token_id)
        book = Book.of(position)
        realized = book.fill(fill.side, fill.price, fill.size, fill.fee)
        book.store(position)
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


def realized_since(session: Session, account: str | None, since: datetime) -> Decimal:
    """Return the PnL realized since ``since``: fills, settlements and reversals (all accounts
    when ``account`` is None)."""
    total = ZERO
    for column, stamp, owner in (
        (Trade.realized_pnl, Trade.traded_at, Trade.account),
        (Settlement.realized_pnl, Settlement.settled_at, Settlement.account),
        (FillReversal.realized_pnl, FillReversal.reversed_at, FillReversal.account),
    ):
        query = select(column).where(stamp >= since)
        if account is not None:
            query = query.where(owner == account)
        total += _sum(session.scalars(query))
    return total


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

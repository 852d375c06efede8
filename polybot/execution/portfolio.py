"""Positions, fills and PnL of one account in ``polybot.db``: the ledger.

Each fill is one ``trades`` row carrying the PnL it realized (the average-cost arithmetic is
``average_cost.Book``), so the UTC day's realized PnL is a sum over ``traded_at >= 00:00 UTC``.
``record_fill`` is idempotent on (fill id, client order id): the user channel, the REST trades
used by reconciliation and a restarted executor can all report the same fill; it counts once.

Two more things move a position (each once, each persisted in the same commit as the position):

* **settlement** (``settle``, rows in ``resolutions``): when its market resolves, a position is
  closed at its payout price — 1 pUSD per winning share, 0 per losing one, 0.5 per share of
  either token when the market resolved 50/50 — realizing ``size × (payout − avg)``. A position
  already flat settles nothing, so a resolution seen twice, or again after a restart, is a
  no-op; a fill booked later in a resolved market is settled at once;
* **reversal** (``book`` with a FAILED fill, see ``reversals``): a fill booked when MATCHED whose
  trade the venue later marks FAILED is undone by replaying the position without it; a fill
  first seen FAILED is recorded, never applied.

Realized PnL therefore is, per position and over any time window, the sum of its fills'
``realized_pnl``, its settlements' and its reversals' (``realized_since``). Today's PnL and the
risk gate's view are ``pnl_tracker`` and ``risk_view``; the names they define are re-exported
here for the ledger's users.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from polybot.bus.messages import Fill
from polybot.execution.average_cost import ZERO, Book
from polybot.execution.pnl_days import PnLDays
from polybot.execution.pnl_tracker import Mark, PnL, PnLTracker
from polybot.execution.resolutions import Settled, settle_market
from polybot.execution.reversals import FAILED, Reversal, reverse
from polybot.execution.risk_view import Describe, risk_portfolio
from polybot.risk import Portfolio
from polybot.storage.models import MarketResolution, Order, Position, Trade
from polybot.storage.realized import realized_since

__all__ = [
    "FAILED",
    "Book",
    "Booking",
    "Describe",
    "Ledger",
    "Mark",
    "PnL",
    "Reversal",
    "Settled",
    "realized_since",
]

log = logging.getLogger(__name__)


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
        self._resolved: dict[str, str] = {}  # market id -> winning token (NO_WINNER: split)
        realized = fees = ZERO
        with self.sessions() as session:
            for position in session.scalars(select(Position).where(Position.account == account)):
                self._positions[(position.strategy, position.token_id)] = position
                realized += position.realized_pnl
                fees += position.fees_paid
            for resolution in session.scalars(
                select(MarketResolution).where(MarketResolution.account == account)
            ):
                self._resolved[resolution.market_id] = resolution.winning_token_id
        self._pnl = PnLTracker(
            self._realized_since,
            realized=realized,
            fees=fees,
            held=[key for key, p in self._positions.items() if p.size != 0],
            now=datetime.now(UTC),
            days=PnLDays(sessions, account),
        )

    def _realized_since(self, day: datetime) -> Decimal:
        with self.sessions() as session:
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
                position = self._position(session, known.strategy, known.market_id, known.token_id)
                reversal = reverse(session, self.account, known, position)
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
            self._pnl.moved(reversal.realized_pnl, reversal.fees_delta, reversal.reversed_at)
            return Booking(reversal=reversal)
        self._pnl.moved(realized, fill.fee, traded_at, key=(position.strategy, position.token_id))
        return Booking(applied=True)

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

    def _apply(self, session: Session, fill: Fill, strategy: str) -> tuple[Position, Decimal]:
        position = self._position(session, strategy, fill.market_id, fill.token_id)
        book = Book.of(position)
        realized = book.fill(fill.side, fill.price, fill.size, fill.fee)
        book.store(position)
        return position, realized

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
        """Return the winning token of a market this ledger saw resolve, else None.

        A market resolved with no single winner (50/50) returns ``resolutions.NO_WINNER`` ("").
        """
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

        ``winning_token_id`` is ``resolutions.NO_WINNER`` for a 50/50 resolution. The first
        resolution recorded for the market stands (a different one later is logged and ignored).
        Positions already flat settle nothing, so a repeat returns ``[]``.
        """
        now = datetime.now(UTC)
        with self.sessions.begin() as session:
            applied = settle_market(
                session,
                self.account,
                market_id,
                winning_token_id,
                winning_outcome=winning_outcome,
                source=source,
                resolved_at=resolved_at or now,
                now=now,
            )
        if applied is None:
            return []
        # Committed: now the in-memory view may move.
        self._resolved[market_id] = applied.winning_token_id
        for one, position in applied.settled:
            self._positions[(position.strategy, position.token_id)] = position
            self._pnl.moved(one.realized_pnl, ZERO, now)
        return [one for one, _ in applied.settled]

    # ---- views --------------------------------------------------------------------------------
    def positions(self) -> list[Position]:
        """Return every non-empty position of the account."""
        return [p for p in self._positions.values() if p.size != 0]

    def pnl(self, mark: Mark, now: datetime | None = None) -> PnL:
        """Return realized, unrealized and today's (UTC) PnL, marking holdings with ``mark``.

        Today's PnL is the PnL realized today plus how the unrealized PnL moved today (see
        ``pnl_tracker``): a loss carried from yesterday does not count against today's limit.
        """
        return self._pnl.pnl(self._positions, mark, now or datetime.now(UTC))

    def risk_view(
        self, balance: Decimal, mark: Mark, describe: Describe, open_orders: Sequence[Order]
    ) -> Portfolio:
        """Return the risk gate's ``Portfolio``: holdings by token, open orders, free balance.

        ``describe(market_id, token_id)`` gives a holding's neg-risk event id and outcome index.
        The free balance is the venue balance minus what our resting BUYs have reserved.
        """
        daily = self.pnl(mark).daily
        return risk_portfolio(self.positions(), balance, daily, describe, open_orders)

    def trade_count(self) -> int:
        """Return how many fills are booked for the account."""
        with self.sessions() as session:
            return int(
                session.scalar(
                    select(func.count()).select_from(Trade).where(Trade.account == self.account)
                )
                or 0
            )


def _when(timestamp_ms: int) -> datetime:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC) if timestamp_ms else datetime.now(UTC)

"""Undoing a booked fill whose trade the venue marked FAILED, by replaying its position.

The position is rebuilt from its fills in booking order without the failed ones, each settlement
applied where it happened (after the trade rows it followed), so it becomes exactly what it would
have been had the fill never happened — later sells included. What the reversal moved (size,
realized PnL, fees, cash) is one ``fill_reversals`` row, written in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from polybot.execution.average_cost import Book
from polybot.storage.models import FillReversal, Position, Settlement, Trade

FAILED = "FAILED"  # the venue's terminal trade status for a match that did not settle on chain


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


def replay(session: Session, account: str, strategy: str, token_id: str) -> Book:
    """Rebuild a position from its fills in booking order, skipping FAILED ones.

    Each settlement is applied where it happened: after the trade rows it followed.
    """
    trades = session.scalars(
        select(Trade)
        .where(Trade.account == account, Trade.strategy == strategy, Trade.token_id == token_id)
        .order_by(Trade.id)
    ).all()
    settlements = list(
        session.scalars(
            select(Settlement)
            .where(
                Settlement.account == account,
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


def reverse(session: Session, account: str, trade: Trade, position: Position) -> Reversal:
    """Undo a booked fill (its row is already FAILED) in ``position``; record and return it."""
    before = Book.of(position)
    after = replay(session, account, trade.strategy, trade.token_id)
    after.store(position)
    notional = trade.price * trade.size
    cash = notional + trade.fee if trade.side == "BUY" else -notional + trade.fee
    row = FillReversal(
        trade_id=trade.id,
        fill_id=trade.fill_id,
        client_order_id=trade.client_order_id,
        account=account,
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
    return Reversal(
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

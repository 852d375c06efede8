"""A market's resolution applied to one account's rows: what each token pays, and the
settlements that close the positions held in it.

Each token pays 1 pUSD per share when it won and 0 when it lost; a market resolved with no single
winner (a 50/50: Polymarket redeems every outcome at 0.5, Gamma shows ``outcomePrices``
``["0.5","0.5"]``) pays 0.5 per share of either token. Such a resolution is stored with
``winning_token_id`` ``NO_WINNER`` (the empty string); the payout price of every settlement is
on its ``settlements`` row, so replaying a position needs nothing else.

``settle_market`` writes in the caller's transaction: the ``market_resolutions`` row (the first
resolution of a market stands) and one ``settlements`` row per position it closes. A position
already flat settles nothing, so applying the same resolution again is a no-op.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polybot.execution.average_cost import ZERO, Book
from polybot.storage.models import MarketResolution, Position, Settlement, Trade

log = logging.getLogger(__name__)

ONE = Decimal(1)
NO_WINNER = ""  # the winning token of a split (50/50) resolution: every outcome pays SPLIT_PRICE
SPLIT_PRICE = Decimal("0.5")
SPLIT_OUTCOME = "50-50"  # the outcome name recorded for a split resolution


def payout_price(token_id: str, winning_token_id: str) -> Decimal:
    """Return what one share of ``token_id`` redeems for: 1 won, 0 lost, 0.5 in a split."""
    if winning_token_id == NO_WINNER:
        return SPLIT_PRICE
    return ONE if token_id == winning_token_id else ZERO


@dataclass(frozen=True, slots=True)
class Settled:
    """One position closed by its market's resolution."""

    settlement_id: int
    strategy: str
    market_id: str
    token_id: str
    winning_token_id: str  # NO_WINNER for a split resolution
    winning_outcome: str
    shares: Decimal
    avg_price: Decimal
    payout_price: Decimal
    payout: Decimal  # what redeeming the shares at the venue pays
    realized_pnl: Decimal
    position_realized_pnl: Decimal  # the position's realized PnL after the settlement
    source: str
    resolved_at: datetime

    @property
    def split(self) -> bool:
        """True when the market resolved with no single winner (every outcome paid 0.5)."""
        return self.winning_token_id == NO_WINNER

    @property
    def won(self) -> bool:
        """True when this position's token was the market's single winner."""
        return self.token_id == self.winning_token_id and not self.split


@dataclass(frozen=True, slots=True)
class Applied:
    """What ``settle_market`` did: the market's resolution as recorded, the positions closed."""

    winning_token_id: str
    settled: list[tuple[Settled, Position]]


def settle_market(
    session: Session,
    account: str,
    market_id: str,
    winning_token_id: str,
    *,
    winning_outcome: str,
    source: str,
    resolved_at: datetime,
    now: datetime,
) -> Applied | None:
    """Record the resolution and settle every position held in the market; None if it conflicts.

    A resolution different from the one recorded first (another winner, or split vs. winner) is
    logged and ignored.
    """
    resolution = session.scalar(
        select(MarketResolution).where(
            MarketResolution.account == account, MarketResolution.market_id == market_id
        )
    )
    if resolution is None:
        resolution = MarketResolution(
            account=account,
            market_id=market_id,
            winning_token_id=winning_token_id,
            winning_outcome=winning_outcome,
            source=source,
            resolved_at=resolved_at,
        )
        session.add(resolution)
    elif resolution.winning_token_id != winning_token_id:
        log.warning(
            "market %s: resolution to %r ignored; it resolved to %r (%s) already",
            market_id,
            winning_token_id or SPLIT_OUTCOME,
            resolution.winning_token_id or SPLIT_OUTCOME,
            resolution.source,
        )
        return None
    held = session.scalars(
        select(Position)
        .where(Position.account == account, Position.market_id == market_id)
        .order_by(Position.id)
    ).all()
    rows: list[tuple[Settlement, Position]] = []
    for position in held:
        if position.size == 0:
            continue  # flat: nothing to settle (so a repeat settles nothing)
        rows.append((_settle(session, account, resolution, position, source, now), position))
    session.flush()  # the settlement ids
    settled = [
        (
            Settled(
                settlement_id=row.id,
                strategy=row.strategy,
                market_id=market_id,
                token_id=row.token_id,
                winning_token_id=resolution.winning_token_id,
                winning_outcome=resolution.winning_outcome,
                shares=row.shares,
                avg_price=row.avg_price,
                payout_price=row.payout_price,
                payout=row.payout,
                realized_pnl=row.realized_pnl,
                position_realized_pnl=position.realized_pnl,
                source=source,
                resolved_at=resolution.resolved_at,
            ),
            position,
        )
        for row, position in rows
    ]
    return Applied(resolution.winning_token_id, settled)


def _settle(
    session: Session,
    account: str,
    resolution: MarketResolution,
    position: Position,
    source: str,
    now: datetime,
) -> Settlement:
    """Close one position at its token's payout price; return its (unflushed) settlement row."""
    last_trade = session.scalar(
        select(func.max(Trade.id)).where(
            Trade.account == account,
            Trade.strategy == position.strategy,
            Trade.token_id == position.token_id,
        )
    )
    book = Book.of(position)
    shares, avg = book.size, book.avg_price
    price = payout_price(position.token_id, resolution.winning_token_id)
    realized = book.settle(price)
    book.store(position)
    row = Settlement(
        account=account,
        strategy=position.strategy,
        market_id=resolution.market_id,
        token_id=position.token_id,
        winning_token_id=resolution.winning_token_id,
        shares=shares,
        avg_price=avg,
        payout_price=price,
        payout=shares * price,
        realized_pnl=realized,
        after_trade_id=int(last_trade or 0),
        source=source,
        settled_at=now,
    )
    session.add(row)
    return row

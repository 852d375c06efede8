"""Realized PnL over a time window, summed from the rows that carry it.

A position's realized PnL moves in three places, each row stamped with when it happened: a fill
(``trades.realized_pnl`` by ``traded_at``), a settlement (``settlements.realized_pnl`` by
``settled_at``) and a reversal of a failed fill (``fill_reversals.realized_pnl`` by
``reversed_at``). The executor's daily loss limit and the state service's ``pnl`` both read this
sum, so they agree; it lives here, below both.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from polybot.storage.models import FillReversal, Settlement, Trade

ZERO = Decimal(0)


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


def _sum(values: Iterable[Decimal | None]) -> Decimal:
    total = ZERO
    for value in values:
        if value is not None:
            total += value
    return total

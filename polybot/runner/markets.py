"""The markets the runner's engines know, read from the ``markets`` table of ``polybot.db``.

Strategies need each token's market (outcome order decides YES/NO in a signal's ``action``,
which the executor checks) and tick. The scanner keeps the table current; the runner re-reads it
on every config poll and hands new markets to its engines.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from polybot.model.market import EventRef, Market, Outcome
from polybot.storage.models import Market as MarketRow


def load_markets(session: Session, *, known: int = 0) -> list[Market]:
    """Return domain markets for the active rows (all of them: ``known`` only skips a re-read).

    ``known`` is how many rows the caller already has; when the table has no more, nothing is
    built (the common case on every poll).
    """
    rows = session.scalars(select(MarketRow).where(MarketRow.is_closed.is_(False))).all()
    if len(rows) == known:
        return []
    return [to_market(row) for row in rows]


def to_market(row: MarketRow) -> Market:
    """Return the domain market of one ``markets`` row."""
    return Market(
        condition_id=row.market_id,
        slug=row.slug,
        question=row.question,
        outcomes=(
            Outcome(name=row.yes_outcome, asset_id=row.yes_token_id),
            Outcome(name=row.no_outcome, asset_id=row.no_token_id),
        ),
        active=row.is_active,
        closed=row.is_closed,
        accepting_orders=row.is_active and not row.is_closed,
        enable_order_book=True,
        neg_risk=row.neg_risk,
        tick_size=row.tick_size,
        min_order_size=row.min_order_size,
        events=(EventRef(id=row.event_slug, slug=row.event_slug, neg_risk=row.neg_risk),)
        if row.event_slug
        else (),
    )

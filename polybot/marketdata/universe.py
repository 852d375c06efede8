"""The tracked universe: which markets the scanner follows, and their rows in SQLite ``markets``.

Discovery lists every open market from Gamma (keyset pages, legacy fallback). Selection keeps
binary markets only (the ``markets`` table and the price bus speak YES/NO tokens), caps the count
with ``max_markets``/``max_tokens``, and prefers markets already tracked so a refresh does not
churn subscriptions; new slots go to the most traded markets first. Every discovered binary
market is upserted into SQLite (the executor needs tick sizes of markets nobody streams yet);
markets that were active but are no longer listed are marked closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.sqlite import insert

from polybot.model.market import Market
from polybot.storage.models import Market as MarketRow
from polybot.venues.polymarket.gamma import GammaClient

log = logging.getLogger(__name__)

_UPSERT_CHUNK = 400  # SQLite caps bound parameters per statement (32766); 15 columns per row


@dataclass(frozen=True, slots=True)
class UniverseLimits:
    """How much of the venue to track."""

    max_markets: int = 500
    max_tokens: int = 1000
    tradable_only: bool = True


@dataclass(frozen=True, slots=True)
class UniverseChange:
    """What a refresh changed: tokens to subscribe to and tokens to drop."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    discovered: int = 0
    upserted: int = 0
    closed: int = 0


def is_trackable(market: Market, *, tradable_only: bool) -> bool:
    """Return True for a binary market with two token ids (and tradable now, if asked)."""
    assets = market.asset_ids
    if not market.condition_id or len(assets) != 2 or not all(assets):
        return False
    return market.is_tradable if tradable_only else not market.closed


def select_markets(
    markets: Iterable[Market], limits: UniverseLimits, *, keep: Iterable[str] = ()
) -> list[Market]:
    """Return the markets to track: those in ``keep`` that still qualify, then the busiest."""
    kept = set(keep)
    candidates = [m for m in markets if is_trackable(m, tradable_only=limits.tradable_only)]
    # Already-tracked markets first (no churn), then by 24h volume and liquidity; the condition
    # id breaks ties so two scanners pick the same set.
    candidates.sort(
        key=lambda m: (
            m.condition_id not in kept,
            -(m.volume_24h or Decimal(0)),
            -(m.liquidity or Decimal(0)),
            m.condition_id,
        )
    )
    chosen: list[Market] = []
    tokens = 0
    for market in candidates:
        if len(chosen) >= limits.max_markets or tokens + 2 > limits.max_tokens:
            break
        chosen.append(market)
        tokens += 2
    return chosen


def market_row(market: Market) -> dict[str, object]:
    """Return the ``markets`` table values of one binary market."""
    yes, no = market.outcomes
    return {
        "market_id": market.condition_id,
        "question": market.question,
        "slug": market.slug,
        "event_slug": market.events[0].slug if market.events else "",
        "yes_token_id": yes.asset_id,
        "no_token_id": no.asset_id,
        "yes_outcome": yes.name or "Yes",
        "no_outcome": no.name or "No",
        "tick_size": market.tick_size if market.tick_size is not None else Decimal("0.01"),
        "min_order_size": (
            market.min_order_size if market.min_order_size is not None else Decimal(5)
        ),
        "neg_risk": market.neg_risk,
        "is_active": market.active and not market.closed,
        "is_closed": market.closed,
        "end_date": market.end_date,
    }


def upsert_markets(engine: Engine, markets: Sequence[Market]) -> int:
    """Insert or update the rows of binary ``markets``; return how many rows were written."""
    rows = [market_row(m) for m in markets if is_trackable(m, tradable_only=False)]
    if not rows:
        return 0
    updatable = [name for name in rows[0] if name != "market_id"]
    with engine.begin() as connection:
        for start in range(0, len(rows), _UPSERT_CHUNK):
            statement = insert(MarketRow).values(rows[start : start + _UPSERT_CHUNK])
            statement = statement.on_conflict_do_update(
                index_elements=["market_id"],
                set_={name: statement.excluded[name] for name in updatable},
            )
            connection.execute(statement)
    return len(rows)


def close_missing(engine: Engine, listed: Iterable[str]) -> int:
    """Mark active markets that discovery no longer lists as closed; return how many."""
    listed_ids = set(listed)
    with engine.begin() as connection:
        active = connection.execute(
            select(MarketRow.market_id).where(MarketRow.is_active.is_(True))
        ).scalars()
        gone = [market_id for market_id in active if market_id not in listed_ids]
        for start in range(0, len(gone), _UPSERT_CHUNK):
            connection.execute(
                update(MarketRow)
                .where(MarketRow.market_id.in_(gone[start : start + _UPSERT_CHUNK]))
                .values(is_active=False, is_closed=True)
            )
    return len(gone)


def mark_resolved(engine: Engine, market_id: str, winning_token_id: str) -> bool:
    """Record a market's resolution; return False when the market is not in the table."""
    with engine.begin() as connection:
        result = connection.execute(
            update(MarketRow)
            .where(MarketRow.market_id == market_id)
            .values(winning_token_id=winning_token_id, is_active=False, is_closed=True)
        )
    return bool(result.rowcount)


@dataclass(slots=True)
class Universe:
    """The scanner's current universe, refreshed from Gamma and mirrored into SQLite."""

    gamma: GammaClient
    engine: Engine
    limits: UniverseLimits = field(default_factory=UniverseLimits)
    markets: dict[str, Market] = field(default_factory=dict)  # condition id → market
    market_of_token: dict[str, str] = field(default_factory=dict)  # token id → condition id

    @property
    def token_ids(self) -> list[str]:
        """Return every tracked token id (both outcomes of every tracked market)."""
        return list(self.market_of_token)

    async def refresh(self) -> UniverseChange:
        """Discover open markets, update SQLite, and return the subscription changes."""
        discovered = await self.gamma.discover_universe(progress=False)
        # SQLite off the event loop: a write can wait on another process's lock (busy timeout),
        # and the loop is what streams the books.
        upserted, closed = await asyncio.to_thread(self._store, discovered)
        chosen = select_markets(discovered, self.limits, keep=self.markets)
        before = set(self.market_of_token)
        self.markets = {m.condition_id: m for m in chosen}
        self.market_of_token = {a: m.condition_id for m in chosen for a in m.asset_ids}
        after = set(self.market_of_token)
        change = UniverseChange(
            added=tuple(a for a in self.market_of_token if a not in before),
            removed=tuple(sorted(before - after)),
            discovered=len(discovered),
            upserted=upserted,
            closed=closed,
        )
        log.info(
            "universe: %d markets listed, tracking %d (%d tokens; +%d -%d), %d closed",
            len(discovered),
            len(chosen),
            len(after),
            len(change.added),
            len(change.removed),
            closed,
        )
        return change

    def _store(self, discovered: list[Market]) -> tuple[int, int]:
        upserted = upsert_markets(self.engine, discovered)
        return upserted, close_missing(self.engine, (m.condition_id for m in discovered))

    def drop_market(self, market_id: str) -> tuple[str, ...]:
        """Stop tracking one market (it resolved); return its token ids."""
        market = self.markets.pop(market_id, None)
        if market is None:
            return ()
        for asset in market.asset_ids:
            self.market_of_token.pop(asset, None)
        return market.asset_ids

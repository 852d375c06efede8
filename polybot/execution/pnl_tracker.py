"""One account's PnL kept in memory: realized and fees in total, and today's (UTC) PnL.

* realized PnL (net of fees) and fees move with every booked fill, settlement and reversal;
* unrealized PnL marks what is held at the book's mid (at the average price when no book);
* today's PnL is what the account made since 00:00 UTC: the PnL realized today plus how the
  unrealized PnL moved today — for a position held when the day began, since its first mark of
  the day (at start, or when the day rolled over); for one opened today, all of it. So a loss
  carried from yesterday does not count against today's limit again.

The ledger owns the positions and hands them in; the day's realized PnL is read back from SQLite
when the day rolls over (``realized_since``), so it survives restarts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from polybot.storage.models import Position

ZERO = Decimal(0)
Mark = Callable[[str], Decimal | None]
Key = tuple[str, str]  # (strategy, token id)


@dataclass(frozen=True, slots=True)
class PnL:
    """Realized (net of fees), unrealized, and the UTC day's total."""

    realized: Decimal
    unrealized: Decimal
    daily: Decimal
    fees: Decimal


def utc_day(moment: datetime) -> datetime:
    """Return 00:00 UTC of ``moment``'s day."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class PnLTracker:
    """Totals and today's PnL of one account; ``realized_since(day)`` reads the day's realized."""

    def __init__(
        self,
        realized_since: Callable[[datetime], Decimal],
        *,
        realized: Decimal,
        fees: Decimal,
        held: Iterable[Key],
        now: datetime,
    ) -> None:
        self._realized_since = realized_since
        self.realized = realized
        self.fees = fees
        self._day = utc_day(now)
        self._day_realized = realized_since(self._day)
        self._held_at_open = set(held)  # positions held when the day began
        self._open_unrealized: dict[Key, Decimal] = {}  # their first marks today

    def moved(self, realized: Decimal, fees: Decimal, when: datetime) -> None:
        """Count PnL realized (and fees paid) at ``when``."""
        self.realized += realized
        self.fees += fees
        if when >= self._day:
            self._day_realized += realized

    def pnl(self, positions: Mapping[Key, Position], mark: Mark, now: datetime) -> PnL:
        """Return realized, unrealized and today's PnL, marking ``positions`` with ``mark``."""
        day = utc_day(now)
        if day != self._day:
            self._day = day
            self._day_realized = self._realized_since(day)
            self._held_at_open = {key for key, p in positions.items() if p.size != 0}
            self._open_unrealized = {}
        unrealized = moved = ZERO
        for key, position in positions.items():
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
        return PnL(self.realized, unrealized, self._day_realized + moved, self.fees)

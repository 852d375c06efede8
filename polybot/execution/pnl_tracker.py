"""One account's PnL kept in memory: realized and fees in total, and today's (UTC) PnL.

* realized PnL (net of fees) and fees move with every booked fill, settlement and reversal;
* unrealized PnL marks what is held at the book's mid (at the average price when no book);
* today's PnL is what the account made since 00:00 UTC: the PnL realized today plus how the
  unrealized PnL moved today — for a position held when the day began, since its first mark of
  the day (at start, or when the day rolled over); for one opened today, all of it. So a loss
  carried from yesterday does not count against today's limit again.

The ledger owns the positions and hands them in. Both halves survive a restart: the day's
realized PnL is read back from SQLite (``realized_since``), and where the unrealized part starts
(the positions held at the open and their first marks) is kept in ``pnl_days`` (``PnLDays``). A
restart in the middle of the day therefore measures from the same start; without it the marks at
the restart would become the start, and the day's loss so far would vanish from the limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from polybot.execution.pnl_days import DayStart, Key, PnLDays
from polybot.storage.models import Position

ZERO = Decimal(0)
Mark = Callable[[str], Decimal | None]


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
        days: PnLDays,
    ) -> None:
        self._realized_since = realized_since
        self._days = days
        self.realized = realized
        self.fees = fees
        self._open_day(utc_day(now), held)

    def _open_day(self, day: datetime, held: Iterable[Key]) -> None:
        """Start measuring ``day``: from where it started before a restart, else from now."""
        self._day = day
        self._day_realized = self._realized_since(day)
        start = self._days.load(day)
        if start is None:
            start = DayStart(held=set(held))
            self._save(start)
        self._start = start  # the positions held when the day began and their first marks

    def _save(self, start: DayStart) -> None:
        self._days.save(self._day, start)

    def moved(
        self, realized: Decimal, fees: Decimal, when: datetime, *, key: Key | None = None
    ) -> None:
        """Count PnL realized (and fees paid) at ``when`` by the position ``key``, if a fill's.

        A fill from before today that is booked only now (reported late, or found by
        reconciliation) means its position was already held when the day began.
        """
        self.realized += realized
        self.fees += fees
        if when >= self._day:
            self._day_realized += realized
        elif key is not None and key not in self._start.held:
            self._start.held.add(key)
            self._save(self._start)

    def pnl(self, positions: Mapping[Key, Position], mark: Mark, now: datetime) -> PnL:
        """Return realized, unrealized and today's PnL, marking ``positions`` with ``mark``."""
        day = utc_day(now)
        if day != self._day:
            self._open_day(day, [key for key, p in positions.items() if p.size != 0])
        held, marks = self._start.held, self._start.marks
        first_marks = len(marks)
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
            if key not in held:
                start = ZERO  # opened today: all of its PnL is today's
            elif position.size != 0:
                start = marks.setdefault(key, value)
            else:
                start = marks.get(key, ZERO)
            moved += value - start
        if len(marks) != first_marks:
            self._save(self._start)  # a position held at the open got its first mark today
        return PnL(self.realized, unrealized, self._day_realized + moved, self.fees)

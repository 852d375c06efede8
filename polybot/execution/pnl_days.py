"""Where each UTC day's PnL starts, kept in ``pnl_days`` so a mid-day restart carries on from it.

Written when a day's PnL begins (at start, or when the day rolls over) and when a position held
at the open gets its first mark of the day: a few small writes per day, never per order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, sessionmaker

from polybot.storage.models import PnLDay

Key = tuple[str, str]  # (strategy, token id)


@dataclass(slots=True)
class DayStart:
    """The positions held when a day's PnL began and their first marks of that day."""

    held: set[Key] = field(default_factory=set)
    marks: dict[Key, Decimal] = field(default_factory=dict)  # a held position may have none yet


class PnLDays:
    """``pnl_days`` rows of one account."""

    def __init__(self, sessions: sessionmaker[Session], account: str) -> None:
        self._sessions = sessions
        self._account = account

    def load(self, day: datetime) -> DayStart | None:
        """Return where ``day``'s PnL started, or None when nothing was recorded for it."""
        with self._sessions() as session:
            row = session.scalar(self._select(day))
            if row is None:
                return None
            return _decode(row.open_marks)

    def save(self, day: datetime, start: DayStart) -> None:
        """Record (or replace) where ``day``'s PnL starts."""
        text = _encode(start)
        with self._sessions.begin() as session:
            row = session.scalar(self._select(day))
            if row is None:
                session.add(PnLDay(account=self._account, day=_day(day), open_marks=text))
            else:
                row.open_marks = text

    def _select(self, day: datetime) -> Select[PnLDay]:
        return select(PnLDay).where(PnLDay.account == self._account, PnLDay.day == _day(day))


def _day(day: datetime) -> str:
    return day.date().isoformat()


def _encode(start: DayStart) -> str:
    rows = [
        [
            strategy,
            token,
            str(start.marks[(strategy, token)]) if (strategy, token) in start.marks else None,
        ]
        for strategy, token in sorted(start.held)
    ]
    return json.dumps(rows, separators=(",", ":"))


def _decode(text: str) -> DayStart:
    start = DayStart()
    for strategy, token, value in json.loads(text):
        start.held.add((strategy, token))
        if value is not None:
            start.marks[(strategy, token)] = Decimal(value)
    return start

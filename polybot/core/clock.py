"""Clocks. Everything that needs 'now' takes a Clock so replays and tests control time."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Source of the current time."""

    def now_ns(self) -> int:
        """Return nanoseconds since the Unix epoch."""
        ...

    def now_ms(self) -> int:
        """Return milliseconds since the Unix epoch."""
        ...


class WallClock:
    """The real clock."""

    def now_ns(self) -> int:
        """Return wall time in ns."""
        return time.time_ns()

    def now_ms(self) -> int:
        """Return wall time in ms."""
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that moves only when told to (tests and replays)."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now_ns = start_ns

    def now_ns(self) -> int:
        """Return the current manual time in ns."""
        return self._now_ns

    def now_ms(self) -> int:
        """Return the current manual time in ms."""
        return self._now_ns // 1_000_000

    def set_ns(self, ts_ns: int) -> None:
        """Jump to ``ts_ns`` (never backwards)."""
        if ts_ns < self._now_ns:
            raise ValueError(f"clock cannot go backwards: {ts_ns} < {self._now_ns}")
        self._now_ns = ts_ns

    def advance_ns(self, delta_ns: int) -> None:
        """Move forward by ``delta_ns``."""
        self.set_ns(self._now_ns + delta_ns)


def wall_ms() -> int:
    """Return wall-clock milliseconds (for stamping outgoing messages in services)."""
    return time.time_ns() // 1_000_000

"""The venue clock: wall time, optionally accelerated, that admins can push forward.

``now = start + (elapsed real time) × speed + offset``. With ``speed=1`` and no advances it is the
wall clock, so timestamps look like the real venue's. ``advance`` jumps ahead (GTD expiry, trade
lifecycle and heartbeats then fire on the next tick); ``set_speed`` re-anchors so time never jumps
backwards when the speed changes.
"""

from __future__ import annotations

import time


class VenueClock:
    """An accelerable, advanceable clock implementing :class:`polybot.core.clock.Clock`."""

    def __init__(self, speed: float = 1.0, start_ns: int | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._speed = speed
        self._base_ns = time.time_ns() if start_ns is None else start_ns
        self._anchor = time.perf_counter_ns()

    @property
    def speed(self) -> float:
        """How many venue seconds pass per real second."""
        return self._speed

    def now_ns(self) -> int:
        """Return venue nanoseconds since the epoch."""
        return self._base_ns + int((time.perf_counter_ns() - self._anchor) * self._speed)

    def now_ms(self) -> int:
        """Return venue milliseconds since the epoch."""
        return self.now_ns() // 1_000_000

    def set_speed(self, speed: float) -> None:
        """Change the acceleration from now on."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._base_ns = self.now_ns()
        self._anchor = time.perf_counter_ns()
        self._speed = speed

    def advance(self, seconds: float) -> None:
        """Jump forward by ``seconds`` of venue time."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._base_ns += int(seconds * 1_000_000_000)

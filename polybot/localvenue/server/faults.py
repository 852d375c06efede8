"""Fault knobs: make the local venue misbehave the ways the real one does.

Set through the admin API (``/_polybot/admin/faults``) or ``polybot sim-admin faults``. Every
knob is off by default. Random faults draw from a seeded RNG, so a run with the same seed and the
same request sequence fails the same requests.

* ``latency_ms`` (+ ``jitter_ms``): added before every HTTP answer.
* ``error_5xx_rate`` / ``error_425_rate`` / ``error_429_rate``: the fraction of requests answered
  with 500, 425 (matching engine restarting) or 429 instead of being served.
* ``timeout_rate`` + ``timeout_s``: the fraction of requests that hang ``timeout_s`` seconds and
  then get a 504, so a client with a shorter timeout sees a timeout.
* ``path_prefixes``: limits the HTTP faults above to paths starting with one of these
  (empty = every Polymarket path; the admin API is never affected).
* ``ws_drop_rate``: the fraction of outgoing WS frames after which the server drops the
  connection (close code 1011); ``drop_ws`` on the admin API drops every socket once, now.
* ``feed``: ``live`` (normal), ``silent`` (market/user channels send no events but still answer
  ``PING``), ``stale`` (no events and no ``PONG`` either: the socket looks open but is dead).

The venue-wide trading mode (normal / cancel-only / disabled / post-only) belongs to the exchange
core; the admin API sets it next to these knobs (``trading_mode`` in the same request).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any


class FeedMode(StrEnum):
    """How the WebSocket feeds behave."""

    LIVE = "live"
    SILENT = "silent"
    STALE = "stale"


class HttpFault(StrEnum):
    """What the fault layer decided to do to one HTTP request."""

    NONE = "none"
    ERROR_5XX = "5xx"
    ERROR_425 = "425"
    ERROR_429 = "429"
    TIMEOUT = "timeout"


@dataclass(slots=True)
class FaultConfig:
    """The knobs; see the module docstring for what each does."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_5xx_rate: float = 0.0
    error_425_rate: float = 0.0
    error_429_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_s: float = 30.0
    path_prefixes: list[str] = field(default_factory=list)
    ws_drop_rate: float = 0.0
    feed: FeedMode = FeedMode.LIVE

    def to_json(self) -> dict[str, Any]:
        """Return the knobs as plain JSON values."""
        data = asdict(self)
        data["feed"] = self.feed.value
        return data


_RATES = ("error_5xx_rate", "error_425_rate", "error_429_rate", "timeout_rate", "ws_drop_rate")
_NON_NEGATIVE = ("latency_ms", "jitter_ms", "timeout_s")


class Faults:
    """The live fault state of one venue, with a seeded RNG for the random knobs."""

    def __init__(self, seed: int = 0) -> None:
        self.config = FaultConfig()
        self._rng = random.Random(seed)
        # Bumped by drop_ws(); each WS connection remembers the epoch it started in.
        self.ws_drop_epoch = 0

    def update(self, changes: dict[str, Any]) -> FaultConfig:
        """Apply a partial update, validating every value; return the new config.

        Raises ``ValueError`` naming the bad knob, and leaves the config unchanged then.
        """
        known = {f.name for f in fields(FaultConfig)}
        unknown = set(changes) - known - {"reset"}
        if unknown:
            raise ValueError(f"unknown fault knob(s): {', '.join(sorted(unknown))}")
        new = FaultConfig() if changes.get("reset") else FaultConfig(**self.config.to_json())
        new.feed = FeedMode(new.feed)
        for name, value in changes.items():
            if name == "reset":
                continue
            if name in _RATES:
                rate = float(value)
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"{name} must be within [0, 1], got {value!r}")
                setattr(new, name, rate)
            elif name in _NON_NEGATIVE:
                number = float(value)
                if number < 0:
                    raise ValueError(f"{name} must be >= 0, got {value!r}")
                setattr(new, name, number)
            elif name == "path_prefixes":
                if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
                    raise ValueError("path_prefixes must be a list of strings")
                new.path_prefixes = list(value)
            elif name == "feed":
                new.feed = FeedMode(value)
        self.config = new
        return new

    def drop_ws(self) -> int:
        """Drop every open WebSocket once (they notice on their next send or receive)."""
        self.ws_drop_epoch += 1
        return self.ws_drop_epoch

    def applies_to(self, path: str) -> bool:
        """Return True when HTTP faults cover ``path``."""
        prefixes = self.config.path_prefixes
        return not prefixes or any(path.startswith(prefix) for prefix in prefixes)

    def latency_s(self) -> float:
        """Return the delay to add to this response (0 when off)."""
        cfg = self.config
        if cfg.latency_ms <= 0 and cfg.jitter_ms <= 0:
            return 0.0
        return max(0.0, cfg.latency_ms + self._rng.uniform(0.0, cfg.jitter_ms)) / 1000.0

    def draw_http(self) -> HttpFault:
        """Decide, with the seeded RNG, whether this request fails and how."""
        cfg = self.config
        total = cfg.error_5xx_rate + cfg.error_425_rate + cfg.error_429_rate + cfg.timeout_rate
        if total <= 0:
            return HttpFault.NONE
        roll = self._rng.random()
        for fault, rate in (
            (HttpFault.ERROR_5XX, cfg.error_5xx_rate),
            (HttpFault.ERROR_425, cfg.error_425_rate),
            (HttpFault.ERROR_429, cfg.error_429_rate),
            (HttpFault.TIMEOUT, cfg.timeout_rate),
        ):
            if roll < rate:
                return fault
            roll -= rate
        return HttpFault.NONE

    def draw_ws_drop(self) -> bool:
        """Decide whether to drop a WebSocket after the frame just sent."""
        rate = self.config.ws_drop_rate
        return rate > 0 and self._rng.random() < rate

    @property
    def feed(self) -> FeedMode:
        """The current WS feed mode."""
        return self.config.feed

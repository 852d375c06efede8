"""Async token buckets for Polymarket's published rate limits (reference §7).

Cloudflare throttles per IP over sliding windows; staying under the published numbers client-side
means we queue politely instead of collecting 429s. A request draws from every bucket that
applies to it: the all-API bucket, its API family's general bucket and any per-endpoint buckets
(several may match, e.g. Gamma ``/markets/keyset`` counts against ``/markets`` *and* the combined
listing limit). Paths are matched relative to the API's base URL, so the rules hold for the local
venue (which serves Gamma under ``/gamma``) as well as for polymarket.com.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

Family = Literal["gamma", "clob", "data"]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    """A token bucket holding at most ``capacity`` tokens, refilled at ``capacity / period_s``.

    ``acquire`` waits (without holding other callers' tokens hostage: waiters queue on a lock, so
    the bucket is fair in arrival order) until ``cost`` tokens are available.
    """

    def __init__(
        self, capacity: float, period_s: float, *, name: str = "",
        clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep,
    ) -> None:
        if capacity <= 0 or period_s <= 0:
            raise ValueError("capacity and period_s must be positive")
        self.name = name
        self.capacity = float(capacity)
        self.period_s = float(period_s)
        self.rate = self.capacity / self.period_s
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._stamp = clock()
        self._lock = asyncio.Lock()

    @property
    def tokens(self) -> float:
        """Return the tokens available now (after refilling for the time elapsed)."""
        self._refill()
        return self._tokens

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)

    def try_acquire(self, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens if they are available now; return whether it did."""
        self._check_cost(cost)
        self._refill()
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        return False

    async def acquire(self, cost: float = 1.0) -> float:
        """Wait until ``cost`` tokens are available and take them; return the seconds waited."""
        self._check_cost(cost)
        waited = 0.0
        async with self._lock:
            while True:
                self._refill()
                if self._tokens >= cost:
                    self._tokens -= cost
                    return waited
                delay = (cost - self._tokens) / self.rate
                await self._sleep(delay)
                waited += delay

    def drain(self) -> None:
        """Empty the bucket: used when the server says we are over its limit (429)."""
        self._refill()
        self._tokens = 0.0

    def _check_cost(self, cost: float) -> None:
        if cost <= 0 or cost > self.capacity:
            raise ValueError(f"cost {cost} must be in (0, {self.capacity}] for bucket {self.name}")


@dataclass(frozen=True, slots=True)
class RateRule:
    """One published limit: ``limit`` requests per ``period_s`` for matching requests.

    ``pattern`` is a regex matched against the API-relative path; ``method`` None matches any.
    """

    name: str
    family: Family | None
    limit: int
    period_s: float = 10.0
    pattern: str = ""
    method: str | None = None

    def matches(self, family: Family, method: str, path: str) -> bool:
        """Return True when a request of this family/method/path counts against the rule."""
        if self.family is not None and self.family != family:
            return False
        if self.method is not None and self.method != method.upper():
            return False
        return not self.pattern or re.search(self.pattern, path) is not None


def _r(
    name: str, family: Family | None, limit: int, pattern: str = "",
    method: str | None = None, period_s: float = 10.0,
) -> RateRule:
    return RateRule(name, family, limit, period_s, pattern, method)


# Reference §7 (docs api-reference/rate-limits). Family rows first, then per-endpoint rows.
DEFAULT_RULES: tuple[RateRule, ...] = (
    _r("all", None, 15_000),
    _r("gamma", "gamma", 4_000),
    _r("clob", "clob", 9_000),
    _r("data", "data", 1_000),
    # Gamma
    _r("gamma /markets", "gamma", 300, r"^/markets(/|$)"),
    _r("gamma /events", "gamma", 500, r"^/events(/|$)"),
    _r("gamma listing", "gamma", 900, r"^/(markets|events)(/keyset)?$"),
    _r("gamma /comments", "gamma", 200, r"^/comments(/|$)"),
    _r("gamma /tags", "gamma", 200, r"^/tags(/|$)"),
    _r("gamma /public-search", "gamma", 350, r"^/public-search$"),
    # Data API (v1 and v2 paths share the rows)
    _r("data /trades", "data", 200, r"^(/v2)?/trades$"),
    _r("data /positions", "data", 150, r"^(/v2)?/positions$"),
    _r("data /closed-positions", "data", 150, r"^(/v2)?/closed-positions$"),
    _r("data /ok", "data", 100, r"^/ok$"),
    # CLOB market data
    _r("clob /ok", "clob", 100, r"^/ok$"),
    _r("clob /book", "clob", 1_500, r"^/book$"),
    _r("clob /books", "clob", 500, r"^/books$"),
    _r("clob /price", "clob", 1_500, r"^/price$"),
    _r("clob /prices", "clob", 500, r"^/prices$"),
    _r("clob /midpoint", "clob", 1_500, r"^/midpoint$"),
    _r("clob /midpoints", "clob", 500, r"^/midpoints$"),
    _r("clob /prices-history", "clob", 1_000, r"^/prices-history$"),
    _r("clob /tick-size", "clob", 200, r"^/tick-size(/|$)"),
    # CLOB ledger and account
    _r("clob /data/orders", "clob", 500, r"^/data/orders$"),
    _r("clob /data/trades", "clob", 500, r"^/data/trades$"),
    _r("clob ledger", "clob", 900, r"^/(data/order/|notifications)"),
    _r("clob /notifications", "clob", 125, r"^/notifications$"),
    _r("clob balance-allowance", "clob", 200, r"^/balance-allowance$", "GET"),
    _r("clob balance-allowance update", "clob", 50, r"^/balance-allowance/update$"),
    _r("clob auth", "clob", 100, r"^/auth/"),
    # CLOB trading: burst (10 s) and sustained (10 min) rows
    _r("clob POST /order", "clob", 3_500, r"^/order$", "POST"),
    _r("clob POST /order 10m", "clob", 36_000, r"^/order$", "POST", 600.0),
    _r("clob DELETE /order", "clob", 3_000, r"^/order$", "DELETE"),
    _r("clob DELETE /order 10m", "clob", 30_000, r"^/order$", "DELETE", 600.0),
    _r("clob POST /orders", "clob", 1_000, r"^/orders$", "POST"),
    _r("clob POST /orders 10m", "clob", 15_000, r"^/orders$", "POST", 600.0),
    _r("clob DELETE /orders", "clob", 1_000, r"^/orders$", "DELETE"),
    _r("clob /cancel-all", "clob", 250, r"^/cancel-all$", "DELETE"),
    _r("clob /cancel-market-orders", "clob", 1_000, r"^/cancel-market-orders$", "DELETE"),
)


class RateLimiter:
    """Buckets for a set of rules; one instance can be shared by every client of a process."""

    def __init__(
        self, rules: Sequence[RateRule] = DEFAULT_RULES, *,
        clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.rules = tuple(rules)
        self._buckets = {
            rule.name: TokenBucket(rule.limit, rule.period_s, name=rule.name, clock=clock,
                                   sleep=sleep)
            for rule in self.rules
        }

    def bucket(self, name: str) -> TokenBucket:
        """Return the bucket of the rule called ``name``."""
        return self._buckets[name]

    def buckets_for(self, family: Family, method: str, path: str) -> list[TokenBucket]:
        """Return every bucket a request draws from, broadest first."""
        return [self._buckets[r.name] for r in self.rules if r.matches(family, method, path)]

    async def acquire(self, family: Family, method: str, path: str, cost: int = 1) -> float:
        """Take ``cost`` tokens from every matching bucket; return the total seconds waited.

        ``cost`` is the request's weight (a batch of N orders costs N against order buckets); it
        is clamped to each bucket's capacity so an oversized batch still goes through eventually.
        """
        waited = 0.0
        for bucket in self.buckets_for(family, method, path):
            waited += await bucket.acquire(min(float(cost), bucket.capacity))
        return waited

    def penalize(self, family: Family, method: str, path: str) -> None:
        """Drain the endpoint-specific buckets after a 429 so the next callers slow down too."""
        for rule in self.rules:
            if rule.family == family and rule.pattern and rule.matches(family, method, path):
                self._buckets[rule.name].drain()

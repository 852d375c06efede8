"""Rate limits as Polymarket publishes them (reference §7): IP windows plus per-signer buckets.

Two layers, like the real venue:

* **IP limits** (Cloudflare's): every request draws from the all-API bucket, its API family's
  general bucket and any endpoint buckets that match. Cloudflare mostly *queues* over-limit
  requests; the local venue answers ``429 {"error":"Too Many Requests"}`` with ``Retry-After``
  instead, because a client must handle 429 anyway and a prompt answer keeps tests fast.
* **Per-signer trading buckets**: separate ``order`` and ``cancel`` token buckets per signer
  address, sized by the signer's volume tier. Order/cancel responses carry
  ``Poly-RateLimit-Remaining/Reset/Tier`` (and ``Poly-RateLimit-Warning: true`` in warning mode,
  where over-limit requests are still admitted).

Buckets refill continuously (``capacity / period`` tokens per second) — the same shape as a
sliding window for a steady client, and O(1) per request.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal

Kind = Literal["order", "cancel"]
MonotonicClock = Callable[[], float]
WallClock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Tier:
    """One per-signer volume tier: sustained rate and burst per second, orders and cancels."""

    name: str
    order_rate: float
    order_burst: float
    cancel_rate: float
    cancel_burst: float
    # Standard…Gold may run a negative cancel balance (docs): the cancel is admitted, the debt
    # is repaid by refill before the next one.
    negative_cancel: bool


TIERS: Final[dict[str, Tier]] = {
    t.name: t
    for t in (
        Tier("Standard", 40, 60, 80, 120, True),
        Tier("Copper", 60, 90, 120, 180, True),
        Tier("Bronze", 80, 120, 160, 240, True),
        Tier("Silver", 200, 300, 400, 600, True),
        Tier("Gold", 400, 600, 800, 1200, True),
        Tier("Platinum", 450, 675, 900, 1350, False),
        Tier("Diamond", 525, 787, 1050, 1575, False),
        Tier("Elite", 600, 900, 1200, 1800, False),
    )
}


class Bucket:
    """A continuously refilling token bucket (``capacity`` tokens, ``rate`` per second)."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.stamp = now

    def refill(self, now: float) -> None:
        """Add the tokens earned since the last call."""
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def retry_after(self, cost: float) -> float:
        """Return seconds until ``cost`` tokens are available (0 if they are now)."""
        missing = cost - self.tokens
        return 0.0 if missing <= 0 else missing / self.rate

    def seconds_to_full(self) -> float:
        """Return seconds until the bucket is full again."""
        return max(0.0, (self.capacity - self.tokens) / self.rate)


# ---------------------------------------------------------------------------------------------
# IP limits


@dataclass(frozen=True, slots=True)
class IpRule:
    """``limit`` requests per ``period_s`` for requests whose path matches ``pattern``."""

    name: str
    pattern: re.Pattern[str]
    limit: int
    period_s: float = 10.0
    methods: frozenset[str] = frozenset()   # empty = any method


def _rule(name: str, regex: str, limit: int, period_s: float = 10.0, methods: str = "") -> IpRule:
    return IpRule(name, re.compile(regex), limit, period_s, frozenset(methods.split()))


# Published numbers (docs api-reference/rate-limits, per 10 s unless stated). Gamma is served
# under /gamma and the Data API under /data-api on the local venue; the CLOB sits at the root.
DEFAULT_IP_RULES: Final[tuple[IpRule, ...]] = (
    _rule("all", r"^/", 15_000),
    _rule("gamma", r"^/gamma/", 4_000),
    _rule("gamma /events", r"^/gamma/events", 500),
    _rule("gamma /markets", r"^/gamma/markets", 300),
    _rule("gamma listing", r"^/gamma/(markets|events)(/keyset)?$", 900),
    _rule("gamma /comments", r"^/gamma/comments", 200),
    _rule("gamma /tags", r"^/gamma/tags", 200),
    _rule("gamma /public-search", r"^/gamma/public-search", 350),
    _rule("data", r"^/data-api/", 1_000),
    _rule("data /trades", r"^/data-api/(v2/)?trades", 200),
    _rule("data /positions", r"^/data-api/(v2/)?positions", 150),
    _rule("data /closed-positions", r"^/data-api/closed-positions", 150),
    _rule("data /ok", r"^/data-api/ok$", 100),
    _rule("clob", r"^/(?!gamma/|data-api/)", 9_000),
    _rule("clob /ok", r"^/ok$", 100),
    _rule("clob /book", r"^/book$", 1_500),
    _rule("clob /books", r"^/books$", 500),
    _rule("clob /price", r"^/price$", 1_500),
    _rule("clob /prices", r"^/prices$", 500),
    _rule("clob /midpoint", r"^/midpoint$", 1_500),
    _rule("clob /midpoints", r"^/midpoints$", 500),
    _rule("clob /prices-history", r"^/prices-history$", 1_000),
    _rule("clob /tick-size", r"^/tick-size", 200),
    _rule("clob GET balance-allowance", r"^/balance-allowance$", 200, methods="GET"),
    _rule("clob UPDATE balance-allowance", r"^/balance-allowance/update$", 50),
    _rule("clob /data/orders", r"^/data/orders$", 500),
    _rule("clob /data/trades", r"^/data/trades$", 500),
    _rule("clob ledger", r"^/(data/order/|order$)", 900, methods="GET"),
    _rule("clob auth", r"^/auth/", 100),
    _rule("clob POST /order", r"^/order$", 3_500, methods="POST"),
    _rule("clob POST /order 10m", r"^/order$", 36_000, 600.0, methods="POST"),
    _rule("clob DELETE /order", r"^/order$", 3_000, methods="DELETE"),
    _rule("clob DELETE /order 10m", r"^/order$", 30_000, 600.0, methods="DELETE"),
    _rule("clob POST /orders", r"^/orders$", 1_000, methods="POST"),
    _rule("clob POST /orders 10m", r"^/orders$", 15_000, 600.0, methods="POST"),
    _rule("clob /cancel-all", r"^/cancel-all$", 250, methods="DELETE"),
)


@dataclass(slots=True)
class IpLimiter:
    """Cloudflare-style limits per client IP. ``scale`` multiplies every limit (tests shrink it)."""

    rules: tuple[IpRule, ...] = DEFAULT_IP_RULES
    enabled: bool = True
    scale: float = 1.0
    clock: MonotonicClock = time.monotonic
    _buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)

    def configure(self, *, enabled: bool | None = None, scale: float | None = None) -> None:
        """Change the knobs; buckets restart full so the new limits apply at once."""
        if enabled is not None:
            self.enabled = enabled
        if scale is not None:
            if scale <= 0:
                raise ValueError("scale must be positive")
            self.scale = scale
        self._buckets.clear()

    def check(self, client: str, method: str, path: str) -> float | None:
        """Admit one request or return the seconds the client should wait (``Retry-After``).

        Admission is all-or-nothing across the matching rules, so a rejected request costs
        nothing.
        """
        if not self.enabled:
            return None
        now = self.clock()
        matched: list[Bucket] = []
        wait = 0.0
        for rule in self.rules:
            if rule.methods and method not in rule.methods:
                continue
            if not rule.pattern.search(path):
                continue
            key = (rule.name, client)
            bucket = self._buckets.get(key)
            if bucket is None:
                capacity = max(1.0, rule.limit * self.scale)
                bucket = self._buckets[key] = Bucket(capacity, capacity / rule.period_s, now)
            bucket.refill(now)
            wait = max(wait, bucket.retry_after(1.0))
            matched.append(bucket)
        if wait > 0:
            return wait
        for bucket in matched:
            bucket.tokens -= 1.0
        return None


# ---------------------------------------------------------------------------------------------
# Per-signer trading buckets


@dataclass(frozen=True, slots=True)
class SignerDecision:
    """The outcome of one order/cancel admission, with the headers the response must carry."""

    allowed: bool
    headers: dict[str, str]
    retry_after_s: float = 0.0


@dataclass(slots=True)
class _SignerState:
    tier: Tier
    order: Bucket
    cancel: Bucket


@dataclass(slots=True)
class SignerLimiter:
    """Per-signer ``order`` and ``cancel`` buckets (docs ``api-reference/trading-rate-limits``).

    ``warning_mode`` reproduces the two-week warning period: over-limit requests pass with
    ``Poly-RateLimit-Warning: true`` instead of a 429.
    """

    default_tier: str = "Standard"
    enabled: bool = True
    warning_mode: bool = False
    clock: MonotonicClock = time.monotonic
    wall: WallClock = time.time
    tier_overrides: dict[str, str] = field(default_factory=dict)
    _signers: dict[str, _SignerState] = field(default_factory=dict)

    def configure(
        self,
        *,
        enabled: bool | None = None,
        warning_mode: bool | None = None,
        default_tier: str | None = None,
        signer_tiers: dict[str, str] | None = None,
    ) -> None:
        """Change the knobs; existing buckets restart full under their (new) tiers."""
        for name in [default_tier, *(signer_tiers or {}).values()]:
            if name is not None and name not in TIERS:
                raise ValueError(f"unknown tier {name!r}; one of {', '.join(TIERS)}")
        if enabled is not None:
            self.enabled = enabled
        if warning_mode is not None:
            self.warning_mode = warning_mode
        if default_tier is not None:
            self.default_tier = default_tier
        for signer, name in (signer_tiers or {}).items():
            self.tier_overrides[signer.lower()] = name
        self._signers.clear()

    def tier_of(self, signer: str) -> Tier:
        """Return the tier a signer trades under."""
        return TIERS[self.tier_overrides.get(signer.lower(), self.default_tier)]

    def _state(self, signer: str, now: float) -> _SignerState:
        key = signer.lower()
        state = self._signers.get(key)
        if state is None:
            tier = self.tier_of(signer)
            state = self._signers[key] = _SignerState(
                tier,
                Bucket(tier.order_burst, tier.order_rate, now),
                Bucket(tier.cancel_burst, tier.cancel_rate, now),
            )
        return state

    def admit(self, signer: str, kind: Kind, cost: float) -> SignerDecision:
        """Take ``cost`` tokens from the signer's ``kind`` bucket, all or nothing."""
        now = self.clock()
        state = self._state(signer, now)
        bucket = state.order if kind == "order" else state.cancel
        bucket.refill(now)
        if not self.enabled:
            return SignerDecision(True, self._headers(state, bucket, warning=False))
        # A negative-balance tier admits a cancel as long as the balance is not already negative.
        can_borrow = kind == "cancel" and state.tier.negative_cancel and bucket.tokens >= 0
        wait = bucket.retry_after(cost)
        if wait > 0 and not can_borrow:
            if self.warning_mode:
                bucket.tokens -= cost
                return SignerDecision(True, self._headers(state, bucket, warning=True))
            headers = self._headers(state, bucket, warning=False)
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return SignerDecision(False, headers, wait)
        bucket.tokens -= cost
        return SignerDecision(True, self._headers(state, bucket, warning=False))

    def charge(self, signer: str, kind: Kind, cost: float) -> dict[str, str]:
        """Charge tokens after the fact (cancel-all costs 1 + #canceled) and return headers."""
        now = self.clock()
        state = self._state(signer, now)
        bucket = state.order if kind == "order" else state.cancel
        bucket.refill(now)
        if self.enabled and cost > 0:
            bucket.tokens -= cost
        return self._headers(state, bucket, warning=False)

    def _headers(self, state: _SignerState, bucket: Bucket, *, warning: bool) -> dict[str, str]:
        headers = {
            "Poly-RateLimit-Remaining": str(math.floor(bucket.tokens)),
            "Poly-RateLimit-Reset": str(math.ceil(self.wall() + bucket.seconds_to_full())),
            "Poly-RateLimit-Tier": state.tier.name,
        }
        if warning:
            headers["Poly-RateLimit-Warning"] = "true"
        return headers

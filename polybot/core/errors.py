"""One error tree for PolyBot, grouped by what the caller should do.

::

    PolybotError
    ├── ConfigError                 fix the configuration and restart
    ├── WireError                   a bus frame could not be decoded (dead-letter it, keep serving)
    │   ├── MalformedMessage        bytes are not a valid message of a known type
    │   └── UnknownMessageType      a well-formed map whose ``type`` nobody here knows
    ├── BusError                    transport trouble on an NNG socket
    │   └── BusTimeout              a send/recv did not complete within its timeout
    ├── VenueError                  anything the venue said or failed to say
    │   ├── TemporaryVenueError     retry with backoff and jitter (5xx, 425, timeouts, resets)
    │   │   ├── RateLimited         429; carries ``retry_after_s``
    │   │   └── CircuitOpen         too many failures in a row; calls are refused for a while
    │   ├── OrderRejected           the venue refused the order: never retry as is
    │   │   └── InsufficientFunds   not enough balance / allowance
    │   ├── AuthError               credentials are wrong: fix config
    │   ├── NotFound                unknown token/market/order
    │   └── TradingHalted           trading disabled / cancel-only / post-only mode
    ├── RiskRejected                the risk gate said no; carries the rule and the numbers
    └── StrategyError               user strategy code raised
"""

from __future__ import annotations

from typing import Any


class PolybotError(Exception):
    """Base class of every error PolyBot raises on purpose."""


class ConfigError(PolybotError):
    """The configuration is invalid; the message says what to fix."""


class WireError(PolybotError):
    """A bus frame could not be turned into a valid message."""

    def __init__(self, reason: str, frame: bytes | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.frame = frame


class MalformedMessage(WireError):
    """The frame is not a valid message (bad msgpack, missing or mistyped field, bad value)."""


class UnknownMessageType(WireError):
    """The frame is a map whose ``type`` is not part of the wire contract."""


class BusError(PolybotError):
    """Transport-level failure on an NNG socket."""


class BusTimeout(BusError):
    """A send or receive did not complete within its timeout."""


class VenueError(PolybotError):
    """Base for everything coming back from (or failing to reach) a venue."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body


class TemporaryVenueError(VenueError):
    """Transient: safe to retry with backoff (5xx, 425, timeouts, connection resets)."""


class RateLimited(TemporaryVenueError):
    """HTTP 429. ``retry_after_s`` is the server's hint when it sent one."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 429,
        body: Any = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, status=status, body=body)
        self.retry_after_s = retry_after_s


class CircuitOpen(TemporaryVenueError):
    """The circuit breaker is open after repeated failures; calls fail fast until it half-opens."""


class OrderRejected(VenueError):
    """The venue rejected the order; resubmitting it unchanged will fail again."""


class InsufficientFunds(OrderRejected):
    """Not enough balance or allowance for the order."""


class AuthError(VenueError):
    """Authentication failed (bad key, signature or headers): fix the credentials."""


class NotFound(VenueError):
    """The venue does not know the token, market or order."""


class TradingHalted(VenueError):
    """The venue is in trading-disabled, cancel-only or post-only mode."""


class RiskRejected(PolybotError):
    """The risk gate refused an order. ``rule`` names the limit; ``detail`` has the numbers."""

    def __init__(self, rule: str, detail: str, **numbers: Any) -> None:
        super().__init__(f"{rule}: {detail}")
        self.rule = rule
        self.detail = detail
        self.numbers = numbers


class StrategyError(PolybotError):
    """A strategy's own code raised; services isolate it, notebooks re-raise."""

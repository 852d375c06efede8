"""Polymarket's platform fee (reference §8), exact.

``fee = shares × rate × (p·(1−p))^exponent``, charged to the taker in pUSD and floored to
5 decimals (anything under 0.00001 is 0). Verified against 21 real V2 ``OrderFilled`` events.
Makers pay nothing and get ``rebate_rate`` of taker fees back as a rebate.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import msgspec

_FEE_QUANTUM = Decimal("0.00001")


class FeeSchedule(msgspec.Struct, frozen=True, kw_only=True):
    """A market's fee schedule (Gamma ``feeSchedule`` / CLOB ``fd``)."""

    rate: Decimal = Decimal(0)
    exponent: int = 1
    taker_only: bool = True
    rebate_rate: Decimal = Decimal(0)

    @property
    def is_free(self) -> bool:
        """Return True when trades in this market pay no fee."""
        return self.rate == 0


NO_FEES = FeeSchedule()


def taker_fee(shares: Decimal, price: Decimal, schedule: FeeSchedule) -> Decimal:
    """Return the pUSD fee a taker pays for ``shares`` traded at ``price`` (floored to 1e-5)."""
    if schedule.rate == 0 or shares == 0:
        return Decimal(0)
    raw = shares * schedule.rate * (price * (1 - price)) ** schedule.exponent
    return raw.quantize(_FEE_QUANTUM, rounding=ROUND_DOWN)


def maker_rebate(taker_fee_paid: Decimal, schedule: FeeSchedule) -> Decimal:
    """Return the maker's share of a taker fee (floored to 1e-5)."""
    return (taker_fee_paid * schedule.rebate_rate).quantize(_FEE_QUANTUM, rounding=ROUND_DOWN)


def fee_rate_bps(schedule: FeeSchedule) -> int:
    """Return the schedule's rate in basis points (what trade records carry)."""
    return int(schedule.rate * 10_000)

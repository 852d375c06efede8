"""Exact money and price arithmetic.

Floats are fine on the price bus and in analytics. Anything that reaches an order goes through
here first: prices and sizes become ``Decimal`` on the market's tick grid, and pUSD / outcome token
amounts become integer base units (6 decimals).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal

BASE_UNITS = 10**6  # pUSD and outcome tokens both have 6 decimals
_BASE = Decimal(BASE_UNITS)
# Shortest-repr round trip: any decimal with <= 15 significant digits survives float -> repr.
_MAX_REPR_DIGITS = 15


def to_decimal(value: float | int | str | Decimal) -> Decimal:
    """Return the exact decimal a float was meant to be (via its shortest repr), or parse a str.

    ``0.1 + 0.2`` is not ``0.3``; ``to_decimal(0.3)`` is exactly ``Decimal("0.3")``. Raises
    ``ValueError`` for NaN/inf or for floats carrying more precision than prices and sizes ever do.
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise ValueError("a bool is not an amount")
    elif isinstance(value, int):
        return Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        result = Decimal(value.strip())
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    if isinstance(value, float) and len(result.as_tuple().digits) > _MAX_REPR_DIGITS:
        raise ValueError(f"{value!r} has more precision than any price or size")
    return result


def is_on_tick(price: Decimal, tick: Decimal) -> bool:
    """Return True when ``price`` is an exact multiple of ``tick``."""
    return price % tick == 0


def round_down(value: Decimal, places: int) -> Decimal:
    """Truncate toward zero to ``places`` decimals."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)


def round_up(value: Decimal, places: int) -> Decimal:
    """Round away from zero to ``places`` decimals."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_UP)


def decimal_places(value: Decimal) -> int:
    """Return how many decimals ``value`` carries once trailing zeros are dropped."""
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite decimals only
    return max(0, -exponent)


def to_base_units(amount: Decimal) -> int:
    """Convert a pUSD / share amount to integer base units (x10^6, half-even like the SDKs)."""
    return int((amount * _BASE).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def from_base_units(units: int) -> Decimal:
    """Convert integer base units back to a decimal amount."""
    return Decimal(units) / _BASE

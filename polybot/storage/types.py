"""Exact column types for SQLite: ``ExactDecimal`` (Decimal as canonical TEXT) and ``UtcDateTime``.

SQLite has no decimal type: a ``NUMERIC`` column silently turns ``0.1`` into a binary float, and
SQLAlchemy's ``Numeric`` on SQLite warns and goes through float. Money, prices and sizes are stored
as the canonical decimal string instead (no exponent, no trailing zeros: ``Decimal("1E-6")`` is
stored as ``"0.000001"``, ``Decimal("2.50")`` as ``"2.5"``) so equal amounts are equal strings and
a round trip is exact. The price of TEXT: SQL ``ORDER BY``/``SUM`` on these columns is textual, so
do arithmetic in Python (or ``CAST`` deliberately in ad-hoc queries, knowing it is lossy).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.types import String, Text, TypeDecorator

# Sortable and understood by SQLite's date functions; microseconds keep fills in order.
_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def canonical_decimal(value: Decimal | int | str) -> str:
    """Return the canonical string for an exact amount: plain notation, no trailing zeros.

    Raises ``TypeError`` for floats (they are already inexact; convert with
    ``polybot.core.money.to_decimal`` first) and ``ValueError`` for NaN/infinity or non-numbers.
    """
    if isinstance(value, bool):
        raise TypeError("a bool is not an amount")
    if isinstance(value, float):
        raise TypeError(
            f"refusing to store float {value!r} in an exact column; convert it with "
            "polybot.core.money.to_decimal() so the intended decimal is explicit"
        )
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal number") from None
    elif isinstance(value, Decimal):
        number = value
    else:
        raise TypeError(f"expected Decimal, int or str, got {type(value).__name__}")
    if not number.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    if number.is_zero():
        return "0"  # folds -0, 0E-8 and 0.000 into one spelling
    # Not Decimal.normalize(): it rounds to the context's 28 significant digits.
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class ExactDecimal(TypeDecorator[Decimal]):
    """A ``Decimal`` stored as its canonical TEXT; never passes through float."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        """Turn a Decimal (or int/str) into its canonical string; reject floats."""
        if value is None:
            return None
        return canonical_decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Parse the stored string back into the exact Decimal."""
        if value is None:
            return None
        if not isinstance(value, str):
            # A row written by something other than this type (a raw float/int insert).
            raise TypeError(f"exact column holds a {type(value).__name__}, not TEXT: {value!r}")
        return Decimal(value)

    @property
    def python_type(self) -> type[Decimal]:
        """Return ``Decimal``."""
        return Decimal


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC ``datetime`` stored as sortable TEXT ``YYYY-MM-DD HH:MM:SS.ffffff``.

    Naive datetimes are refused: a naive value is a bug waiting for a DST change.
    """

    impl = String(26)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        """Convert an aware datetime to UTC text."""
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC)")
        return value.astimezone(UTC).strftime(_DATETIME_FORMAT)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Parse stored UTC text (ours, or SQLite's ``strftime`` default) into an aware datetime."""
        if value is None:
            return None
        parsed = datetime.fromisoformat(str(value))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

    @property
    def python_type(self) -> type[datetime]:
        """Return ``datetime``."""
        return datetime


def utc_from_ms(timestamp_ms: int) -> datetime:
    """Return the aware UTC datetime for epoch milliseconds (the bus's ``timestamp`` unit)."""
    # timedelta arithmetic is exact; fromtimestamp(ms / 1000) goes through a float.
    return _EPOCH + timedelta(milliseconds=timestamp_ms)

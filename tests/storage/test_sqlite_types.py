"""Exact Decimal and UTC datetime columns round-trip through a real SQLite file unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select
from sqlalchemy.exc import StatementError

from polybot.core.money import to_decimal
from polybot.storage.sqlite import make_engine
from polybot.storage.types import ExactDecimal, UtcDateTime, canonical_decimal, utc_from_ms

AWKWARD = [
    Decimal("0.1") + Decimal("0.2"),      # 0.3 exactly, unlike the floats
    Decimal(repr(0.1 + 0.2)),             # the float sum's own digits: 0.30000000000000004
    Decimal("1E-6"),                      # one base unit
    Decimal("0.000001"),
    Decimal("-0.000001"),
    Decimal("123456789012345678901234567890.123456789"),
    Decimal("1E+3"),
    Decimal("0.999"),
    Decimal("0"),
    to_decimal(0.07),                     # a float price made exact the sanctioned way
]


@pytest.fixture
def amounts(tmp_path: Path) -> tuple[object, Table]:
    engine = make_engine(tmp_path / "types.db")
    metadata = MetaData()
    table = Table(
        "amounts", metadata,
        Column("id", Integer, primary_key=True),
        Column("amount", ExactDecimal),
        Column("at", UtcDateTime),
    )
    metadata.create_all(engine)
    yield engine, table
    engine.dispose()


def test_exact_decimal_awkward_values_round_trip_exactly(amounts) -> None:
    engine, table = amounts
    with engine.begin() as connection:
        connection.execute(insert(table), [{"amount": value} for value in AWKWARD])
    with engine.connect() as connection:
        stored = connection.execute(select(table.c.amount).order_by(table.c.id)).scalars().all()
        raw = connection.exec_driver_sql("SELECT amount, typeof(amount) FROM amounts").all()

    assert stored == AWKWARD
    assert all(isinstance(value, Decimal) for value in stored)
    assert stored[0] == Decimal("0.3")
    assert stored[1] == Decimal("0.30000000000000004")
    assert sum(stored[2:4], Decimal(0)) == Decimal("0.000002")
    assert [row[1] for row in raw] == ["text"] * len(AWKWARD)   # never REAL
    assert raw[2][0] == "0.000001"                             # no exponent notation
    assert raw[6][0] == "1000"


def test_exact_decimal_float_is_refused(amounts) -> None:
    engine, table = amounts
    with pytest.raises(StatementError, match="to_decimal"), engine.begin() as connection:
        connection.execute(insert(table), {"amount": 0.1})


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Decimal("2.50"), "2.5"), (Decimal("-0"), "0"), (Decimal("0E-8"), "0"), (7, "7"),
     (" 0.10 ", "0.1"), (Decimal("1E-7"), "0.0000001"), (Decimal("5E+2"), "500")],
)
def test_canonical_decimal_one_spelling_per_amount(value: Decimal | int | str, expected: str) -> None:
    assert canonical_decimal(value) == expected


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), "abc"])
def test_canonical_decimal_non_numbers_are_refused(value: Decimal | str) -> None:
    with pytest.raises(ValueError):
        canonical_decimal(value)


def test_utc_datetime_round_trips_and_normalises_to_utc(amounts) -> None:
    engine, table = amounts
    plus_two = timezone(timedelta(hours=2))
    moment = datetime(2026, 3, 29, 3, 30, 15, 123456, tzinfo=plus_two)
    with engine.begin() as connection:
        connection.execute(insert(table), {"at": moment})
    with engine.connect() as connection:
        stored = connection.execute(select(table.c.at)).scalar_one()
        raw = connection.exec_driver_sql("SELECT at FROM amounts").scalar_one()

    assert stored == moment
    assert stored.tzinfo is UTC
    assert raw == "2026-03-29 01:30:15.123456"


def test_utc_datetime_naive_is_refused(amounts) -> None:
    engine, table = amounts
    with pytest.raises(StatementError, match="naive"), engine.begin() as connection:
        connection.execute(insert(table), {"at": datetime(2026, 1, 1)})


def test_utc_from_ms_is_exact_to_the_millisecond() -> None:
    assert utc_from_ms(1_767_225_600_123) == datetime(2026, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)

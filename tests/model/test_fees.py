"""The platform fee formula against 21 real V2 ``OrderFilled`` events (Polygon, 2026-09)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fixture_files import load_fixture

from polybot.core.money import from_base_units, to_base_units
from polybot.model.fees import FeeSchedule, fee_rate_bps, maker_rebate, taker_fee

FILLS = load_fixture("nt2026_chain_orderfilled_taker_fees_2026-09.json")


def shares_of(fill: dict[str, str]) -> Decimal:
    # The taker BUYs shares (taker_amount_filled is what it receives) or SELLs them (what it gives).
    amount = fill["taker_amount_filled"] if fill["side"] == "BUY" else fill["maker_amount_filled"]
    return from_base_units(int(amount))


def test_the_capture_has_all_21_fills_of_both_sides() -> None:
    assert len(FILLS) == 21
    assert {fill["side"] for fill in FILLS} == {"BUY", "SELL"}


@pytest.mark.parametrize("fill", FILLS, ids=lambda f: f"{f['side']}-{f['price']}-{f['fee']}")
def test_taker_fee_reproduces_the_on_chain_fee_to_the_base_unit(fill: dict[str, str]) -> None:
    schedule = FeeSchedule(rate=Decimal(fill["fee_rate"]), exponent=1)
    fee = taker_fee(shares_of(fill), Decimal(fill["price"]), schedule)
    assert to_base_units(fee) == int(fill["fee"])


def test_fees_are_floored_to_five_decimals_not_rounded() -> None:
    schedule = FeeSchedule(rate=Decimal("0.07"))
    # 10 × 0.07 × 0.5 × 0.5 = 0.175 exactly; 1 × 0.07 × 0.123 × 0.877 = 0.007551147 → 0.00755
    assert taker_fee(Decimal(10), Decimal("0.5"), schedule) == Decimal("0.17500")
    assert taker_fee(Decimal(1), Decimal("0.123"), schedule) == Decimal("0.00755")
    assert taker_fee(Decimal("0.0001"), Decimal("0.5"), schedule) == Decimal(0)  # under 0.00001


def test_free_markets_and_rebates() -> None:
    assert taker_fee(Decimal(100), Decimal("0.4"), FeeSchedule()) == Decimal(0)
    schedule = FeeSchedule(rate=Decimal("0.05"), rebate_rate=Decimal("0.2"))
    assert maker_rebate(Decimal("0.08500"), schedule) == Decimal("0.01700")
    assert fee_rate_bps(schedule) == 500

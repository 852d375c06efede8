"""Order building: §6.2 amount vectors and properties, validation, signature types, payload."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from fractions import Fraction
from math import ceil, floor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polybot.core.clock import ManualClock
from polybot.venues.polymarket.auth import l2_signature, verify_l2_signature
from polybot.venues.polymarket.contracts import EXCHANGE_V2, EXCHANGE_V3, NEG_RISK_EXCHANGE_V2
from polybot.venues.polymarket.eip712 import order_id, recover_order_signer
from polybot.venues.polymarket.orders import (
    ROUNDING,
    InvalidOrderError,
    OrderBuilder,
    Side,
    batch_payload,
    compact_json,
    limit_order_amounts,
    market_order_amounts,
)
from polybot.venues.polymarket.signer import PrivateKeySigner

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
FUNDER = "0x1111111111111111111111111111111111111111"
NOW_MS = 1_780_449_126_930
TICKS = list(ROUNDING)


def _builder(**kw: Any) -> OrderBuilder:
    return OrderBuilder(
        PrivateKeySigner(KEY), rng=random.Random(1), clock=ManualClock(NOW_MS * 1_000_000), **kw
    )


@pytest.fixture(scope="module")
def vectors(fixtures_dir: Path) -> dict[str, Any]:
    """The recorded signing vectors (reference §6.2)."""
    data: dict[str, Any] = json.loads((fixtures_dir / "signing_vectors.json").read_text())
    return data


def test_amount_vectors(vectors: dict[str, Any]) -> None:
    """Every limit_amounts / market_amounts vector of signing_vectors.json."""
    checked = 0
    for name, expected in vectors.items():
        kind, _, rest = name.partition(" ")
        if kind not in ("limit_amounts", "market_amounts"):
            continue
        fields = dict(part.split("=") for part in rest.split(" ") if "=" in part)
        side = "BUY" if " BUY " in name else "SELL"
        if kind == "limit_amounts":
            got = limit_order_amounts(
                side, Decimal(fields["price"]), Decimal(fields["size"]), fields["tick"]
            )
        else:
            got = market_order_amounts(
                side, Decimal(fields["price"]), Decimal(fields["amount"]), fields["tick"]
            )
        assert got == (expected["makerAmount"], expected["takerAmount"]), name
        checked += 1
    assert checked == 7


def _fit(x: Fraction, places: int) -> Fraction:
    if (x * 10**places).denominator == 1:
        return x
    up = Fraction(ceil(x * 10 ** (places + 4)), 10 ** (places + 4))
    return up if (up * 10**places).denominator == 1 else Fraction(floor(up * 10**places), 10**places)


def _reference(market: bool, side: str, price: Fraction, qty: Fraction, tick: Decimal) -> tuple[
    int, int
]:
    """Exact-rational §6.2 (independent of the Decimal implementation)."""
    amount_dp = ROUNDING[tick].amount
    offered = Fraction(floor(qty * 100), 100)
    if market and side == "BUY":
        maker, taker = offered, _fit(offered / price, amount_dp)
    elif side == "BUY":
        maker, taker = _fit(offered * price, amount_dp), offered
    else:
        maker, taker = offered, _fit(offered * price, amount_dp)
    return int(maker * 10**6), int(taker * 10**6)


@settings(max_examples=400, deadline=None)
@given(
    tick=st.sampled_from(TICKS), step=st.integers(1, 9999), whole=st.integers(1, 10**5),
    frac=st.integers(0, 10**6 - 1), decimals=st.integers(0, 6), side=st.sampled_from(["BUY", "SELL"]), market=st.booleans(),
)
def test_amounts_equal_exact_rational_rules(
    tick: Decimal, step: int, whole: int, frac: int, decimals: int, side: str, market: bool
) -> None:
    """For every tick size, Decimal amounts equal an exact Fraction implementation of §6.2."""
    steps = int(1 / tick)
    price = tick * (1 + step % (steps - 1))
    qty = whole + Decimal(frac % 10**decimals).scaleb(-decimals)
    fn = market_order_amounts if market else limit_order_amounts
    got = fn(side, price, qty, tick)
    assert got == _reference(market, side, Fraction(price), Fraction(qty), tick)
    maker, taker = got
    # Products of a 2-dp size and an on-grid price always fit the amount decimals, so those
    # orders carry exactly the requested price (the server checks maker/taker against the tick).
    if not (market and side == "BUY"):
        implied = Fraction(maker, taker) if side == "BUY" else Fraction(taker, maker)
        assert implied == Fraction(price)


@pytest.mark.parametrize("tick", TICKS)
def test_price_bounds_and_grid(tick: Decimal) -> None:
    """tick ≤ p ≤ 1 − tick and on-grid, for every tick size."""
    limit_order_amounts("BUY", tick, Decimal(10), tick)
    limit_order_amounts("SELL", 1 - tick, Decimal(10), tick)
    for bad in (Decimal(0), tick / 2, 1 - tick / 2, Decimal(1), Decimal("1.5"), -tick):
        with pytest.raises(InvalidOrderError, match="invalid price"):
            limit_order_amounts("BUY", bad, Decimal(10), tick)
    with pytest.raises(InvalidOrderError, match="not a multiple"):
        limit_order_amounts("BUY", tick + tick / 10, Decimal(10), tick)
    # Market prices are truncated to the price decimals, then must be on the grid.
    below_resolution = Decimal(1).scaleb(-ROUNDING[tick].price - 1)
    _, taker = market_order_amounts("SELL", tick * 3 + below_resolution, Decimal(10), tick)
    assert taker == 30 * tick * 10**6
    if tick in (Decimal("0.005"), Decimal("0.0025")):  # price decimals finer than the grid
        with pytest.raises(InvalidOrderError, match="not a multiple"):
            market_order_amounts("SELL", tick * 3 + tick / 5, Decimal(10), tick)


def test_tick_and_size_errors() -> None:
    """Unsupported tick sizes and sizes that round to nothing are clear errors."""
    with pytest.raises(InvalidOrderError, match="unsupported tick size"):
        limit_order_amounts("BUY", Decimal("0.5"), Decimal(1), "0.05")
    with pytest.raises(InvalidOrderError, match="rounds to zero"):
        limit_order_amounts("BUY", Decimal("0.5"), Decimal("0.009"), "0.01")
    with pytest.raises(ValueError):
        limit_order_amounts("HOLD", Decimal("0.5"), Decimal(1), "0.01")
    # Float inputs mean their shortest repr: 0.29 is 0.29, not 0.28999…
    order = _builder().build_limit_order(
        token_id=1, side="BUY", price=0.29, size=71.96, tick_size=0.01
    )
    assert (order.struct.maker_amount, order.struct.taker_amount) == (20868400, 71960000)


def test_signature_types() -> None:
    """maker = funder, signer = EOA; type 3 signer is the deposit wallet itself."""
    eoa = _builder().build_limit_order(token_id=5, side="BUY", price="0.5", size=10, tick_size="0.01")
    assert (eoa.struct.maker, eoa.struct.signer, eoa.struct.signature_type) == (ADDRESS, ADDRESS, 0)
    for sig_type in (1, 2):
        order = _builder(signature_type=sig_type, funder=FUNDER).build_limit_order(
            token_id=5, side="SELL", price="0.5", size=10, tick_size="0.01"
        )
        assert (order.struct.maker, order.struct.signer) == (FUNDER, ADDRESS)
        assert recover_order_signer(order.struct, order.signature, EXCHANGE_V2, 137) == ADDRESS
    wallet = _builder(signature_type=3, funder=FUNDER).build_limit_order(
        token_id=5, side="SELL", price="0.5", size=10, tick_size="0.01"
    )
    assert (wallet.struct.maker, wallet.struct.signer) == (FUNDER, FUNDER)
    assert len(wallet.signature) > 132
    assert recover_order_signer(wallet.struct, wallet.signature, EXCHANGE_V2, 137) == ADDRESS
    with pytest.raises(InvalidOrderError, match="needs a funder"):
        _builder(signature_type=1)
    with pytest.raises(InvalidOrderError, match="funded by the signer"):
        _builder(signature_type=0, funder=FUNDER)
    with pytest.raises(InvalidOrderError, match=r"0\.\.3"):
        _builder(signature_type=4)


def test_time_in_force_rules() -> None:
    """postOnly only with GTC/GTD; GTD needs a future expiration; market orders are FOK/FAK."""
    b = _builder()
    args: dict[str, Any] = {"token_id": 1, "side": "BUY", "price": "0.5", "size": 10,
                            "tick_size": "0.01"}
    now_s = NOW_MS // 1000
    gtd = b.build_limit_order(order_type="GTD", expiration=now_s + 61, post_only=True, **args)
    assert (gtd.order_type, gtd.expiration, gtd.post_only) == ("GTD", now_s + 61, True)
    assert gtd.to_payload("k")["order"]["expiration"] == str(now_s + 61)
    for kind in ("FOK", "FAK"):
        with pytest.raises(InvalidOrderError, match="postOnly"):
            b.build_limit_order(order_type=kind, post_only=True, **args)
    with pytest.raises(InvalidOrderError, match="security buffer"):
        b.build_limit_order(order_type="GTD", expiration=now_s + 60, **args)
    with pytest.raises(InvalidOrderError, match="only for GTD"):
        b.build_limit_order(order_type="GTC", expiration=now_s + 3600, **args)
    with pytest.raises(InvalidOrderError, match="FOK or FAK"):
        b.build_market_order(token_id=1, side="BUY", amount=10, price="0.5", tick_size="0.01",
                             order_type="GTC")
    with pytest.raises(ValueError):
        b.build_limit_order(order_type="IOC", **args)


def test_salt_timestamp_and_identity() -> None:
    """Salt is 53-bit from the injected RNG, timestamp from the clock, id = EIP-712 digest."""
    a = _builder().build_limit_order(token_id="77", side="BUY", price="0.42", size=3, tick_size="0.01")
    b = _builder().build_limit_order(token_id="77", side="BUY", price="0.42", size=3, tick_size="0.01")
    assert a == b  # same RNG seed and clock → same order
    assert 0 <= a.struct.salt < 2**53
    assert a.struct.timestamp == NOW_MS
    assert a.order_id == order_id(a.struct, a.exchange)
    assert (a.shares, a.collateral, a.token_id) == (Decimal(3), Decimal("1.26"), 77)
    salts = {OrderBuilder(PrivateKeySigner(KEY)).new_salt() for _ in range(50)}
    assert len(salts) == 50
    assert max(salts) < 2**53


def test_exchange_choice() -> None:
    """neg_risk picks the NegRisk exchange; Protocol-V2 markets pick ExchangeV3."""
    b = _builder()
    args: dict[str, Any] = {"token_id": 1, "side": "SELL", "price": "0.5", "size": 10,
                            "tick_size": "0.01"}
    assert b.build_limit_order(**args).exchange.address == EXCHANGE_V2
    assert b.build_limit_order(neg_risk=True, **args).exchange.address == NEG_RISK_EXCHANGE_V2
    v3 = b.build_limit_order(market_version="v2", **args).exchange
    assert (v3.address, v3.version) == (EXCHANGE_V3, "3")


def test_payload_types_and_bytes() -> None:
    """Key order, JSON types and the exact compact bytes that get HMAC-signed."""
    order = _builder().build_market_order(
        token_id="71321045679252212594626385532706912750332728571942532289631379312455583992563",
        side=Side.BUY, amount="10", price="0.56", tick_size="0.01", order_type="FAK",
        builder_code="0x" + "AB" * 32,
    )
    payload = order.to_payload("owner-key")
    assert list(payload) == ["order", "owner", "orderType", "deferExec", "postOnly"]
    assert list(payload["order"]) == [
        "salt", "maker", "signer", "tokenId", "makerAmount", "takerAmount", "side", "expiration",
        "signatureType", "timestamp", "metadata", "builder", "signature",
    ]
    o = payload["order"]
    assert isinstance(o["salt"], int)
    assert isinstance(o["signatureType"], int)
    assert (o["makerAmount"], o["takerAmount"], o["side"]) == ("10000000", "17857100", "BUY")
    assert (o["expiration"], o["timestamp"], o["builder"]) == ("0", str(NOW_MS), "0x" + "ab" * 32)
    assert (payload["orderType"], payload["deferExec"], payload["postOnly"]) == ("FAK", False, False)
    body = order.to_json("owner-key")
    assert b" " not in body
    assert json.loads(body) == payload
    assert body == compact_json(payload)
    sig = l2_signature("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 1, "POST", "/order", body)
    assert verify_l2_signature(
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 1, "POST", "/order", body, sig
    )
    assert batch_payload([order, order], "k", defer_exec=True)[1]["deferExec"] is True
    with pytest.raises(InvalidOrderError, match=r"1\.\.15"):
        batch_payload([order] * 16, "k")
    for bad_token in ("0x12", "-1", "", 1.5):
        with pytest.raises(InvalidOrderError, match="token id"):
            _builder().build_limit_order(
                token_id=bad_token, side="BUY", price="0.5", size=10, tick_size="0.01"  # type: ignore[arg-type]
            )
    with pytest.raises(InvalidOrderError, match="metadata"):
        _builder().build_limit_order(
            token_id=1, side="BUY", price="0.5", size=10, tick_size="0.01", metadata="0x01"
        )

"""Differential tests: PolyBot's order builder vs the official py-clob-client-v2 OrderBuilder.

Both sides get the same inputs, salt and millisecond timestamp (the SDK reads them from
``time.time_ns`` and the salt generator handed to ``ExchangeOrderBuilderV2``; both are patched
for the duration of the test). Where the two compute the same amounts, signature and POST payload
must be identical. Where they don't, the SDK's binary-float rounding is the one that is off:
that is checked against an exact rational (Fraction) implementation of reference §6.2.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from math import ceil, floor
from typing import Any

import pytest
from py_clob_client_v2.clob_types import CreateOrderOptions, MarketOrderArgsV2, OrderArgsV2
from py_clob_client_v2.order_builder import builder as sdk_builder_mod
from py_clob_client_v2.order_utils.exchange_order_builder_v2 import ExchangeOrderBuilderV2
from py_clob_client_v2.order_utils.model.order_data_v2 import OrderDataV2, order_to_json_v2
from py_clob_client_v2.order_utils.model.side import Side as SdkSide
from py_clob_client_v2.order_utils.model.signature_type_v2 import SignatureTypeV2
from py_clob_client_v2.signer import Signer as SdkSigner

from polybot.core.clock import ManualClock
from polybot.venues.polymarket.orders import ROUNDING, OrderBuilder, SignedOrder, compact_json
from polybot.venues.polymarket.signer import PrivateKeySigner, to_checksum_address

N_CASES = 700
OWNER = "6d1c1a0e-8d7b-4c55-9a43-1e0b6f2c9a11"
TICKS = [str(t) for t in ROUNDING]


@dataclass
class Case:
    """One random order, in the inputs both builders understand."""

    key: str
    market: bool
    tick: str
    side: str
    price: Decimal
    qty: Decimal            # shares (limit / market SELL) or pUSD (market BUY)
    neg_risk: bool
    v3: bool
    sig_type: int
    funder: str | None
    token_id: str
    order_type: str
    post_only: bool
    expiration: int
    metadata: str
    builder: str
    ts_ms: int
    seed: int


def _hex32(rng: random.Random) -> str:
    return "0x" + (rng.randbytes(32).hex() if rng.random() < 0.3 else "00" * 32)


def random_case(rng: random.Random, keys: list[str]) -> Case:
    """Draw an order across tick sizes, sides, kinds, exchanges and signature types."""
    tick = rng.choice(TICKS)
    steps = int(1 / Decimal(tick))
    price = Decimal(tick) * rng.randint(1, steps - 1)
    market = rng.random() < 0.4
    decimals = rng.randint(0, 4)
    # Limit sizes from one base unit of the chosen precision, market orders from $1 / 1 share.
    low = 10**decimals if market else 1
    qty = Decimal(rng.randint(low, 5000 * 10**decimals)).scaleb(-decimals)
    sig_type = rng.randint(0, 3)
    funder = None if sig_type == 0 else to_checksum_address(rng.randbytes(20))
    ts_ms = rng.randint(1_700_000_000_000, 1_900_000_000_000)
    if market:
        order_type, post_only, expiration = rng.choice(["FOK", "FAK"]), False, 0
    else:
        order_type = rng.choice(["GTC", "GTD", "FOK", "FAK"])
        post_only = order_type in ("GTC", "GTD") and rng.random() < 0.5
        expiration = ts_ms // 1000 + rng.randint(61, 10**6) if order_type == "GTD" else 0
    return Case(
        key=rng.choice(keys), market=market, tick=tick, side=rng.choice(["BUY", "SELL"]),
        price=price, qty=qty, neg_risk=rng.random() < 0.5, v3=rng.random() < 0.2,
        sig_type=sig_type, funder=funder, token_id=str(rng.getrandbits(rng.choice([16, 64, 255]))),
        order_type=order_type, post_only=post_only, expiration=expiration,
        metadata=_hex32(rng), builder=_hex32(rng), ts_ms=ts_ms, seed=rng.getrandbits(64),
    )


def build_ours(case: Case, signer: PrivateKeySigner) -> SignedOrder:
    """Build the case with PolyBot (seeded RNG, manual clock)."""
    builder = OrderBuilder(
        signer, chain_id=137, signature_type=case.sig_type, funder=case.funder,
        rng=random.Random(case.seed), clock=ManualClock(case.ts_ms * 1_000_000),
    )
    common: dict[str, Any] = {
        "token_id": case.token_id, "side": case.side, "price": case.price,
        "tick_size": case.tick, "neg_risk": case.neg_risk,
        "market_version": "v2" if case.v3 else None, "order_type": case.order_type,
        "metadata": case.metadata, "builder_code": case.builder,
    }
    if case.market:
        return builder.build_market_order(amount=case.qty, **common)
    return builder.build_limit_order(
        size=case.qty, expiration=case.expiration, post_only=case.post_only, **common
    )


class _Injected:
    """Stands in for the ``time`` module inside the SDK builder and feeds it our salt."""

    salt = 0
    ts_ms = 0

    def time_ns(self) -> int:
        return self.ts_ms * 1_000_000


@pytest.fixture
def sdk_inject(monkeypatch: pytest.MonkeyPatch) -> _Injected:
    """Patch the SDK builder so its salt and timestamp are ours."""
    inj = _Injected()
    monkeypatch.setattr(sdk_builder_mod, "time", inj)
    monkeypatch.setattr(
        sdk_builder_mod, "ExchangeOrderBuilderV2",
        lambda *a, **kw: ExchangeOrderBuilderV2(*a, generate_salt=lambda: str(inj.salt), **kw),
    )
    return inj


def build_sdk(case: Case, inj: _Injected, salt: int) -> dict[str, Any]:
    """Build the case with the official builder; return its POST /order payload dict."""
    inj.salt, inj.ts_ms = salt, case.ts_ms
    sdk = sdk_builder_mod.OrderBuilder(
        SdkSigner(case.key, 137), SignatureTypeV2(case.sig_type), case.funder
    )
    asset = {"position_id": case.token_id} if case.v3 else {"token_id": case.token_id}
    options = CreateOrderOptions(tick_size=case.tick, neg_risk=case.neg_risk)
    if case.market:
        args: Any = MarketOrderArgsV2(
            amount=float(case.qty), side=case.side, price=float(case.price),
            order_type=case.order_type, builder_code=case.builder, metadata=case.metadata, **asset,
        )
        signed = sdk.build_market_order(args, options)
    else:
        args = OrderArgsV2(
            price=float(case.price), size=float(case.qty), side=case.side,
            expiration=case.expiration, builder_code=case.builder, metadata=case.metadata,
            **asset,
        )
        signed = sdk.build_order(args, options)
    payload: dict[str, Any] = order_to_json_v2(
        signed, OWNER, case.order_type, case.post_only, False
    )
    return payload


# ---- exact rational reference of §6.2 (independent of the Decimal code under test) ----------

def _fit(x: Fraction, places: int) -> Fraction:
    if (x * 10**places).denominator == 1:
        return x
    up = Fraction(ceil(x * 10 ** (places + 4)), 10 ** (places + 4))
    if (up * 10**places).denominator == 1:
        return up
    return Fraction(floor(up * 10**places), 10**places)


def reference_amounts(case: Case) -> tuple[int, int]:
    """(makerAmount, takerAmount) computed with exact fractions."""
    cfg = ROUNDING[Decimal(case.tick)]
    price = Fraction(case.price)
    offered = Fraction(floor(Fraction(case.qty) * 100), 100)
    if case.market and case.side == "BUY":
        maker, taker = offered, _fit(offered / price, cfg.amount)
    elif case.side == "BUY":
        maker, taker = _fit(offered * price, cfg.amount), offered
    else:
        maker, taker = offered, _fit(offered * price, cfg.amount)
    return int(maker * 10**6), int(taker * 10**6)


@pytest.fixture(scope="module")
def keys() -> list[str]:
    """A few random private keys (the key changes the signature, not the rules)."""
    rng = random.Random(20261124)
    return ["0x" + rng.randbytes(32).hex() for _ in range(4)]


def test_full_builder_matches_official_sdk(sdk_inject: _Injected, keys: list[str]) -> None:
    """build_order/build_market_order on random orders: identical wherever amounts agree."""
    rng = random.Random(7)
    signers = {k: PrivateKeySigner(k) for k in keys}
    identical = float_divergent = 0
    seen = {"market": 0, "limit": 0, "v3": 0, "neg_risk": 0, **{f"sig{i}": 0 for i in range(4)}}
    for _ in range(N_CASES):
        case = random_case(rng, keys)
        ours = build_ours(case, signers[case.key])
        theirs = build_sdk(case, sdk_inject, ours.struct.salt)
        our_amounts = (ours.struct.maker_amount, ours.struct.taker_amount)
        sdk_amounts = (int(theirs["order"]["makerAmount"]), int(theirs["order"]["takerAmount"]))
        if our_amounts == sdk_amounts:
            mine = ours.to_payload(OWNER)
            assert mine == theirs, case
            assert list(mine) == list(theirs)
            assert list(mine["order"]) == list(theirs["order"])
            assert ours.to_json(OWNER) == compact_json(theirs)
            identical += 1
            seen["market" if case.market else "limit"] += 1
            seen["v3"] += case.v3
            seen["neg_risk"] += case.neg_risk and not case.v3
            seen[f"sig{case.sig_type}"] += 1
        else:
            # Only the SDK's float rounding may differ from exact §6.2 arithmetic.
            assert our_amounts == reference_amounts(case), case
            assert sdk_amounts != reference_amounts(case), case
            float_divergent += 1
    print(f"identical={identical} float_divergent={float_divergent} {seen}")
    assert identical >= 500, (identical, float_divergent)
    assert min(seen.values()) >= 20, seen


def test_signing_and_payload_identical_for_every_order(keys: list[str]) -> None:
    """Give the SDK's V2/V3 exchange builder our amounts: every signature must be identical."""
    rng = random.Random(8)
    signers = {k: PrivateKeySigner(k) for k in keys}
    for _ in range(N_CASES):
        case = random_case(rng, keys)
        ours = build_ours(case, signers[case.key])
        s = ours.struct
        sdk_signer = SdkSigner(case.key, 137)
        exchange = ExchangeOrderBuilderV2(
            ours.exchange.address, 137, sdk_signer,
            generate_salt=lambda salt=s.salt: str(salt), domain_version=ours.exchange.version,
        )
        data = OrderDataV2(
            maker=s.maker, tokenId=case.token_id, makerAmount=str(s.maker_amount),
            takerAmount=str(s.taker_amount), side=SdkSide(s.side), signer=s.signer,
            signatureType=SignatureTypeV2(s.signature_type), timestamp=str(s.timestamp),
            metadata=s.metadata, builder=s.builder, expiration=str(case.expiration),
        )
        signed = exchange.build_signed_order(data)
        assert signed.signature == ours.signature, case
        expected = order_to_json_v2(signed, OWNER, case.order_type, case.post_only, True)
        assert ours.to_payload(OWNER, defer_exec=True) == expected
        order_hash = exchange.build_order_hash(exchange.build_order_typed_data(signed))
        assert order_hash == ours.order_id


@pytest.mark.parametrize(
    ("market", "tick", "side", "price", "qty", "exact", "sdk"),
    [
        # floor(71.96 * 100) == 7195 in binary floats: the SDK buys 71.95 shares, not 71.96.
        (False, "0.01", "BUY", "0.4", "71.96", (28784000, 71960000), (28780000, 71950000)),
        # round_down(0.29, 2) == 0.28 in floats: a market SELL's worst price silently drops a tick.
        (True, "0.01", "SELL", "0.29", "2932", (2932000000, 850280000), (2932000000, 820960000)),
    ],
)
def test_known_float_divergences(
    sdk_inject: _Injected, keys: list[str], market: bool, tick: str, side: str, price: str,
    qty: str, exact: tuple[int, int], sdk: tuple[int, int],
) -> None:
    """Pin the SDK float artefacts we deliberately do not reproduce (docs/signing.md)."""
    case = Case(
        key=keys[0], market=market, tick=tick, side=side, price=Decimal(price), qty=Decimal(qty),
        neg_risk=False, v3=False, sig_type=0, funder=None, token_id="1", order_type="FOK",
        post_only=False, expiration=0, metadata="0x" + "00" * 32, builder="0x" + "00" * 32,
        ts_ms=1_780_000_000_000, seed=1,
    )
    ours = build_ours(case, PrivateKeySigner(keys[0]))
    theirs = build_sdk(case, sdk_inject, ours.struct.salt)
    assert (ours.struct.maker_amount, ours.struct.taker_amount) == exact == reference_amounts(case)
    assert (int(theirs["order"]["makerAmount"]), int(theirs["order"]["takerAmount"])) == sdk

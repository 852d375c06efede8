"""EIP-712 order hashing/signing: recorded vectors, eth_account cross-checks, recovery, V3 domain."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from eth_account.messages import encode_typed_data
from eth_utils.address import to_checksum_address as eth_checksum
from eth_utils.crypto import keccak

from polybot.venues.polymarket.contracts import (
    EXCHANGE_V2,
    EXCHANGE_V3,
    EXCHANGE_V3_AMOY,
    NEG_RISK_EXCHANGE_V2,
)
from polybot.venues.polymarket.eip712 import (
    SIG_POLY_1271,
    OrderStruct,
    exchange_domain,
    order_digest,
    order_id,
    recover_order_signer,
    select_exchange,
    sign_order,
    sign_order_digest,
)
from polybot.venues.polymarket.signer import (
    InvalidSignatureError,
    PrivateKeySigner,
    recover_address,
    to_checksum_address,
)

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
N = 2**256 - 432420386565659656852420866394968145599  # secp256k1 group order
VECTOR_ORDER = OrderStruct(
    salt=479249096354, maker=ADDRESS, signer=ADDRESS, token_id=1234, maker_amount=50000000,
    taker_amount=100000000, side=0, signature_type=0, timestamp=1780449126930,
)


@pytest.fixture(scope="module")
def vectors(fixtures_dir: Path) -> dict[str, Any]:
    """The recorded signing vectors (reference §6)."""
    data: dict[str, Any] = json.loads((fixtures_dir / "signing_vectors.json").read_text())
    return data


def test_order_vectors_standard_and_neg_risk(vectors: dict[str, Any]) -> None:
    """Digest and signature of the reference order on both V2 exchanges."""
    signer = PrivateKeySigner(KEY)
    for name, neg_risk in (
        ("v2_order_std_exchange_chain137", False),
        ("v2_order_negrisk_exchange_chain137_same_order", True),
    ):
        domain = select_exchange(neg_risk=neg_risk)
        assert order_id(VECTOR_ORDER, domain) == vectors[name]["hash"]
        assert sign_order(VECTOR_ORDER, signer, domain) == vectors[name]["signature"]
        assert sign_order_digest(VECTOR_ORDER, signer, domain) == (
            bytes.fromhex(vectors[name]["hash"][2:]), vectors[name]["signature"]
        )


def _typed_data(order: OrderStruct, address: str, version: str, chain_id: int) -> dict[str, Any]:
    return {
        "primaryType": "Order",
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Order": [
                {"name": n, "type": t} for n, t in [
                    ("salt", "uint256"), ("maker", "address"), ("signer", "address"),
                    ("tokenId", "uint256"), ("makerAmount", "uint256"),
                    ("takerAmount", "uint256"), ("side", "uint8"), ("signatureType", "uint8"),
                    ("timestamp", "uint256"), ("metadata", "bytes32"), ("builder", "bytes32"),
                ]
            ],
        },
        "domain": {"name": "Polymarket CTF Exchange", "version": version, "chainId": chain_id,
                   "verifyingContract": address},
        "message": {
            "salt": order.salt, "maker": order.maker, "signer": order.signer,
            "tokenId": order.token_id, "makerAmount": order.maker_amount,
            "takerAmount": order.taker_amount, "side": order.side,
            "signatureType": order.signature_type, "timestamp": order.timestamp,
            "metadata": bytes.fromhex(order.metadata[2:]), "builder": bytes.fromhex(order.builder[2:]),
        },
    }


def _random_order(rng: random.Random, signer: str) -> OrderStruct:
    return OrderStruct(
        salt=rng.getrandbits(rng.choice([8, 53, 256])),
        maker=to_checksum_address(rng.randbytes(20)), signer=signer,
        token_id=rng.getrandbits(256), maker_amount=rng.getrandbits(64),
        taker_amount=rng.getrandbits(64), side=rng.randint(0, 1),
        signature_type=rng.randint(0, 2), timestamp=rng.getrandbits(42),
        metadata="0x" + rng.randbytes(32).hex(), builder="0x" + rng.randbytes(32).hex(),
    )


@pytest.mark.parametrize(
    ("address", "version", "chain_id"),
    [(EXCHANGE_V2, "2", 137), (NEG_RISK_EXCHANGE_V2, "2", 137), (EXCHANGE_V3, "3", 137),
     (EXCHANGE_V3_AMOY, "3", 80002)],
)
def test_digest_matches_eth_account(address: str, version: str, chain_id: int) -> None:
    """Our word-concatenation hashing equals eth_account's generic EIP-712 encoder."""
    rng = random.Random(address + version)
    domain = exchange_domain(address, chain_id, version)
    for _ in range(40):
        order = _random_order(rng, ADDRESS)
        msg = encode_typed_data(full_message=_typed_data(order, address, version, chain_id))
        expected = keccak(b"\x19" + msg.version + msg.header + msg.body)
        assert order_digest(order, domain) == expected


def test_v3_domain_differs_only_in_version_and_contract() -> None:
    """Protocol-V2 markets sign against ExchangeV3 with domain version "3"; nothing else moves."""
    v3 = select_exchange(neg_risk=False, market_version="v2")
    assert (v3.address, v3.version, v3.chain_id) == (EXCHANGE_V3, "3", 137)
    assert select_exchange(neg_risk=True, market_version="v2") == v3  # no neg-risk V3 exchange
    amoy = select_exchange(neg_risk=False, market_version="v2", chain_id=80002)
    assert (amoy.address, amoy.version) == (EXCHANGE_V3_AMOY, "3")
    v2 = select_exchange(neg_risk=False)
    assert (v2.address, v2.version) == (EXCHANGE_V2, "2")
    assert select_exchange(neg_risk=True).address == NEG_RISK_EXCHANGE_V2
    # Changing only the version, or only the contract, gives distinct separators.
    assert exchange_domain(EXCHANGE_V3, 137, "2").separator != v3.separator
    assert exchange_domain(EXCHANGE_V2, 137, "3").separator != v3.separator
    assert v2.separator != v3.separator
    assert order_digest(VECTOR_ORDER, v2) != order_digest(VECTOR_ORDER, v3)
    with pytest.raises(ValueError, match="ExchangeV3"):
        select_exchange(neg_risk=False, market_version="v2", chain_id=1)


def test_recovery_round_trips_on_all_exchanges() -> None:
    """sign → recover gives the signer back; any change to the order gives someone else."""
    rng = random.Random(11)
    for _ in range(60):
        signer = PrivateKeySigner(rng.randbytes(32))
        domain = rng.choice([select_exchange(neg_risk=False), select_exchange(neg_risk=True),
                             select_exchange(neg_risk=False, market_version="v2")])
        order = _random_order(rng, signer.address)
        sig = sign_order(order, signer, domain)
        assert len(sig) == 132
        assert int(sig[-2:], 16) in (27, 28)
        got = recover_order_signer(order, sig, domain.address, 137, domain.version)
        assert got == signer.address
        tampered = replace(order, taker_amount=order.taker_amount + 1)
        assert recover_order_signer(tampered, sig, domain.address, 137, domain.version) != got
        other_version = "3" if domain.version == "2" else "2"
        assert recover_order_signer(order, sig, domain.address, 137, other_version) != got


def test_poly_1271_wrapper_recovers_wallet_owner() -> None:
    """Type 3: the EOA owning the deposit wallet is recovered; wrong domain/order is rejected."""
    owner = PrivateKeySigner(KEY)
    wallet = "0x" + "ab" * 20
    order = replace(VECTOR_ORDER, maker=to_checksum_address(wallet),
                    signer=to_checksum_address(wallet), signature_type=SIG_POLY_1271)
    domain = select_exchange(neg_risk=False)
    sig = sign_order(order, owner, domain)
    raw = bytes.fromhex(sig[2:])
    assert raw[65:97] == domain.separator
    assert int.from_bytes(raw[-2:], "big") == len(raw) - 129 - 2
    assert recover_order_signer(order, sig, domain.address, 137) == ADDRESS
    with pytest.raises(InvalidSignatureError, match="another exchange"):
        recover_order_signer(order, sig, NEG_RISK_EXCHANGE_V2, 137)
    with pytest.raises(InvalidSignatureError, match="another order"):
        recover_order_signer(replace(order, salt=1), sig, domain.address, 137)
    with pytest.raises(InvalidSignatureError, match="POLY_1271"):
        recover_order_signer(order, sig[:-4], domain.address, 137)


def test_recover_rejects_malformed_signatures() -> None:
    """Wrong length, bad v, high-s and non-hex are InvalidSignatureError (a ValueError)."""
    signer = PrivateKeySigner(KEY)
    digest = bytes(range(32))
    sig = signer.sign_digest(digest)
    assert recover_address(digest, sig) == ADDRESS
    assert recover_address(digest, sig[:64] + bytes((sig[64] - 27,))) == ADDRESS  # v as 0/1
    high_s = (N - int.from_bytes(sig[32:64], "big")).to_bytes(32, "big")
    flipped = sig[:32] + high_s + bytes((55 - sig[64],))  # same point, malleable twin
    for bad in (sig[:64], sig[:64] + b"\x1d", flipped, "0xnothex", bytes(65)):
        with pytest.raises(InvalidSignatureError):
            recover_address(digest, bad)


def test_struct_validation() -> None:
    """Out-of-range fields fail before hashing instead of wrapping silently."""
    domain = select_exchange(neg_risk=False)
    for bad in (
        replace(VECTOR_ORDER, side=2), replace(VECTOR_ORDER, signature_type=4),
        replace(VECTOR_ORDER, salt=-1), replace(VECTOR_ORDER, token_id=2**256),
        replace(VECTOR_ORDER, metadata="0x1234"), replace(VECTOR_ORDER, maker="0x1234"),
        replace(VECTOR_ORDER, builder="0x" + "zz" * 32),
    ):
        with pytest.raises(ValueError):
            order_digest(bad, domain)


def test_checksum_and_key_handling() -> None:
    """EIP-55 matches eth_utils; the signer never shows its key."""
    rng = random.Random(5)
    for _ in range(100):
        raw = rng.randbytes(20)
        assert to_checksum_address("0x" + raw.hex()) == eth_checksum("0x" + raw.hex())
    signer = PrivateKeySigner(KEY[2:])
    assert signer.address == ADDRESS
    assert KEY[2:] not in repr(signer)
    assert KEY[2:] not in str(signer)
    for bad_key in ("0x00", "0x" + "00" * 32, "0x" + "ff" * 32, "zz"):
        with pytest.raises(ValueError):
            PrivateKeySigner(bad_key)
    with pytest.raises(ValueError):
        signer.sign_digest(b"short")

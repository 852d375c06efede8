"""L1 (ClobAuth EIP-712) and L2 (HMAC) auth: official vectors, SDK differential, verification."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import pytest
from py_clob_client_v2.clob_types import ApiCreds as SdkApiCreds
from py_clob_client_v2.clob_types import RequestArgs
from py_clob_client_v2.headers.headers import create_level_1_headers, create_level_2_headers
from py_clob_client_v2.signer import Signer as SdkSigner

from polybot.venues.polymarket.auth import (
    ApiCreds,
    clob_auth_signature,
    l1_headers,
    l2_headers,
    l2_signature,
    recover_clob_auth_address,
    verify_clob_auth,
    verify_l2_signature,
)
from polybot.venues.polymarket.signer import InvalidSignatureError, PrivateKeySigner

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
SECRET = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


@pytest.fixture(scope="module")
def vectors(fixtures_dir: Path) -> dict[str, Any]:
    """The recorded signing vectors (reference §3.2, §6)."""
    data: dict[str, Any] = json.loads((fixtures_dir / "signing_vectors.json").read_text())
    return data


def test_hmac_official_vector(vectors: dict[str, Any]) -> None:
    """The py-clob-client HMAC vector (method and body signed verbatim, '=' padding kept)."""
    sig = l2_signature(SECRET, 1000000, "test-sign", "/orders", '{"hash": "0x123"}')
    assert sig == vectors["hmac_AAAA_1000000_test-sign_/orders"]
    assert sig.endswith("=")
    assert l2_signature(SECRET, "1000000", "test-sign", "/orders", b'{"hash": "0x123"}') == sig


def test_hmac_body_is_signed_byte_exact() -> None:
    """Whitespace in the body changes the signature; no body equals an empty body."""
    compact = l2_signature(SECRET, 1, "POST", "/order", '{"a":1}')
    spaced = l2_signature(SECRET, 1, "POST", "/order", '{"a": 1}')
    assert compact != spaced
    assert l2_signature(SECRET, 1, "GET", "/data/orders", None) == l2_signature(
        SECRET, 1, "GET", "/data/orders", ""
    )
    # Non-ASCII goes in as UTF-8, exactly like json.dumps(ensure_ascii=False).encode().
    assert l2_signature(SECRET, 1, "POST", "/x", "é") == l2_signature(
        SECRET, 1, "POST", "/x", "é".encode()
    )


def test_hmac_matches_sdk_on_random_requests() -> None:
    """create_level_2_headers of the official SDK agrees on random secrets/paths/bodies."""
    rng = random.Random(3)
    sdk_signer = SdkSigner(KEY, 137)
    for _ in range(200):
        secret = base64.urlsafe_b64encode(rng.randbytes(32)).decode()
        creds = ApiCreds("key-" + str(rng.random()), secret, "pass")
        method = rng.choice(["GET", "POST", "DELETE"])
        path = rng.choice(["/order", "/orders", "/data/trades", "/auth/api-keys"])
        body = rng.choice([None, '{"orderID":"0x' + rng.randbytes(32).hex() + '"}', "[1,2]"])
        ts = rng.randint(1_600_000_000, 1_900_000_000)
        ours = l2_headers(ADDRESS, creds, method, path, body, timestamp=ts)
        theirs = create_level_2_headers(
            sdk_signer, SdkApiCreds(creds.api_key, secret, "pass"),
            RequestArgs(method=method, request_path=path, body=None, serialized_body=body),
            timestamp=ts,
        )
        assert ours == theirs


def test_verify_l2_signature() -> None:
    """Verification accepts the exact request and rejects any changed part."""
    args = (SECRET, 1700000000, "POST", "/order", b'{"x":1}')
    sig = l2_signature(*args)
    assert verify_l2_signature(*args, sig)
    assert not verify_l2_signature(SECRET, 1700000001, "POST", "/order", b'{"x":1}', sig)
    assert not verify_l2_signature(SECRET, 1700000000, "POST", "/orders", b'{"x":1}', sig)
    assert not verify_l2_signature(SECRET, 1700000000, "POST", "/order", b'{"x":2}', sig)
    assert not verify_l2_signature(SECRET, 1700000000, "POST", "/order", b'{"x":1}', sig[:-1])
    assert not verify_l2_signature(*args, "ünïcode")


def test_bad_secret_is_a_clear_error() -> None:
    """A secret that is not base64 fails loudly instead of signing garbage."""
    with pytest.raises(ValueError, match="base64"):
        l2_signature("abc", 1, "GET", "/x")


def test_l2_headers_shape() -> None:
    """Five POLY_* headers, strings, timestamp in seconds."""
    creds = ApiCreds("k-1", SECRET, "pp")
    headers = l2_headers(ADDRESS, creds, "GET", "/data/orders", timestamp=1234)
    assert headers == {
        "POLY_ADDRESS": ADDRESS,
        "POLY_SIGNATURE": l2_signature(SECRET, 1234, "GET", "/data/orders"),
        "POLY_TIMESTAMP": "1234",
        "POLY_API_KEY": "k-1",
        "POLY_PASSPHRASE": "pp",
    }
    assert l2_headers(ADDRESS, creds, "GET", "/x")["POLY_TIMESTAMP"].isdigit()


def test_api_creds_never_show_secrets() -> None:
    """repr/str carry the key only."""
    creds = ApiCreds.from_response({"apiKey": "the-key", "secret": "s3cr3t", "passphrase": "pw"})
    assert creds == ApiCreds("the-key", "s3cr3t", "pw")
    for text in (repr(creds), str(creds), f"{creds}"):
        assert "the-key" in text
        assert "s3cr3t" not in text
        assert "pw" not in text


@pytest.mark.parametrize(
    ("chain_id", "name"),
    [(80002, "clob_auth_sig_chain80002_ts10000000_nonce23"),
     (137, "clob_auth_sig_chain137_ts10000000_nonce23")],
)
def test_clob_auth_vectors(chain_id: int, name: str, vectors: dict[str, Any]) -> None:
    """ClobAuth signature vectors, and L1 headers built from them."""
    signer = PrivateKeySigner(KEY)
    assert signer.address == ADDRESS
    assert clob_auth_signature(signer, chain_id, 10000000, 23) == vectors[name]
    assert l1_headers(signer, chain_id, nonce=23, timestamp=10000000) == {
        "POLY_ADDRESS": ADDRESS,
        "POLY_SIGNATURE": vectors[name],
        "POLY_TIMESTAMP": "10000000",
        "POLY_NONCE": "23",
    }


def test_l1_headers_match_sdk_on_random_keys() -> None:
    """create_level_1_headers agrees for random keys, nonces, timestamps and both chains."""
    rng = random.Random(4)
    for _ in range(30):
        key = "0x" + rng.randbytes(32).hex()
        chain = rng.choice([137, 80002])
        nonce, ts = rng.randint(0, 2**64), rng.randint(0, 2_000_000_000)
        ours = l1_headers(PrivateKeySigner(key), chain, nonce=nonce, timestamp=ts)
        assert ours == create_level_1_headers(SdkSigner(key, chain), nonce, ts)


def test_clob_auth_recovery_and_verification() -> None:
    """The venue side: recover the signer, reject other addresses/timestamps/nonces/chains."""
    signer = PrivateKeySigner(KEY)
    sig = clob_auth_signature(signer, 137, 1700000000, 5)
    assert recover_clob_auth_address(sig, ADDRESS, "1700000000", 5, 137) == ADDRESS
    assert verify_clob_auth(sig, ADDRESS.lower(), 1700000000, 5, 137)
    other = "0x" + "11" * 20
    assert not verify_clob_auth(sig, other, 1700000000, 5, 137)
    assert not verify_clob_auth(sig, ADDRESS, 1700000001, 5, 137)
    assert not verify_clob_auth(sig, ADDRESS, 1700000000, 6, 137)
    assert not verify_clob_auth(sig, ADDRESS, 1700000000, 5, 80002)
    # The timestamp is a *string* in the struct: a zero-padded header is a different message.
    assert not verify_clob_auth(sig, ADDRESS, "01700000000", 5, 137)
    assert not verify_clob_auth("0x1234", ADDRESS, 1700000000, 5, 137)
    assert not verify_clob_auth(sig, "not-an-address", 1700000000, 5, 137)
    with pytest.raises(InvalidSignatureError):
        recover_clob_auth_address("0xzz", ADDRESS, 1, 0, 137)

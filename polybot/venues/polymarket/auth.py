"""CLOB authentication (reference §3.2): L1 ``ClobAuth`` EIP-712 headers and L2 HMAC headers.

Both directions live here: the client builds headers, the local venue verifies them with the
same code paths (:func:`recover_clob_auth_address`, :func:`verify_l2_signature`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any, Final

from polybot.venues.polymarket.signer import (
    PrivateKeySigner,
    address_bytes,
    keccak256,
    recover_address,
    to_checksum_address,
)

CLOB_AUTH_DOMAIN_NAME: Final = "ClobAuthDomain"
CLOB_AUTH_DOMAIN_VERSION: Final = "1"
CLOB_AUTH_MESSAGE: Final = "This message attests that I control the given wallet"
CLOB_AUTH_DOMAIN_TYPEHASH: Final = keccak256(
    b"EIP712Domain(string name,string version,uint256 chainId)"
)
CLOB_AUTH_TYPEHASH: Final = keccak256(
    b"ClobAuth(address address,string timestamp,uint256 nonce,string message)"
)
_MESSAGE_HASH: Final = keccak256(CLOB_AUTH_MESSAGE.encode())

POLY_ADDRESS: Final = "POLY_ADDRESS"
POLY_SIGNATURE: Final = "POLY_SIGNATURE"
POLY_TIMESTAMP: Final = "POLY_TIMESTAMP"
POLY_NONCE: Final = "POLY_NONCE"
POLY_API_KEY: Final = "POLY_API_KEY"
POLY_PASSPHRASE: Final = "POLY_PASSPHRASE"


@dataclass(frozen=True, slots=True)
class ApiCreds:
    """L2 API credentials. ``repr``/``str`` show the key only, never secret or passphrase."""

    api_key: str
    secret: str = field(repr=False)
    passphrase: str = field(repr=False)

    @classmethod
    def from_response(cls, data: dict[str, Any]) -> ApiCreds:
        """Build from the ``/auth/api-key`` / ``/auth/derive-api-key`` JSON response."""
        return cls(
            api_key=str(data["apiKey"]),
            secret=str(data["secret"]),
            passphrase=str(data["passphrase"]),
        )


def _now_s() -> int:
    return int(time.time())


# --------------------------------------------------------------------------------------------
# L2: HMAC-SHA256


def _hmac_message(
    timestamp: int | str, method: str, request_path: str, body: bytes | str | None
) -> bytes:
    head = f"{timestamp}{method}{request_path}".encode()
    if body is None:
        return head
    # Sign the exact bytes that go on the wire; re-serialising a dict here is how signatures break.
    return head + (body if isinstance(body, bytes) else body.encode())


def l2_signature(
    secret: str,
    timestamp: int | str,
    method: str,
    request_path: str,
    body: bytes | str | None = None,
) -> str:
    """Return ``urlsafe_b64(HMAC_SHA256(urlsafe_b64decode(secret), ts+method+path+body))``.

    ``request_path`` is the path without host or query string. ``body`` must be the exact request
    body (bytes or str) or ``None``. The result keeps its ``=`` padding, like the SDKs'.
    """
    try:
        key = base64.urlsafe_b64decode(secret)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"API secret is not urlsafe base64: {exc}") from None
    mac = hmac.new(key, _hmac_message(timestamp, method, request_path, body), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode("ascii")


def verify_l2_signature(
    secret: str,
    timestamp: int | str,
    method: str,
    request_path: str,
    body: bytes | str | None,
    signature: str,
) -> bool:
    """Return True when ``signature`` is the L2 HMAC of this request (constant-time compare)."""
    expected = l2_signature(secret, timestamp, method, request_path, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace"))


def l2_headers(
    address: str,
    creds: ApiCreds,
    method: str,
    request_path: str,
    body: bytes | str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    """Return the five ``POLY_*`` L2 headers; ``address`` is the signer EOA, not the funder."""
    ts = _now_s() if timestamp is None else timestamp
    return {
        POLY_ADDRESS: address,
        POLY_SIGNATURE: l2_signature(creds.secret, ts, method, request_path, body),
        POLY_TIMESTAMP: str(ts),
        POLY_API_KEY: creds.api_key,
        POLY_PASSPHRASE: creds.passphrase,
    }


# --------------------------------------------------------------------------------------------
# L1: EIP-712 ClobAuth


def clob_auth_domain_separator(chain_id: int) -> bytes:
    """Return the ``ClobAuthDomain`` v1 separator (no verifyingContract) for ``chain_id``."""
    return keccak256(
        CLOB_AUTH_DOMAIN_TYPEHASH
        + keccak256(CLOB_AUTH_DOMAIN_NAME.encode())
        + keccak256(CLOB_AUTH_DOMAIN_VERSION.encode())
        + chain_id.to_bytes(32, "big")
    )


def clob_auth_digest(address: str, chain_id: int, timestamp: int | str, nonce: int) -> bytes:
    """Return the EIP-712 digest of ``ClobAuth{address, str(timestamp), nonce, message}``.

    ``timestamp`` is a *string* in the struct: the venue must hash the header text as received.
    """
    if not 0 <= nonce < 1 << 256:
        raise ValueError(f"nonce {nonce} is outside uint256")
    struct_hash = keccak256(
        CLOB_AUTH_TYPEHASH
        + bytes(12)
        + address_bytes(address)
        + keccak256(str(timestamp).encode())
        + nonce.to_bytes(32, "big")
        + _MESSAGE_HASH
    )
    return keccak256(b"\x19\x01" + clob_auth_domain_separator(chain_id) + struct_hash)


def clob_auth_signature(
    signer: PrivateKeySigner, chain_id: int, timestamp: int | str, nonce: int = 0
) -> str:
    """Return the ``0x`` 65-byte signature of the ClobAuth message for ``signer.address``."""
    return signer.sign_digest_hex(clob_auth_digest(signer.address, chain_id, timestamp, nonce))


def l1_headers(
    signer: PrivateKeySigner, chain_id: int, nonce: int = 0, timestamp: int | None = None
) -> dict[str, str]:
    """Return ``POLY_ADDRESS/SIGNATURE/TIMESTAMP/NONCE`` for ``/auth/api-key`` and derive."""
    ts = _now_s() if timestamp is None else timestamp
    return {
        POLY_ADDRESS: signer.address,
        POLY_SIGNATURE: clob_auth_signature(signer, chain_id, ts, nonce),
        POLY_TIMESTAMP: str(ts),
        POLY_NONCE: str(nonce),
    }


def recover_clob_auth_address(
    signature: str | bytes, address: str, timestamp: int | str, nonce: int, chain_id: int
) -> str:
    """Return the checksummed address that signed a ClobAuth for ``address``.

    The caller accepts the L1 request iff the result equals ``address`` (compare checksummed or
    lower-cased). Raises :class:`~.signer.InvalidSignatureError` when malformed.
    """
    return recover_address(clob_auth_digest(address, chain_id, timestamp, nonce), signature)


def verify_clob_auth(
    signature: str | bytes, address: str, timestamp: int | str, nonce: int, chain_id: int
) -> bool:
    """Return True when ``signature`` is ``address``'s ClobAuth for these values; never raises
    on bad signatures or addresses (a venue turns False into HTTP 401)."""
    try:
        recovered = recover_clob_auth_address(signature, address, timestamp, nonce, chain_id)
        return recovered == to_checksum_address(address)
    except ValueError:  # InvalidSignatureError is a ValueError, as is a malformed address
        return False

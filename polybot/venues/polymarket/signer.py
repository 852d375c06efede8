"""secp256k1 primitives for Polymarket signing: keccak, EIP-55 addresses, an EOA signer, recovery.

Everything here talks to ``coincurve`` (libsecp256k1) and pycryptodome's keccak directly instead
of going through ``eth_account``: building an ``Account`` and its ``SignableMessage`` costs more
than the ECDSA itself (stack-notes §4), and order signing is on the hot path.

libsecp256k1 signs with RFC 6979 deterministic nonces and low-s normalisation, which is what
``eth_keys``' coincurve backend uses as well, so signatures are byte-identical to the SDKs'.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

import coincurve
from Crypto.Hash import keccak as _keccak_mod

_SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class InvalidSignatureError(ValueError):
    """A signature is malformed or does not recover to any public key."""


def keccak256(data: bytes) -> bytes:
    """Return the 32-byte Keccak-256 digest (Ethereum's, not NIST SHA3-256)."""
    return _keccak_mod.new(digest_bits=256, data=data).digest()


def to_checksum_address(address: str | bytes) -> str:
    """Return the EIP-55 mixed-case form of a 20-byte address (hex string or raw bytes)."""
    raw = address if isinstance(address, bytes) else address_bytes(address)
    return _checksum(raw)


@lru_cache(maxsize=4096)
def _checksum(raw: bytes) -> str:
    # Addresses repeat (a handful of makers/signers per process), so the keccak is cached.
    lower = raw.hex()
    hashed = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if c in "abcdef" and int(h, 16) >= 8 else c
        for c, h in zip(lower, hashed[:40], strict=True)
    )


@lru_cache(maxsize=4096)
def address_bytes(address: str) -> bytes:
    """Parse a ``0x``-prefixed 20-byte hex address (any case; checksum not enforced) to bytes."""
    text = address[2:] if address[:2] in ("0x", "0X") else address
    if len(text) != 40:
        raise ValueError(f"not a 20-byte address: {address!r}")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"not a hex address: {address!r}") from None


def _parse_private_key(private_key: str | bytes) -> bytes:
    if isinstance(private_key, bytes):
        raw = private_key
    else:
        text = private_key[2:] if private_key[:2] in ("0x", "0X") else private_key
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise ValueError("private key is not hex") from None
    if len(raw) != 32 or not 0 < int.from_bytes(raw, "big") < _SECP256K1_N:
        raise ValueError("private key must be 32 bytes in [1, n-1]")
    return raw


def public_key_to_address(public_key: coincurve.PublicKey) -> str:
    """Return the checksummed Ethereum address of a secp256k1 public key."""
    return _checksum(keccak256(public_key.format(compressed=False)[1:])[12:])


class PrivateKeySigner:
    """An EOA key that signs 32-byte digests; reused across orders (no per-order key parsing).

    ``repr``/``str`` show only the address: the key must never reach logs or notebooks.
    """

    __slots__ = ("_address", "_key")

    def __init__(self, private_key: str | bytes) -> None:
        self._key = coincurve.PrivateKey(_parse_private_key(private_key))
        self._address = public_key_to_address(self._key.public_key)

    @property
    def address(self) -> str:
        """The signer's EIP-55 checksummed address."""
        return self._address

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a 32-byte digest; return 65 bytes ``r || s || v`` with ``v`` in {27, 28}."""
        if len(digest) != 32:
            raise ValueError("digest must be 32 bytes")
        sig = self._key.sign_recoverable(digest, hasher=None)
        # coincurve returns r||s||recid (recid 0/1); Ethereum wants v = 27 + recid.
        return sig[:64] + bytes((sig[64] + 27,))

    def sign_digest_hex(self, digest: bytes) -> str:
        """Like :meth:`sign_digest` but as a ``0x``-prefixed lowercase hex string."""
        return "0x" + self.sign_digest(digest).hex()

    def __repr__(self) -> str:
        return f"PrivateKeySigner(address={self._address})"


def signature_bytes(signature: str | bytes) -> bytes:
    """Decode a ``0x`` hex (or raw) signature; raise :class:`InvalidSignatureError` if not hex."""
    if isinstance(signature, bytes):
        return signature
    text = signature[2:] if signature[:2] in ("0x", "0X") else signature
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise InvalidSignatureError("signature is not hex") from None


def recover_address(digest: bytes, signature: str | bytes) -> str:
    """Return the checksummed address that produced a 65-byte ``r||s||v`` signature of ``digest``.

    Accepts ``v`` as 27/28 or 0/1. Raises :class:`InvalidSignatureError` for anything unrecoverable,
    including high-s signatures (Ethereum/OpenZeppelin ECDSA rejects those, so must a venue).
    """
    sig = signature_bytes(signature)
    if len(sig) != 65:
        raise InvalidSignatureError(f"expected a 65-byte signature, got {len(sig)} bytes")
    v = sig[64]
    recid = v - 27 if v >= 27 else v
    if recid not in (0, 1):
        raise InvalidSignatureError(f"bad recovery id v={v}")
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:64], "big")
    if not (0 < r < _SECP256K1_N and 0 < s <= _SECP256K1_N // 2):
        raise InvalidSignatureError("r/s out of range (or high-s)")
    try:
        public = coincurve.PublicKey.from_signature_and_message(
            sig[:64] + bytes((recid,)), digest, hasher=None
        )
    except Exception as exc:  # libsecp256k1 reports failures as a bare Exception
        raise InvalidSignatureError(f"signature does not recover: {exc}") from None
    return public_key_to_address(public)

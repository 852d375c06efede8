"""Fast EIP-712 hashing, signing and recovery for CTF Exchange V2/V3 orders (reference §6.1).

The typed-data machinery of ``eth_account`` re-parses the type list and re-hashes the domain on
every call. The Order struct is fixed, so here the type hash and each domain separator are
computed once and the struct hash is a single keccak over eleven 32-byte ABI words::

    digest = keccak(0x1901 || domainSeparator || keccak(ORDER_TYPEHASH || word(salt) || ... ))

Signature type 3 (``POLY_1271``, deposit wallets) is an ERC-1271 signature in Solady's
``TypedDataSign`` wrapper; it is built and checked here too (see :func:`sign_order`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from polybot.venues.polymarket.contracts import (
    AMOY_CHAIN_ID,
    EXCHANGE_V2,
    EXCHANGE_V3,
    EXCHANGE_V3_AMOY,
    NEG_RISK_EXCHANGE_V2,
    POLYGON_CHAIN_ID,
    ZERO_BYTES32,
)
from polybot.venues.polymarket.signer import (
    InvalidSignatureError,
    PrivateKeySigner,
    address_bytes,
    keccak256,
    recover_address,
    signature_bytes,
    to_checksum_address,
)

EXCHANGE_DOMAIN_NAME: Final = "Polymarket CTF Exchange"
ORDER_TYPE_STRING: Final = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,"
    "uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,"
    "bytes32 builder)"
)
ORDER_TYPEHASH: Final = keccak256(ORDER_TYPE_STRING.encode())
DOMAIN_TYPEHASH: Final = keccak256(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)

# Solady ERC-1271 "TypedDataSign" nesting used by Polymarket deposit wallets (signature type 3).
TYPED_DATA_SIGN_TYPEHASH: Final = keccak256(
    (
        "TypedDataSign(Order contents,string name,string version,uint256 chainId,"
        "address verifyingContract,bytes32 salt)" + ORDER_TYPE_STRING
    ).encode()
)
_DEPOSIT_WALLET_NAME_HASH: Final = keccak256(b"DepositWallet")
_DEPOSIT_WALLET_VERSION_HASH: Final = keccak256(b"1")
_ORDER_TYPE_BYTES: Final = ORDER_TYPE_STRING.encode()
_POLY_1271_TAIL: Final = _ORDER_TYPE_BYTES + len(_ORDER_TYPE_BYTES).to_bytes(2, "big")
_POLY_1271_LEN: Final = 65 + 32 + 32 + len(_POLY_1271_TAIL)

SIDE_BUY: Final = 0
SIDE_SELL: Final = 1
SIG_EOA: Final = 0
SIG_POLY_PROXY: Final = 1
SIG_POLY_GNOSIS_SAFE: Final = 2
SIG_POLY_1271: Final = 3

_PAD12: Final = bytes(12)
_ZERO_WORD: Final = bytes(32)
_UINT256_LIMIT: Final = 1 << 256


@dataclass(frozen=True, slots=True)
class ExchangeDomain:
    """One EIP-712 domain of the exchange, with its separator precomputed."""

    address: str
    chain_id: int
    version: str
    separator: bytes


@lru_cache(maxsize=64)
def exchange_domain(address: str, chain_id: int, version: str = "2") -> ExchangeDomain:
    """Return the (cached) domain for ``verifyingContract=address`` on ``chain_id``."""
    raw = address_bytes(address)
    separator = keccak256(
        DOMAIN_TYPEHASH
        + keccak256(EXCHANGE_DOMAIN_NAME.encode())
        + keccak256(version.encode())
        + chain_id.to_bytes(32, "big")
        + _PAD12
        + raw
    )
    return ExchangeDomain(to_checksum_address(raw), chain_id, version, separator)


def select_exchange(
    *, neg_risk: bool, market_version: str | None = None, chain_id: int = POLYGON_CHAIN_ID
) -> ExchangeDomain:
    """Pick the exchange an order must be signed for.

    Protocol-V2 markets (Gamma ``version == "v2"``, assets are ``positionIds``) go to ExchangeV3
    with domain version ``"3"``; they have no separate neg-risk exchange. Every other market goes
    to the CTF Exchange V2, or the NegRisk CTF Exchange V2 when the market's ``neg_risk`` is true,
    with domain version ``"2"``.
    """
    if market_version == "v2":
        if chain_id == POLYGON_CHAIN_ID:
            return exchange_domain(EXCHANGE_V3, chain_id, "3")
        if chain_id == AMOY_CHAIN_ID:
            return exchange_domain(EXCHANGE_V3_AMOY, chain_id, "3")
        raise ValueError(f"no ExchangeV3 known for chain {chain_id}")
    return exchange_domain(NEG_RISK_EXCHANGE_V2 if neg_risk else EXCHANGE_V2, chain_id, "2")


@dataclass(frozen=True, slots=True)
class OrderStruct:
    """The signed V2 Order struct, in exact on-chain types.

    ``side``: 0 BUY / 1 SELL. ``timestamp``: milliseconds. ``metadata``/``builder``: ``0x`` +
    64 hex chars. ``expiration`` is not here on purpose: V2 carries it in JSON only.
    """

    salt: int
    maker: str
    signer: str
    token_id: int
    maker_amount: int
    taker_amount: int
    side: int
    signature_type: int
    timestamp: int
    metadata: str = ZERO_BYTES32
    builder: str = ZERO_BYTES32


@lru_cache(maxsize=1024)
def bytes32_from_hex(value: str) -> bytes:
    """Parse a ``0x``-prefixed 32-byte hex string (metadata, builder code) to 32 bytes."""
    text = value[2:] if value[:2] in ("0x", "0X") else value
    if len(text) != 64:
        raise ValueError(f"not a bytes32 hex string: {value!r}")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"not a bytes32 hex string: {value!r}") from None


def _uint256(value: int, name: str) -> bytes:
    if not 0 <= value < _UINT256_LIMIT:
        raise ValueError(f"{name}={value} is outside uint256")
    return value.to_bytes(32, "big")


def order_struct_hash(order: OrderStruct) -> bytes:
    """Return ``hashStruct(order)``: keccak over the type hash and the eleven ABI words."""
    if order.side not in (SIDE_BUY, SIDE_SELL):
        raise ValueError(f"side must be 0 (BUY) or 1 (SELL), got {order.side}")
    if not 0 <= order.signature_type <= SIG_POLY_1271:
        raise ValueError(f"signatureType must be 0..3, got {order.signature_type}")
    return keccak256(
        b"".join(
            (
                ORDER_TYPEHASH,
                _uint256(order.salt, "salt"),
                _PAD12,
                address_bytes(order.maker),
                _PAD12,
                address_bytes(order.signer),
                _uint256(order.token_id, "tokenId"),
                _uint256(order.maker_amount, "makerAmount"),
                _uint256(order.taker_amount, "takerAmount"),
                order.side.to_bytes(32, "big"),
                order.signature_type.to_bytes(32, "big"),
                _uint256(order.timestamp, "timestamp"),
                bytes32_from_hex(order.metadata),
                bytes32_from_hex(order.builder),
            )
        )
    )


def order_digest(order: OrderStruct, domain: ExchangeDomain) -> bytes:
    """Return the 32-byte EIP-712 digest of ``order``; its hex is the CLOB's order id."""
    return keccak256(b"\x19\x01" + domain.separator + order_struct_hash(order))


def order_id(order: OrderStruct, domain: ExchangeDomain) -> str:
    """Return the order id the CLOB reports: ``0x`` + hex of :func:`order_digest`."""
    return "0x" + order_digest(order, domain).hex()


def _poly_1271_digest(contents_hash: bytes, wallet: str, domain: ExchangeDomain) -> bytes:
    # The deposit wallet validates a TypedDataSign struct whose own "domain" fields are the
    # wallet's (name "DepositWallet", version "1", verifyingContract = the wallet), nested inside
    # the exchange's domain separator.
    typed_sign_hash = keccak256(
        b"".join(
            (
                TYPED_DATA_SIGN_TYPEHASH,
                contents_hash,
                _DEPOSIT_WALLET_NAME_HASH,
                _DEPOSIT_WALLET_VERSION_HASH,
                domain.chain_id.to_bytes(32, "big"),
                _PAD12,
                address_bytes(wallet),
                _ZERO_WORD,
            )
        )
    )
    return keccak256(b"\x19\x01" + domain.separator + typed_sign_hash)


def sign_order_digest(
    order: OrderStruct, signer: PrivateKeySigner, domain: ExchangeDomain
) -> tuple[bytes, str]:
    """Return ``(digest, signature_hex)``; one struct hash serves both the id and the signature."""
    struct_hash = order_struct_hash(order)
    digest = keccak256(b"\x19\x01" + domain.separator + struct_hash)
    if order.signature_type != SIG_POLY_1271:
        return digest, signer.sign_digest_hex(digest)
    inner = signer.sign_digest(_poly_1271_digest(struct_hash, order.signer, domain))
    wrapped = inner + domain.separator + struct_hash + _POLY_1271_TAIL
    return digest, "0x" + wrapped.hex()


def sign_order(order: OrderStruct, signer: PrivateKeySigner, domain: ExchangeDomain) -> str:
    """Sign an order; return the ``0x`` hex signature the CLOB expects.

    Types 0–2: a 65-byte ECDSA signature of the order digest (``v`` 27/28). Type 3: the EOA owning
    the deposit wallet (``order.signer``) signs the ``TypedDataSign`` digest and the result is
    ``sig65 || domainSeparator || contentsHash || contentsType || uint16(len(contentsType))``.
    """
    return sign_order_digest(order, signer, domain)[1]


def recover_order_signer(
    order: OrderStruct,
    signature: str | bytes,
    exchange: str,
    chain_id: int,
    domain_version: str = "2",
) -> str:
    """Return the checksummed address of the EOA that signed ``order`` for this exchange.

    For types 0–2 that must equal ``order.signer``. For type 3 the wrapper is checked against this
    exchange's domain and this order's struct hash, and the wallet owner's EOA is returned (whether
    it owns ``order.signer`` is on-chain state). Raises :class:`InvalidSignatureError` if malformed.
    """
    domain = exchange_domain(exchange, chain_id, domain_version)
    struct_hash = order_struct_hash(order)
    if order.signature_type != SIG_POLY_1271:
        return recover_address(keccak256(b"\x19\x01" + domain.separator + struct_hash), signature)
    raw = signature_bytes(signature)
    if len(raw) != _POLY_1271_LEN or raw[129:] != _POLY_1271_TAIL:
        raise InvalidSignatureError("not a POLY_1271 TypedDataSign signature for the V2 Order type")
    if raw[65:97] != domain.separator:
        raise InvalidSignatureError("POLY_1271 signature is for another exchange domain")
    if raw[97:129] != struct_hash:
        raise InvalidSignatureError("POLY_1271 signature is for another order")
    return recover_address(_poly_1271_digest(struct_hash, order.signer, domain), raw[:65])

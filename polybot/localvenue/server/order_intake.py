"""Turn one ``POST /order`` item into a checked :class:`PostOrder` (reference §3.3, §6.1, §9.5).

The checks the HTTP layer owns, in the real CLOB's order: payload shape → owner is the API key
→ signer is the API key's address (banned / closed-only addresses refused) → EIP-712 signature
recovered against the market's exchange (CTF Exchange V2, NegRisk V2 by ``neg_risk``, ExchangeV3
with domain ``"3"`` for Protocol-V2 markets). Tick, size, balance and matching rules are the
exchange core's. Failures raise :class:`IntakeError` carrying the official text and status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from polybot.localvenue.orders import PostOrder
from polybot.localvenue.server import errors
from polybot.localvenue.server.clob_auth import ApiKeyRecord
from polybot.localvenue.server.context import VenueContext
from polybot.venues.polymarket import eip712
from polybot.venues.polymarket.contracts import ZERO_BYTES32
from polybot.venues.polymarket.signer import InvalidSignatureError, to_checksum_address
from polybot.venues.sim.book import Side
from polybot.venues.sim.matcher import TimeInForce

_UINT = re.compile(r"^[0-9]{1,78}$")
_BYTES32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


@dataclass(frozen=True, slots=True)
class IntakeError(Exception):
    """A refusal before the order reaches the core."""

    message: str
    status: int = 400
    order_id: str = ""


def _uint(value: Any) -> int:
    # Amounts, ids and timestamps arrive as decimal strings; salt as a JSON number.
    if isinstance(value, bool):
        raise ValueError("bool is not a uint")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("negative")
        return value
    if isinstance(value, str) and _UINT.match(value):
        return int(value)
    raise ValueError(f"not a uint: {value!r}")


def _address(value: Any) -> str:
    if not isinstance(value, str) or not _ADDRESS.match(value):
        raise ValueError(f"not an address: {value!r}")
    return to_checksum_address(value)


def _bytes32(value: Any) -> str:
    if value is None:
        return ZERO_BYTES32
    if not isinstance(value, str) or not _BYTES32.match(value):
        raise ValueError(f"not bytes32: {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class ParsedOrder:
    """The JSON order item, typed."""

    struct: eip712.OrderStruct
    signature: str
    owner: str
    order_type: TimeInForce
    expiration: int
    post_only: bool
    defer_exec: bool


def parse_item(item: Any) -> ParsedOrder:
    """Parse one ``{"order": {...}, "owner", "orderType", ...}`` item or raise 400."""
    try:
        if not isinstance(item, dict):
            raise ValueError("item is not an object")
        order = item["order"]
        if not isinstance(order, dict):
            raise ValueError("order is not an object")
        side_text = order["side"]
        if side_text not in ("BUY", "SELL"):
            raise ValueError("side")
        signature = order["signature"]
        if not isinstance(signature, str) or not signature.startswith("0x"):
            raise ValueError("signature")
        sig_type = order.get("signatureType", 0)
        if isinstance(sig_type, bool) or not isinstance(sig_type, int):
            raise ValueError("signatureType")
        struct = eip712.OrderStruct(
            salt=_uint(order["salt"]),
            maker=_address(order["maker"]),
            signer=_address(order["signer"]),
            token_id=_uint(order["tokenId"]),
            maker_amount=_uint(order["makerAmount"]),
            taker_amount=_uint(order["takerAmount"]),
            side=eip712.SIDE_BUY if side_text == "BUY" else eip712.SIDE_SELL,
            signature_type=sig_type,
            timestamp=_uint(order["timestamp"]),
            metadata=_bytes32(order.get("metadata")),
            builder=_bytes32(order.get("builder")),
        )
        if not 0 <= sig_type <= eip712.SIG_POLY_1271:
            raise ValueError("signatureType out of range")
        owner = item["owner"]
        if not isinstance(owner, str):
            raise ValueError("owner")
        order_type = TimeInForce(item.get("orderType", "GTC"))
        post_only = item.get("postOnly", False)
        defer_exec = item.get("deferExec", False)
        if not isinstance(post_only, bool) or not isinstance(defer_exec, bool):
            raise ValueError("flags")
        expiration = _uint(order.get("expiration", "0"))
    except (KeyError, ValueError, TypeError):
        raise IntakeError(errors.INVALID_ORDER_PAYLOAD) from None
    return ParsedOrder(struct, signature, owner, order_type, expiration, post_only, defer_exec)


def check_item(venue: VenueContext, key: ApiKeyRecord, parsed: ParsedOrder) -> PostOrder:
    """Apply owner, signer, ban and signature checks; return the order for the core."""
    struct = parsed.struct
    if parsed.owner != key.api_key:
        raise IntakeError(errors.OWNER_MISMATCH)
    # Deposit wallets (type 3) put the wallet in ``signer``; the key's EOA is the one recovered.
    if struct.signature_type != eip712.SIG_POLY_1271 and struct.signer.lower() != key.address.lower():
        raise IntakeError(errors.SIGNER_MISMATCH)
    for address in {key.address.lower(), struct.maker.lower()}:
        if address in venue.banned:
            raise IntakeError(errors.address_banned(to_checksum_address(address)))
        if address in venue.closed_only:
            raise IntakeError(errors.address_closed_only(to_checksum_address(address)))
    asset_id = str(struct.token_id)
    try:
        state = venue.exchange.market_by_asset(asset_id)
    except KeyError:
        raise IntakeError(errors.INVALID_TOKEN_ID) from None
    domain = eip712.select_exchange(
        neg_risk=state.spec.neg_risk, market_version=state.spec.version.value,
        chain_id=venue.chain_id,
    )
    order_id = eip712.order_id(struct, domain)
    try:
        recovered = eip712.recover_order_signer(
            struct, parsed.signature, domain.address, venue.chain_id, domain.version
        )
    except (InvalidSignatureError, ValueError):
        raise IntakeError(errors.INVALID_SIGNATURE, order_id=order_id) from None
    expected = key.address if struct.signature_type == eip712.SIG_POLY_1271 else struct.signer
    if recovered.lower() != expected.lower():
        raise IntakeError(errors.INVALID_SIGNATURE, order_id=order_id)
    # On chain an EOA order must have maker == signer, and a proxy/Safe/deposit wallet must belong
    # to the signer. The local venue has no wallet factories, so a non-EOA maker must be linked to
    # the signer through the admin API (``/_polybot/admin/funder``); otherwise anyone could spend
    # anyone's balance by naming it as maker.
    maker, signer = struct.maker.lower(), key.address.lower()
    if maker != signer and maker not in venue.funders.get(signer, set()):
        raise IntakeError(errors.INVALID_SIGNATURE, order_id=order_id)
    return PostOrder(
        order_id=order_id,
        api_key=parsed.owner,
        maker=struct.maker,
        signer=struct.signer,
        asset_id=asset_id,
        side=Side.BUY if struct.side == eip712.SIDE_BUY else Side.SELL,
        maker_amount=struct.maker_amount,
        taker_amount=struct.taker_amount,
        order_type=parsed.order_type,
        expiration=parsed.expiration,
        post_only=parsed.post_only,
        defer_exec=parsed.defer_exec,
        timestamp_ms=struct.timestamp,
        salt=struct.salt,
    )

"""Build, round, sign and serialise CLOB V2 orders (reference §3.3, §6).

Amounts follow the exact-decimal ``ROUNDING_CONFIG`` rules of §6.2 (the unified SDK's, done in
``Decimal``). The legacy float implementation in ``py-clob-client-v2`` agrees with these rules
except where binary floats misround (e.g. ``floor(71.96 * 100)`` is 7195); see docs/signing.md.

The JSON for ``POST /order`` is produced with the same key order and value types as the
official SDK, and :func:`compact_json` gives the exact bytes to send *and* to HMAC-sign.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from decimal import Context, Decimal
from enum import StrEnum
from typing import Any, Final

from polybot.core.clock import Clock, WallClock
from polybot.core.errors import PolybotError
from polybot.core.money import decimal_places, round_down, round_up, to_base_units, to_decimal
from polybot.venues.polymarket.contracts import POLYGON_CHAIN_ID, ZERO_BYTES32
from polybot.venues.polymarket.eip712 import (
    SIG_EOA,
    SIG_POLY_1271,
    ExchangeDomain,
    OrderStruct,
    bytes32_from_hex,
    select_exchange,
    sign_order_digest,
)
from polybot.venues.polymarket.signer import PrivateKeySigner, address_bytes, to_checksum_address

MAX_ORDERS_PER_BATCH: Final = 15
# The CLOB drops GTD orders expiring within its ~60 s security buffer (reference §6.2).
GTD_MIN_LEAD_S: Final = 60
_SALT_BITS: Final = 53  # the unified SDK's salt width; keeps salts exact as JSON numbers
# Our own context, so a notebook changing the global decimal context cannot change amounts.
_CTX: Final = Context(prec=28)
_ONE: Final = Decimal(1)


class InvalidOrderError(PolybotError, ValueError):
    """The order cannot be built as given (price off-grid or out of bounds, size rounds to 0…).

    Raised before anything is signed or sent; it is a ``ValueError`` too.
    """


class Side(StrEnum):
    """Order side; ``code`` is the uint8 in the signed struct (BUY 0, SELL 1)."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def code(self) -> int:
        """The on-chain uint8 value."""
        return 0 if self is Side.BUY else 1


class OrderType(StrEnum):
    """Time in force: GTC, GTD (needs ``expiration``), FOK (all or nothing), FAK (IOC)."""

    GTC = "GTC"
    GTD = "GTD"
    FOK = "FOK"
    FAK = "FAK"


@dataclass(frozen=True, slots=True)
class RoundConfig:
    """Decimal places for price, size (shares) and amounts (collateral) at one tick size."""

    price: int
    size: int
    amount: int


ROUNDING: Final[dict[Decimal, RoundConfig]] = {
    Decimal("0.1"): RoundConfig(price=1, size=2, amount=3),
    Decimal("0.01"): RoundConfig(price=2, size=2, amount=4),
    Decimal("0.005"): RoundConfig(price=3, size=2, amount=5),
    Decimal("0.0025"): RoundConfig(price=4, size=2, amount=6),
    Decimal("0.001"): RoundConfig(price=3, size=2, amount=5),
    Decimal("0.0001"): RoundConfig(price=4, size=2, amount=6),
}


def rounding_for(tick_size: Decimal | str | float) -> tuple[Decimal, RoundConfig]:
    """Return ``(tick, RoundConfig)`` for a supported tick size, else raise InvalidOrderError."""
    tick = to_decimal(tick_size)
    config = ROUNDING.get(tick)
    if config is None:
        supported = ", ".join(str(t) for t in ROUNDING)
        raise InvalidOrderError(f"unsupported tick size {tick_size} (supported: {supported})")
    return tick, config


def check_price(price: Decimal, tick: Decimal) -> None:
    """Raise InvalidOrderError unless ``tick <= price <= 1 - tick`` and price is on the grid."""
    if not tick <= price <= _ONE - tick:
        raise InvalidOrderError(f"invalid price ({price}), min: {tick} - max: {_ONE - tick}")
    if price % tick != 0:
        raise InvalidOrderError(f"price {price} is not a multiple of the tick size {tick}")


def _fit(value: Decimal, places: int) -> Decimal:
    # §6.2: a product/quotient with too many decimals is first rounded *up* at places+4 (absorbs
    # representation noise such as 17.857142857…), and only truncated if still too long.
    if decimal_places(value) > places:
        value = round_up(value, places + 4)
        if decimal_places(value) > places:
            value = round_down(value, places)
    return value


def _amounts(maker: Decimal, taker: Decimal, what: str) -> tuple[int, int]:
    maker_units, taker_units = to_base_units(maker), to_base_units(taker)
    if maker_units <= 0 or taker_units <= 0:
        raise InvalidOrderError(f"{what} rounds to zero (maker {maker}, taker {taker})")
    return maker_units, taker_units


def limit_order_amounts(
    side: Side | str, price: Decimal, size: Decimal, tick_size: Decimal | str | float
) -> tuple[int, int]:
    """Return ``(makerAmount, takerAmount)`` base units for a limit order of ``size`` shares.

    BUY offers collateral for shares; SELL offers shares for collateral. ``price`` must be on the
    tick grid (checked). Sizes are truncated to 2 decimals.
    """
    tick, config = rounding_for(tick_size)
    check_price(price, tick)
    shares = round_down(size, config.size)
    collateral = _fit(_CTX.multiply(shares, price), config.amount)
    if Side(side) is Side.BUY:
        return _amounts(collateral, shares, f"limit BUY of {size} @ {price}")
    return _amounts(shares, collateral, f"limit SELL of {size} @ {price}")


def market_price(price: Decimal, tick_size: Decimal | str | float) -> Decimal:
    """Validate a market order's worst acceptable price and truncate it to the price decimals."""
    tick, config = rounding_for(tick_size)
    if not tick <= price <= _ONE - tick:
        raise InvalidOrderError(f"invalid price ({price}), min: {tick} - max: {_ONE - tick}")
    rounded = round_down(price, config.price)
    check_price(rounded, tick)
    return rounded


def market_order_amounts(
    side: Side | str, price: Decimal, amount: Decimal, tick_size: Decimal | str | float
) -> tuple[int, int]:
    """Return ``(makerAmount, takerAmount)`` for a FOK/FAK market order.

    BUY: ``amount`` is pUSD to spend, shares = amount / price. SELL: ``amount`` is shares.
    ``price`` is the worst acceptable price (from walking the book), truncated to the tick's
    price decimals.
    """
    _, config = rounding_for(tick_size)
    worst = market_price(price, tick_size)
    offered = round_down(amount, config.size)
    if Side(side) is Side.BUY:
        shares = _fit(_CTX.divide(offered, worst), config.amount)
        return _amounts(offered, shares, f"market BUY of ${amount} @ {worst}")
    collateral = _fit(_CTX.multiply(offered, worst), config.amount)
    return _amounts(offered, collateral, f"market SELL of {amount} @ {worst}")


@dataclass(frozen=True, slots=True)
class SignedOrder:
    """A signed V2 order plus what ``POST /order`` needs; ``order_id`` is the EIP-712 digest."""

    struct: OrderStruct
    signature: str
    order_id: str
    exchange: ExchangeDomain
    side: Side
    price: Decimal
    tick_size: Decimal
    order_type: OrderType
    expiration: int = 0
    post_only: bool = False

    @property
    def token_id(self) -> int:
        """Token id (or Protocol-V2 position id) as an int."""
        return self.struct.token_id

    @property
    def shares(self) -> Decimal:
        """Outcome shares bought or sold (exact)."""
        units = self.struct.taker_amount if self.side is Side.BUY else self.struct.maker_amount
        return Decimal(units).scaleb(-6)

    @property
    def collateral(self) -> Decimal:
        """pUSD paid (BUY) or asked for (SELL), exact."""
        units = self.struct.maker_amount if self.side is Side.BUY else self.struct.taker_amount
        return Decimal(units).scaleb(-6)

    def to_payload(self, owner: str, defer_exec: bool = False) -> dict[str, Any]:
        """Return the ``POST /order`` body as a dict, key order and types exactly as the SDK's.

        ``owner`` is the API key. ``salt`` and ``signatureType`` are JSON numbers; amounts,
        ``expiration`` and ``timestamp`` are strings; ``side`` is ``"BUY"``/``"SELL"``.
        """
        s = self.struct
        return {
            "order": {
                "salt": s.salt,
                "maker": s.maker,
                "signer": s.signer,
                "tokenId": str(s.token_id),
                "makerAmount": str(s.maker_amount),
                "takerAmount": str(s.taker_amount),
                "side": self.side.value,
                "expiration": str(self.expiration),
                "signatureType": s.signature_type,
                "timestamp": str(s.timestamp),
                "metadata": s.metadata,
                "builder": s.builder,
                "signature": self.signature,
            },
            "owner": owner,
            "orderType": self.order_type.value,
            "deferExec": defer_exec,
            "postOnly": self.post_only,
        }

    def to_json(self, owner: str, defer_exec: bool = False) -> bytes:
        """Return the exact ``POST /order`` body bytes (send these and HMAC-sign these)."""
        return compact_json(self.to_payload(owner, defer_exec))


def compact_json(obj: Any) -> bytes:
    """Serialise like the SDKs (``separators=(",", ":")``, ``ensure_ascii=False``), as UTF-8."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def batch_payload(
    orders: list[SignedOrder], owner: str, defer_exec: bool = False
) -> list[dict[str, Any]]:
    """Return the ``POST /orders`` body (at most 15 orders)."""
    if not 0 < len(orders) <= MAX_ORDERS_PER_BATCH:
        raise InvalidOrderError(f"a batch holds 1..{MAX_ORDERS_PER_BATCH} orders, got {len(orders)}")
    return [order.to_payload(owner, defer_exec) for order in orders]


def _token_id(value: int | str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        token = value
    elif isinstance(value, str) and value.isdigit() and value.isascii():
        token = int(value)
    else:
        raise InvalidOrderError(f"token id must be a decimal integer, got {value!r}")
    if not 0 <= token < 1 << 256:
        raise InvalidOrderError(f"token id {value} is outside uint256")
    return token


def _bytes32(value: str, name: str) -> str:
    try:
        return "0x" + bytes32_from_hex(value).hex()
    except ValueError as exc:
        raise InvalidOrderError(f"{name}: {exc}") from None


class OrderBuilder:
    """Builds and signs orders for one signer/funder/signature type.

    ``signature_type``: 0 EOA (maker = signer = the key's address), 1 POLY_PROXY and
    2 POLY_GNOSIS_SAFE (maker = ``funder``, signer = EOA), 3 POLY_1271 deposit wallet (maker =
    signer = ``funder``; the EOA signs the ERC-1271 wrapper). ``rng`` draws salts and ``clock``
    stamps ``timestamp`` (ms); inject both for reproducible orders.
    """

    def __init__(
        self,
        signer: PrivateKeySigner,
        *,
        chain_id: int = POLYGON_CHAIN_ID,
        signature_type: int = SIG_EOA,
        funder: str | None = None,
        rng: random.Random | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not SIG_EOA <= signature_type <= SIG_POLY_1271:
            raise InvalidOrderError(f"signature type must be 0..3, got {signature_type}")
        if funder is None:
            if signature_type != SIG_EOA:
                raise InvalidOrderError(f"signature type {signature_type} needs a funder address")
            maker = signer.address
        else:
            maker = to_checksum_address(address_bytes(funder))
            if signature_type == SIG_EOA and maker != signer.address:
                raise InvalidOrderError("an EOA order (type 0) must be funded by the signer itself")
        self.signer = signer
        self.chain_id = chain_id
        self.signature_type = signature_type
        self.maker = maker
        self.order_signer = maker if signature_type == SIG_POLY_1271 else signer.address
        self._rng = rng if rng is not None else random.SystemRandom()
        self._clock: Clock = clock if clock is not None else WallClock()

    def new_salt(self) -> int:
        """Return a fresh 53-bit salt from the builder's RNG."""
        return self._rng.getrandbits(_SALT_BITS)

    def build_limit_order(
        self,
        *,
        token_id: int | str,
        side: Side | str,
        price: Decimal | str | float,
        size: Decimal | str | float | int,
        tick_size: Decimal | str | float,
        neg_risk: bool = False,
        market_version: str | None = None,
        order_type: OrderType | str = OrderType.GTC,
        expiration: int = 0,
        post_only: bool = False,
        metadata: str = ZERO_BYTES32,
        builder_code: str = ZERO_BYTES32,
    ) -> SignedOrder:
        """Build and sign a limit order of ``size`` shares at ``price`` (must be on the grid).

        ``order_type`` GTD needs ``expiration`` (unix s, > now + 60); others need 0. ``post_only``
        is only allowed with GTC/GTD. ``market_version="v2"`` (Protocol-V2 market, position id)
        selects ExchangeV3; otherwise ``neg_risk`` picks the NegRisk exchange.
        """
        kind = OrderType(order_type)
        self._check_time_in_force(kind, expiration, post_only)
        px, qty = to_decimal(price), to_decimal(size)
        tick, _ = rounding_for(tick_size)
        maker_amount, taker_amount = limit_order_amounts(side, px, qty, tick)
        return self._sign(
            token_id, Side(side), maker_amount, taker_amount, px, tick, kind,
            expiration, post_only, neg_risk, market_version, metadata, builder_code,
        )

    def build_market_order(
        self,
        *,
        token_id: int | str,
        side: Side | str,
        amount: Decimal | str | float | int,
        price: Decimal | str | float,
        tick_size: Decimal | str | float,
        neg_risk: bool = False,
        market_version: str | None = None,
        order_type: OrderType | str = OrderType.FOK,
        metadata: str = ZERO_BYTES32,
        builder_code: str = ZERO_BYTES32,
    ) -> SignedOrder:
        """Build and sign a FOK/FAK market order.

        BUY ``amount`` is pUSD to spend, SELL ``amount`` is shares; ``price`` is the worst
        acceptable price. Post-only and expiration do not apply.
        """
        kind = OrderType(order_type)
        if kind not in (OrderType.FOK, OrderType.FAK):
            raise InvalidOrderError(f"market orders are FOK or FAK, not {kind}")
        tick, _ = rounding_for(tick_size)
        worst = market_price(to_decimal(price), tick)
        maker_amount, taker_amount = market_order_amounts(side, worst, to_decimal(amount), tick)
        return self._sign(
            token_id, Side(side), maker_amount, taker_amount, worst, tick, kind,
            0, False, neg_risk, market_version, metadata, builder_code,
        )

    def _check_time_in_force(self, kind: OrderType, expiration: int, post_only: bool) -> None:
        if post_only and kind not in (OrderType.GTC, OrderType.GTD):
            raise InvalidOrderError(f"postOnly is only allowed for GTC/GTD orders, not {kind}")
        if kind is OrderType.GTD:
            earliest = self._clock.now_ms() // 1000 + GTD_MIN_LEAD_S
            if expiration <= earliest:
                raise InvalidOrderError(
                    f"GTD expiration {expiration} must be later than now + {GTD_MIN_LEAD_S} s "
                    f"({earliest}); the CLOB applies a security buffer"
                )
        elif expiration != 0:
            raise InvalidOrderError(f"expiration is only for GTD orders (got {expiration} on {kind})")

    def _sign(
        self,
        token_id: int | str,
        side: Side,
        maker_amount: int,
        taker_amount: int,
        price: Decimal,
        tick: Decimal,
        kind: OrderType,
        expiration: int,
        post_only: bool,
        neg_risk: bool,
        market_version: str | None,
        metadata: str,
        builder_code: str,
    ) -> SignedOrder:
        struct = OrderStruct(
            salt=self._rng.getrandbits(_SALT_BITS),
            maker=self.maker,
            signer=self.order_signer,
            token_id=_token_id(token_id),
            maker_amount=maker_amount,
            taker_amount=taker_amount,
            side=side.code,
            signature_type=self.signature_type,
            timestamp=self._clock.now_ms(),
            metadata=_bytes32(metadata, "metadata"),
            builder=_bytes32(builder_code, "builder code"),
        )
        domain = select_exchange(
            neg_risk=neg_risk, market_version=market_version, chain_id=self.chain_id
        )
        digest, signature = sign_order_digest(struct, self.signer, domain)
        return SignedOrder(
            struct=struct,
            signature=signature,
            order_id="0x" + digest.hex(),
            exchange=domain,
            side=side,
            price=price,
            tick_size=tick,
            order_type=kind,
            expiration=expiration,
            post_only=post_only,
        )

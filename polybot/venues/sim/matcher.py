"""The one matcher: used by the local venue, the backtester and paper trading.

Pure and synchronous: :func:`match` takes a :class:`~polybot.venues.sim.book.Book`, an incoming
order and the market's fee schedule, mutates only the book, and returns fills plus the level
changes. Settling money is left to the caller, via :func:`settlement`, so every user of the
matcher moves pUSD and shares the same way.

Conventions (documented in docs/local-venue-core.md):

* sizes are integer base units (shares × 10^6); prices are ``Decimal`` on the tick grid;
* a fill happens at the resting (maker) price; the taker walks the depth best first;
* the collateral of a fill is ``round_half_even(size × yes_price)`` base units for the YES leg
  and the exact remainder ``size − yes_cash`` for the NO leg, so mint and merge conserve pUSD to
  the unit (with sizes on the venue's 0.01-share lot everything is exact anyway);
* the taker pays :func:`~polybot.model.fees.taker_fee` per fill, the maker gets
  :func:`~polybot.model.fees.maker_rebate` of it at once; external (recorded) liquidity neither
  pays nor earns fees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from polybot.core.money import BASE_UNITS
from polybot.model.fees import FeeSchedule, maker_rebate, taker_fee
from polybot.venues.sim.book import (
    Book,
    BookSide,
    LevelChange,
    RestingOrder,
    Side,
    Token,
    book_side_of,
    from_yes_price,
    to_yes_price,
)

_BASE = Decimal(BASE_UNITS)


class TimeInForce(StrEnum):
    """CLOB order types."""

    GTC = "GTC"
    GTD = "GTD"
    FOK = "FOK"
    FAK = "FAK"

    @property
    def rests(self) -> bool:
        """Return True when an unfilled remainder stays on the book."""
        return self in (TimeInForce.GTC, TimeInForce.GTD)


class MatchKind(StrEnum):
    """What a fill does to the token supply."""

    TRANSFER = "transfer"   # BUY vs SELL of the same token: shares change hands
    MINT = "mint"           # BUY YES vs BUY NO: both pay, a YES/NO pair is created
    MERGE = "merge"         # SELL YES vs SELL NO: a pair is burned, both are paid


class Reject(StrEnum):
    """Why the matcher refused an order without touching the book."""

    POST_ONLY_CROSSES = "post_only_crosses"
    FOK_NOT_FILLED = "fok_not_filled"
    FAK_NO_MATCH = "fak_no_match"


class Asset(StrEnum):
    """What a settlement transfer moves."""

    COLLATERAL = "collateral"
    YES = "yes"
    NO = "no"


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderIntent:
    """An incoming order, already validated by the venue."""

    order_id: str
    owner: str
    token: Token
    side: Side
    price: Decimal          # limit, in the order's own token terms
    size: int               # base units
    tif: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    external: bool = False

    @property
    def book_side(self) -> BookSide:
        """Return the unified-book side this order sits on."""
        return book_side_of(self.token, self.side)

    @property
    def yes_price(self) -> Decimal:
        """Return the limit in YES terms."""
        return to_yes_price(self.token, self.price)


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """One maker order matched against the taker at the maker's price."""

    taker_order_id: str
    taker_owner: str
    taker_token: Token
    taker_side: Side
    taker_external: bool
    maker_order_id: str
    maker_owner: str
    maker_token: Token
    maker_side: Side
    maker_external: bool
    maker_remaining: int    # maker's size left after this fill (0 = fully filled, off the book)
    yes_price: Decimal
    size: int
    kind: MatchKind
    fee: int                # taker fee, pUSD base units
    rebate: int             # maker rebate out of ``fee``, pUSD base units

    @property
    def taker_price(self) -> Decimal:
        """Return the fill price in the taker's token terms."""
        return from_yes_price(self.taker_token, self.yes_price)

    @property
    def maker_price(self) -> Decimal:
        """Return the fill price in the maker's token terms."""
        return from_yes_price(self.maker_token, self.yes_price)

    def cash(self, token: Token) -> int:
        """Return the collateral that ``size`` of ``token`` costs at this fill's price."""
        yes_cash = collateral_for(self.size, self.yes_price)
        return yes_cash if token is Token.YES else self.size - yes_cash


@dataclass(slots=True)
class MatchResult:
    """Everything one :func:`match` call did."""

    fills: list[Fill] = field(default_factory=list)
    changes: list[LevelChange] = field(default_factory=list)   # in application order
    rested: RestingOrder | None = None
    unfilled: int = 0        # size neither filled nor rested (FAK/FOK remainder)
    reject: Reject | None = None

    @property
    def filled(self) -> int:
        """Return the total size filled."""
        return sum(f.size for f in self.fills)


@dataclass(frozen=True, slots=True)
class Transfer:
    """A balance change produced by settling a fill."""

    owner: str
    asset: Asset
    delta: int


@dataclass(frozen=True, slots=True)
class Settlement:
    """Balance changes of a fill plus the change of collateral locked in minted pairs."""

    transfers: tuple[Transfer, ...]
    locked_delta: int       # + size on mint, − size on merge, 0 on transfer


def collateral_for(size: int, yes_price: Decimal) -> int:
    """Return ``size × yes_price`` in base units, half-even (exact on the 0.01-share lot)."""
    return int((size * yes_price).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def fee_units(size: int, price: Decimal, schedule: FeeSchedule) -> int:
    """Return :func:`taker_fee` for ``size`` base units at ``price`` in base units (exact)."""
    if schedule.rate == 0:
        return 0
    fee = taker_fee(Decimal(size) / _BASE, price, schedule)
    return int(fee * _BASE)


def match_kind(taker: Token, taker_side: Side, maker: Token) -> MatchKind:
    """Return the kind of match between a taker and a maker on the opposite book side."""
    if taker is maker:
        return MatchKind.TRANSFER
    return MatchKind.MINT if taker_side is Side.BUY else MatchKind.MERGE


def crossable_size(book: Book, intent: OrderIntent, *, up_to: int | None = None) -> int:
    """Return how much of ``intent`` could fill right now (stopping early at ``up_to``)."""
    total = 0
    for price in book.crossing_prices(intent.book_side, intent.yes_price):
        opposite = BookSide.ASK if intent.book_side is BookSide.BID else BookSide.BID
        level = book.level(opposite, price)
        assert level is not None
        total += level.total
        if up_to is not None and total >= up_to:
            break
    return total


def match(book: Book, intent: OrderIntent, fees: FeeSchedule) -> MatchResult:
    """Match ``intent`` against ``book`` (price-time priority, maker price) and rest the rest.

    FOK and post-only are checked before anything moves, so a rejected order leaves the book
    untouched. FAK fills what it can; GTC/GTD remainders rest at the back of their level.
    """
    result = MatchResult()
    if intent.size <= 0:
        raise ValueError("order size must be positive")
    crosses = bool(book.crossing_prices(intent.book_side, intent.yes_price))
    if intent.post_only and crosses:
        result.reject = Reject.POST_ONLY_CROSSES
        return result
    if intent.tif is TimeInForce.FOK and crossable_size(book, intent, up_to=intent.size) < intent.size:
        result.reject = Reject.FOK_NOT_FILLED
        return result
    if intent.tif is TimeInForce.FAK and not crosses:
        result.reject = Reject.FAK_NO_MATCH
        return result

    remaining = intent.size
    opposite = BookSide.ASK if intent.book_side is BookSide.BID else BookSide.BID
    for price in book.crossing_prices(intent.book_side, intent.yes_price):
        level = book.level(opposite, price)
        assert level is not None
        change: LevelChange | None = None
        while remaining and level.orders:
            maker = level.orders[0]
            size = min(remaining, maker.size)
            result.fills.append(_fill(intent, maker, size, fees))
            change = book.reduce(maker.order_id, size)
            remaining -= size
        if change is not None:
            result.changes.append(change)
        if not remaining:
            break

    if remaining and intent.tif.rests:
        rest = RestingOrder(
            order_id=intent.order_id, owner=intent.owner, token=intent.token, side=intent.side,
            price=intent.price, size=remaining, external=intent.external,
        )
        result.changes.append(book.add(rest))
        result.rested = rest
    else:
        result.unfilled = remaining
    return result


def trade_at_level(
    book: Book, book_side: BookSide, yes_price: Decimal, size: int, fees: FeeSchedule
) -> MatchResult:
    """Consume up to ``size`` from the front of one level, as a recorded trade there would.

    The taker is external (a trade seen in market data), so it pays no fee and earns the maker
    no rebate; fills against our own orders queued at that level come back as ordinary fills.
    """
    taker_token, taker_side = (Token.YES, Side.SELL) if book_side is BookSide.BID else (
        Token.YES, Side.BUY
    )
    intent = OrderIntent(
        order_id="external-trade", owner="", token=taker_token, side=taker_side,
        price=yes_price, size=size, tif=TimeInForce.FAK, external=True,
    )
    result = MatchResult()
    level = book.level(book_side, yes_price)
    remaining = size
    change: LevelChange | None = None
    while level is not None and remaining and level.orders:
        maker = level.orders[0]
        take = min(remaining, maker.size)
        result.fills.append(_fill(intent, maker, take, fees))
        change = book.reduce(maker.order_id, take)
        remaining -= take
    if change is not None:
        result.changes.append(change)
    result.unfilled = remaining
    return result


def settlement(fill: Fill, operator: str) -> Settlement:
    """Return the balance changes that settle ``fill``; external parties are skipped.

    A buyer pays the collateral of the token it buys and receives the shares; a seller gives
    shares and receives that collateral. The taker's fee goes to ``operator``, who passes the
    rebate to the maker. Collateral of all parties plus ``locked_delta`` sums to zero.
    """
    out: list[Transfer] = []
    for owner, token, side, external in (
        (fill.taker_owner, fill.taker_token, fill.taker_side, fill.taker_external),
        (fill.maker_owner, fill.maker_token, fill.maker_side, fill.maker_external),
    ):
        if external:
            continue
        cash = fill.cash(token)
        asset = Asset.YES if token is Token.YES else Asset.NO
        sign = 1 if side is Side.BUY else -1
        out.append(Transfer(owner, Asset.COLLATERAL, -sign * cash))
        out.append(Transfer(owner, asset, sign * fill.size))
    if fill.fee:
        out.append(Transfer(fill.taker_owner, Asset.COLLATERAL, -fill.fee))
        out.append(Transfer(operator, Asset.COLLATERAL, fill.fee - fill.rebate))
        if fill.rebate:
            out.append(Transfer(fill.maker_owner, Asset.COLLATERAL, fill.rebate))
    locked = {MatchKind.MINT: fill.size, MatchKind.MERGE: -fill.size}.get(fill.kind, 0)
    return Settlement(tuple(out), locked)


def _fill(intent: OrderIntent, maker: RestingOrder, size: int, fees: FeeSchedule) -> Fill:
    kind = match_kind(intent.token, intent.side, maker.token)
    taker_price = from_yes_price(intent.token, maker.yes_price)
    fee = 0 if intent.external else fee_units(size, taker_price, fees)
    rebate = 0
    if fee and not maker.external:
        rebate = int(maker_rebate(Decimal(fee) / _BASE, fees) * _BASE)
    return Fill(
        taker_order_id=intent.order_id, taker_owner=intent.owner, taker_token=intent.token,
        taker_side=intent.side, taker_external=intent.external,
        maker_order_id=maker.order_id, maker_owner=maker.owner, maker_token=maker.token,
        maker_side=maker.side, maker_external=maker.external,
        maker_remaining=maker.size - size, yes_price=maker.yes_price, size=size, kind=kind,
        fee=fee, rebate=rebate,
    )

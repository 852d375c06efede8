"""A unified price-time-priority book for one binary market, kept in YES terms.

Polymarket shows two books per binary market (YES and NO) that are exact mirrors: a BUY of YES at
``p`` and a SELL of NO at ``1−p`` are the same economic bid. Keeping one book in YES terms makes
cross-token matching (mint / merge) fall out of ordinary crossing, and either token's view is a
mirror of it (:meth:`LevelChange.for_token`).

Sizes are integer base units (shares × 10^6); prices are ``Decimal``.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum, StrEnum

_ONE = Decimal(1)


class Token(IntEnum):
    """Which outcome of a binary market an order trades."""

    YES = 0
    NO = 1


class Side(StrEnum):
    """Order side in the order's own token."""

    BUY = "BUY"
    SELL = "SELL"


class BookSide(StrEnum):
    """Side of the unified (YES-terms) book."""

    BID = "bid"
    ASK = "ask"


def book_side_of(token: Token, side: Side) -> BookSide:
    """Return where an order rests in YES terms: BUY YES / SELL NO bid, SELL YES / BUY NO ask."""
    buys_yes_exposure = (token is Token.YES) == (side is Side.BUY)
    return BookSide.BID if buys_yes_exposure else BookSide.ASK


def to_yes_price(token: Token, price: Decimal) -> Decimal:
    """Return a token price expressed in YES terms (``1−p`` for NO)."""
    return price if token is Token.YES else _ONE - price


def from_yes_price(token: Token, yes_price: Decimal) -> Decimal:
    """Return a YES-terms price expressed in ``token``'s terms (the map is its own inverse)."""
    return yes_price if token is Token.YES else _ONE - yes_price


@dataclass(slots=True, kw_only=True)
class RestingOrder:
    """An order on the book. ``external`` marks recorded aggregate liquidity (no account)."""

    order_id: str
    owner: str
    token: Token
    side: Side
    price: Decimal          # in the order's own token terms
    size: int               # remaining, base units
    external: bool = False
    seq: int = 0            # arrival sequence, set by the book
    book_side: BookSide = field(init=False)
    yes_price: Decimal = field(init=False)

    def __post_init__(self) -> None:
        self.book_side = book_side_of(self.token, self.side)
        self.yes_price = to_yes_price(self.token, self.price)


@dataclass(frozen=True, slots=True)
class LevelChange:
    """A level's new aggregate size (0 = level gone) in YES terms."""

    book_side: BookSide
    yes_price: Decimal
    size: int

    def for_token(self, token: Token) -> tuple[Side, Decimal, int]:
        """Return ``(wire side, price, size)`` of this change in ``token``'s book.

        The NO book mirrors the YES book: a YES bid at ``p`` is a NO ask at ``1−p``.
        """
        is_bid = (self.book_side is BookSide.BID) == (token is Token.YES)
        return (Side.BUY if is_bid else Side.SELL, from_yes_price(token, self.yes_price), self.size)


@dataclass(slots=True)
class Level:
    """All orders at one YES price, in arrival order."""

    yes_price: Decimal
    orders: deque[RestingOrder] = field(default_factory=deque)
    total: int = 0


class Book:
    """Price-time priority book of one binary market (YES terms)."""

    def __init__(self) -> None:
        self._levels: dict[BookSide, dict[Decimal, Level]] = {BookSide.BID: {}, BookSide.ASK: {}}
        # ascending price lists; best bid is the last bid, best ask the first ask
        self._prices: dict[BookSide, list[Decimal]] = {BookSide.BID: [], BookSide.ASK: []}
        self._index: dict[str, RestingOrder] = {}
        self._seq = 0

    # ---- queries ----------------------------------------------------------------------
    def __contains__(self, order_id: object) -> bool:
        return order_id in self._index

    def __len__(self) -> int:
        return len(self._index)

    def get(self, order_id: str) -> RestingOrder | None:
        """Return a resting order by id."""
        return self._index.get(order_id)

    def orders(self) -> Iterator[RestingOrder]:
        """Iterate resting orders (unspecified order)."""
        return iter(self._index.values())

    def best(self, book_side: BookSide) -> Decimal | None:
        """Return the best YES price on ``book_side``."""
        prices = self._prices[book_side]
        if not prices:
            return None
        return prices[-1] if book_side is BookSide.BID else prices[0]

    def best_bid(self) -> Decimal | None:
        """Return the best YES bid."""
        return self.best(BookSide.BID)

    def best_ask(self) -> Decimal | None:
        """Return the best YES ask."""
        return self.best(BookSide.ASK)

    def level_size(self, book_side: BookSide, yes_price: Decimal) -> int:
        """Return the aggregate size at a level (0 if empty)."""
        level = self._levels[book_side].get(yes_price)
        return level.total if level else 0

    def depth(self, book_side: BookSide) -> list[tuple[Decimal, int]]:
        """Return ``(yes_price, size)`` levels best first."""
        prices = self._prices[book_side]
        ordered = reversed(prices) if book_side is BookSide.BID else iter(prices)
        return [(p, self._levels[book_side][p].total) for p in ordered]

    def level(self, book_side: BookSide, yes_price: Decimal) -> Level | None:
        """Return the level object (for the matcher), or None."""
        return self._levels[book_side].get(yes_price)

    def crossing_prices(self, taker_side: BookSide, limit_yes: Decimal) -> list[Decimal]:
        """Return opposite-side prices a taker on ``taker_side`` at ``limit_yes`` crosses, best first."""
        if taker_side is BookSide.BID:
            asks = self._prices[BookSide.ASK]
            return asks[: bisect.bisect_right(asks, limit_yes)]
        bids = self._prices[BookSide.BID]
        return bids[bisect.bisect_left(bids, limit_yes):][::-1]

    def queue_ahead(self, order_id: str) -> int:
        """Return the size resting ahead of ``order_id`` at its price (its queue position)."""
        order = self._index[order_id]
        level = self._levels[order.book_side][order.yes_price]
        ahead = 0
        for other in level.orders:
            if other is order:
                return ahead
            ahead += other.size
        raise AssertionError("indexed order missing from its level")

    # ---- mutations --------------------------------------------------------------------
    def add(self, order: RestingOrder) -> LevelChange:
        """Append ``order`` at the back of its level; return the level change."""
        if order.order_id in self._index:
            raise ValueError(f"order {order.order_id} already rests")
        if order.size <= 0:
            raise ValueError("resting size must be positive")
        self._seq += 1
        order.seq = self._seq
        levels = self._levels[order.book_side]
        level = levels.get(order.yes_price)
        if level is None:
            level = levels[order.yes_price] = Level(order.yes_price)
            bisect.insort(self._prices[order.book_side], order.yes_price)
        level.orders.append(order)
        level.total += order.size
        self._index[order.order_id] = order
        return LevelChange(order.book_side, order.yes_price, level.total)

    def remove(self, order_id: str) -> tuple[RestingOrder, LevelChange]:
        """Take an order off the book; return it and the level change."""
        order = self._index.pop(order_id)
        level = self._levels[order.book_side][order.yes_price]
        level.orders.remove(order)
        level.total -= order.size
        self._drop_if_empty(order.book_side, level)
        return order, LevelChange(order.book_side, order.yes_price, level.total)

    def reduce(self, order_id: str, by: int) -> LevelChange:
        """Shrink a resting order by ``by`` units (removing it at zero); return the level change."""
        order = self._index[order_id]
        if not 0 < by <= order.size:
            raise ValueError(f"cannot reduce {order.size} by {by}")
        level = self._levels[order.book_side][order.yes_price]
        order.size -= by
        level.total -= by
        if order.size == 0:
            level.orders.remove(order)
            del self._index[order_id]
            self._drop_if_empty(order.book_side, level)
        return LevelChange(order.book_side, order.yes_price, level.total)

    def reduce_external(
        self, book_side: BookSide, yes_price: Decimal, size: int, *, from_back: bool = True
    ) -> LevelChange | None:
        """Remove up to ``size`` of *external* liquidity at a level (a cancel seen in the data).

        ``from_back`` assumes the canceled size sat behind our orders (the conservative default
        for queue position); ``False`` takes it from the front, moving our orders up.
        """
        level = self._levels[book_side].get(yes_price)
        if level is None or size <= 0:
            return None
        candidates = [o for o in level.orders if o.external]
        if from_back:
            candidates.reverse()
        left = size
        change: LevelChange | None = None
        for order in candidates:
            if left == 0:
                break
            take = min(left, order.size)
            change = self.reduce(order.order_id, take)
            left -= take
        return change

    def _drop_if_empty(self, book_side: BookSide, level: Level) -> None:
        if not level.orders:
            del self._levels[book_side][level.yes_price]
            prices = self._prices[book_side]
            del prices[bisect.bisect_left(prices, level.yes_price)]

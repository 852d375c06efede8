"""The engine's per-token L2 book: two dicts plus cached best prices, mutated in place.

The replay loop updates ``bids``/``asks``/``best_bid_px``/``best_ask_px`` directly (no method
call per row); strategies read it through the ``BookView`` protocol.
"""

from __future__ import annotations

from collections.abc import Iterable

NO_BID = -1.0  # sentinels keep the hot loop's comparisons float-only
NO_ASK = 2.0


class L2Book:
    """Aggregate levels of one outcome token. Implements ``polybot.strategies.base.BookView``."""

    __slots__ = (
        "asks",
        "best_ask_px",
        "best_bid_px",
        "bids",
        "market_id",
        "tick_size",
        "timestamp_ms",
        "token_id",
    )

    def __init__(self, market_id: str, token_id: str) -> None:
        self.market_id = market_id
        self.token_id = token_id
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.best_bid_px = NO_BID
        self.best_ask_px = NO_ASK
        self.tick_size = 0.01
        self.timestamp_ms = 0

    def clear(self) -> None:
        """Drop every level (a new snapshot follows)."""
        self.bids.clear()
        self.asks.clear()
        self.best_bid_px = NO_BID
        self.best_ask_px = NO_ASK

    def set_level(self, is_bid: bool, price: float, size: float) -> None:
        """Set the absolute size at a level (0 removes it)."""
        if is_bid:
            if size > 0:
                self.bids[price] = size
                if price > self.best_bid_px:
                    self.best_bid_px = price
            elif self.bids.pop(price, None) is not None and price == self.best_bid_px:
                self.best_bid_px = max(self.bids) if self.bids else NO_BID
        elif size > 0:
            self.asks[price] = size
            if price < self.best_ask_px:
                self.best_ask_px = price
        elif self.asks.pop(price, None) is not None and price == self.best_ask_px:
            self.best_ask_px = min(self.asks) if self.asks else NO_ASK

    def load(
        self, bids: Iterable[tuple[float, float]], asks: Iterable[tuple[float, float]]
    ) -> None:
        """Replace the book with these levels."""
        self.clear()
        for price, size in bids:
            self.set_level(True, price, size)
        for price, size in asks:
            self.set_level(False, price, size)

    # ---- BookView -------------------------------------------------------------------------------
    @property
    def best_bid(self) -> float | None:
        """Return the best bid price or None."""
        return None if self.best_bid_px == NO_BID else self.best_bid_px

    @property
    def best_ask(self) -> float | None:
        """Return the best ask price or None."""
        return None if self.best_ask_px == NO_ASK else self.best_ask_px

    @property
    def mid(self) -> float | None:
        """Return the midpoint or None when a side is empty."""
        if self.best_bid_px == NO_BID or self.best_ask_px == NO_ASK:
            return None
        return (self.best_bid_px + self.best_ask_px) / 2

    def bids_list(self, depth: int = 0) -> list[tuple[float, float]]:
        """Return bid levels best first."""
        levels = sorted(self.bids.items(), reverse=True)
        return levels[:depth] if depth else levels

    def asks_list(self, depth: int = 0) -> list[tuple[float, float]]:
        """Return ask levels best first."""
        levels = sorted(self.asks.items())
        return levels[:depth] if depth else levels

    # The protocol names are ``bids()``/``asks()``; the attributes hold the dicts, so a small
    # view object provides the method spelling without slowing the hot loop.
    def view(self) -> BookViewAdapter:
        """Return the strategy-facing view of this book."""
        return BookViewAdapter(self)

    def size_at(self, is_bid: bool, price: float) -> float:
        """Return the size at a level (0 when empty)."""
        return (self.bids if is_bid else self.asks).get(price, 0.0)


class BookViewAdapter:
    """Read-only ``BookView`` over an :class:`L2Book` (one per book, created once)."""

    __slots__ = ("_book",)

    def __init__(self, book: L2Book) -> None:
        self._book = book

    @property
    def token_id(self) -> str:
        """Return the outcome token id."""
        return self._book.token_id

    @property
    def market_id(self) -> str:
        """Return the market's condition id."""
        return self._book.market_id

    @property
    def best_bid(self) -> float | None:
        """Return the best bid price or None."""
        return self._book.best_bid

    @property
    def best_ask(self) -> float | None:
        """Return the best ask price or None."""
        return self._book.best_ask

    @property
    def mid(self) -> float | None:
        """Return the midpoint or None."""
        return self._book.mid

    @property
    def tick_size(self) -> float:
        """Return the current tick size."""
        return self._book.tick_size

    @property
    def timestamp_ms(self) -> int:
        """Return the venue timestamp of the last change."""
        return self._book.timestamp_ms

    def bids(self, depth: int = 0) -> list[tuple[float, float]]:
        """Return bid levels best first."""
        return self._book.bids_list(depth)

    def asks(self, depth: int = 0) -> list[tuple[float, float]]:
        """Return ask levels best first."""
        return self._book.asks_list(depth)

    def size_at(self, is_bid: bool, price: float) -> float:
        """Return the size at a level."""
        return self._book.size_at(is_bid, price)

    def __repr__(self) -> str:
        return f"Book({self.token_id[:10]}… bid={self.best_bid} ask={self.best_ask})"

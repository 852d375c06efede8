"""The executor's view of order books: what the risk gate, marks and the paper venue need.

Books come from the scanner's ``prices.pub`` (``book``, ``book_delta``, ``price``). A token the
feed does not cover (no scanner running, a notebook trading a market nobody watches) gets a
REST snapshot from the venue when a signal needs it, refreshed whenever it is older than the
stale limit. A book that *came from the feed* is never silently replaced: if the feed went quiet,
the risk gate must see that and say ``stale_book``.

Freshness is measured by when *we* received the data (local wall clock), not by the venue's
timestamp: the venue's clock is not ours (the local venue may even run simulated time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from polybot.bus.messages import BookDelta, BookSnapshot, Level, Message, Price
from polybot.core.clock import wall_ms
from polybot.core.money import to_decimal
from polybot.risk import BookState
from polybot.venues.polymarket.clob import ClobClient


@dataclass(slots=True)
class _Book:
    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)
    received_ms: int = 0
    from_feed: bool = True

    def best_bid(self) -> float | None:
        return max(self.bids) if self.bids else None

    def best_ask(self) -> float | None:
        return min(self.asks) if self.asks else None


def _exact(value: float | None) -> Decimal | None:
    return None if value is None else to_decimal(value)


class BookKeeper:
    """Books per token, fed by the price bus and topped up by REST snapshots."""

    def __init__(self, clob: ClobClient | None = None) -> None:
        self._clob = clob
        self._books: dict[str, _Book] = {}

    def on_message(self, message: Message) -> None:
        """Apply one price-bus message (others are ignored)."""
        now = wall_ms()
        if isinstance(message, BookSnapshot):
            self._books[message.token_id] = _Book(
                bids={lv.price: lv.size for lv in message.bids if lv.size > 0},
                asks={lv.price: lv.size for lv in message.asks if lv.size > 0},
                received_ms=now,
            )
        elif isinstance(message, BookDelta):
            book = self._books.setdefault(message.token_id, _Book())
            for change in message.changes:
                levels = book.bids if change.side == "BUY" else book.asks
                if change.size > 0:
                    levels[change.price] = change.size
                else:
                    levels.pop(change.price, None)
            book.received_ms, book.from_feed = now, True
        elif isinstance(message, Price):
            book = self._books.setdefault(message.token_id, _Book())
            # A top-of-book update: levels better than the new best are gone.
            book.bids = {p: s for p, s in book.bids.items() if p <= message.bid}
            book.asks = {p: s for p, s in book.asks.items() if p >= message.ask}
            book.bids.setdefault(message.bid, 0.0)
            book.asks.setdefault(message.ask, 0.0)
            book.received_ms, book.from_feed = now, True

    def state(self, token_id: str) -> BookState | None:
        """Return what the risk gate needs about ``token_id``'s book, or None if we have none."""
        book = self._books.get(token_id)
        if book is None:
            return None
        return BookState(
            best_bid=_exact(book.best_bid()),
            best_ask=_exact(book.best_ask()),
            updated_ms=book.received_ms,
        )

    def mid(self, token_id: str) -> Decimal | None:
        """Return the mid of the token's book (for marks), or None without both sides."""
        book = self._books.get(token_id)
        if book is None:
            return None
        bid, ask = book.best_bid(), book.best_ask()
        if bid is None or ask is None:
            return None
        return (to_decimal(bid) + to_decimal(ask)) / 2

    async def ensure(self, market_id: str, token_id: str, stale_ms: int) -> BookSnapshot | None:
        """Fetch a REST snapshot when the feed does not cover ``token_id``; return it if fetched.

        Raises the client's ``VenueError`` when the venue cannot answer.
        """
        book = self._books.get(token_id)
        if self._clob is None:
            return None
        if book is not None and (book.from_feed or wall_ms() - book.received_ms <= stale_ms):
            return None
        raw = await self._clob.get_book(token_id)
        snapshot = BookSnapshot(
            market_id=market_id,
            token_id=token_id,
            # The CLOB lists bids ascending and asks descending; the bus wants best first.
            bids=[Level(float(lv.price), float(lv.size)) for lv in reversed(raw.bids)],
            asks=[Level(float(lv.price), float(lv.size)) for lv in reversed(raw.asks)],
            timestamp=raw.timestamp_ms or wall_ms(),
            tick_size=float(raw.tick_size or Decimal("0.01")),
            hash=raw.hash or "",
        )
        self.on_message(snapshot)
        self._books[token_id].from_feed = False
        return snapshot

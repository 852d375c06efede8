"""Live market data in a notebook: a subscription that is read *off the cell*, plus views of it.

``LiveFeed`` dials the scanner's PUB socket and registers ``loop.add_reader(recv_fd)`` on the
kernel's own asyncio loop (stack-notes §2.2): whenever frames are queued the loop drains them
with non-blocking ``recv`` — at most ``batch`` per wake-up so a firehose cannot starve the cells —
and folds each message into the latest state (prices, books, recent trades, a bounded mid series
per token). Nothing is read while a cell blocks; NNG's 8192-deep receive buffer holds the stream
meanwhile, and anything it could not hold shows up as a sequence gap (whole-universe
subscriptions), after which the affected books are flagged until their next snapshot.

Views (``table``, ``chart``, ``book_view``, ``health_view``) are widgets that a timer on the same
loop refreshes in place every ``refresh_s`` — never once per message. Without a running loop
(a plain script) nothing is read until ``poll()`` is called.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from polybot.bus import codec
from polybot.bus.ipc import DEFAULT_OPTIONS, SocketOptions
from polybot.bus.messages import (
    AnyMessage,
    BookDelta,
    BookSnapshot,
    FeedHealth,
    MarketResolved,
    Message,
    Price,
    TickSizeChange,
    Trade,
)
from polybot.bus.nng import Gap
from polybot.engine.book import L2Book
from polybot.notebook.reader import LoopReader
from polybot.notebook.snapshot import BookState, FeedStatus, SnapshotSource

log = logging.getLogger(__name__)

MARKET_TYPES: tuple[type[Message], ...] = (
    Price,
    BookSnapshot,
    BookDelta,
    Trade,
    TickSizeChange,
    MarketResolved,
    FeedHealth,
)


class LiveFeed:
    """A live subscription to market data (all markets, or a few by prefix) with views.

    Args:
        address: the scanner's PUB address (``settings.bus.prices_pub``).
        markets: condition ids to receive; None receives the whole universe (and checks
            sequence numbers, so losses are counted as gaps).
        labels: ``token_id → label`` used by the views (e.g. "Will X happen? · Yes").
        history: how many mids per token, trades and other messages to keep.
        refresh_s: how often attached views are redrawn.
        batch: frames drained per loop wake-up (responsiveness vs. throughput).
        stale_after_s: quiet this long and the feed reports "stale".
        snapshots: the scanner's snapshot endpoint (``settings.bus.snapshots_req``): when
            given, the feed starts from the current prices and books instead of waiting for
            each market to move, and replaces its books after a gap.
    """

    def __init__(
        self,
        address: str,
        *,
        markets: Sequence[str] | None = None,
        labels: Mapping[str, str] | None = None,
        history: int = 1000,
        refresh_s: float = 0.5,
        batch: int = 512,
        stale_after_s: float = 5.0,
        options: SocketOptions = DEFAULT_OPTIONS,
        on_gap: Callable[[Gap], None] | None = None,
        snapshots: str | None = None,
    ) -> None:
        topics = (
            None
            if markets is None
            else [codec.subscription_prefix(t, m) for m in markets for t in MARKET_TYPES]
        )
        self.address = address
        self.markets = None if markets is None else tuple(markets)
        self.labels: dict[str, str] = dict(labels or {})
        self.prices: dict[str, Price] = {}
        self.books: dict[str, L2Book] = {}
        self.suspect_books: set[str] = set()
        self.trades: deque[Trade] = deque(maxlen=history)
        self.other: deque[Message] = deque(maxlen=history)
        self._series: dict[str, deque[tuple[int, float]]] = {}
        self._history = history
        self._batch = batch
        self._refresh_s = refresh_s
        self._stale_after_s = stale_after_s
        self._user_on_gap = on_gap
        self._views: list[_View] = []
        self._rate = 0.0
        self._rate_mark = (time.monotonic(), 0)
        self._handlers: dict[type[Message], Callable[[Any], None]] = {
            Price: self._on_price,
            BookSnapshot: self._on_book,
            BookDelta: self._on_delta,
            Trade: self._on_trade,
            TickSizeChange: self._on_tick_size,
        }
        self._reader = LoopReader(
            address,
            self._handle,
            topics=topics,
            on_gap=self._on_gap,
            batch=batch,
            options=options,
        )
        self._snapshots = SnapshotSource(snapshots) if snapshots else None
        self._resync_pending = False
        self.resyncs = 0
        if self._snapshots is not None:
            self.resync(initial=True)
        self._timer: asyncio.TimerHandle | None = None
        if self._reader.loop is not None:
            self._timer = self._reader.loop.call_later(refresh_s, self._tick)

    # ---- receiving ------------------------------------------------------------------------
    def _handle(self, message: AnyMessage) -> None:
        handler = self._handlers.get(type(message))
        if handler is None:
            self.other.append(message)
        else:
            handler(message)

    def poll(self, timeout: float = 0.0) -> int:
        """Read what is queued now (waiting up to ``timeout`` s for the first frame); return count.

        Only needed without a running event loop (scripts) or inside a cell that wants fresh
        state before it returns; in a notebook the loop reads in the background.
        """
        return self._reader.poll(timeout)

    def wait_for(self, condition: Callable[[LiveFeed], bool], timeout: float = 10.0) -> bool:
        """Read until ``condition(feed)`` holds or ``timeout`` s pass; return whether it held.

        Use it in a cell that needs data before going on (``feed.wait_for(lambda f: f.prices)``).
        """
        return self._reader.wait_for(lambda: bool(condition(self)), timeout)

    def _on_price(self, price: Price) -> None:
        token = price.token_id
        self.prices[token] = price
        series = self._series.get(token)
        if series is None:
            series = self._series[token] = deque(maxlen=self._history)
        series.append((price.timestamp, price.mid))

    def _book(self, market_id: str, token_id: str) -> L2Book:
        book = self.books.get(token_id)
        if book is None:
            book = self.books[token_id] = L2Book(market_id, token_id)
        return book

    def _on_book(self, snapshot: BookSnapshot) -> None:
        book = self._book(snapshot.market_id, snapshot.token_id)
        book.clear()
        for level in snapshot.bids:
            book.set_level(True, level.price, level.size)
        for level in snapshot.asks:
            book.set_level(False, level.price, level.size)
        book.tick_size = snapshot.tick_size
        book.timestamp_ms = snapshot.timestamp
        self.suspect_books.discard(snapshot.token_id)

    def _on_delta(self, delta: BookDelta) -> None:
        book = self._book(delta.market_id, delta.token_id)
        for change in delta.changes:
            book.set_level(change.side == "BUY", change.price, change.size)
        book.timestamp_ms = delta.timestamp

    def _on_trade(self, trade: Trade) -> None:
        self.trades.append(trade)

    def _on_tick_size(self, change: TickSizeChange) -> None:
        # The venue re-snapshots after a tick change; until then the old levels are wrong.
        self._book(change.market_id, change.token_id).clear()
        self.suspect_books.add(change.token_id)
        self.other.append(change)

    def _on_gap(self, gap: Gap) -> None:
        # Deltas may have been lost: every book is suspect until its next full snapshot.
        self.suspect_books.update(self.books)
        loop = self._reader.loop
        if self._snapshots is not None and loop is not None and not self._resync_pending:
            # Not from inside the drain: ask once, after the backlog is read.
            self._resync_pending = True
            loop.call_later(0.05, self.resync)
        if self._user_on_gap is not None:
            self._user_on_gap(gap)

    def resync(self, *, initial: bool = False) -> int:
        """Fetch current prices and books from the scanner; return how many were applied.

        Newer data already received wins (compared by venue timestamp), so this is safe at any
        time; the feed calls it at start and after a sequence gap.
        """
        self._resync_pending = False
        if self._snapshots is None:
            return 0
        wanted = None if self.markets is None else set(self.markets)
        applied = 0
        for price in self._snapshots.prices():
            if wanted is not None and price.market_id not in wanted:
                continue
            current = self.prices.get(price.token_id)
            if current is None or current.timestamp <= price.timestamp:
                self._on_price(price)
                applied += 1
        markets = None if self.markets is None else list(self.markets)
        if initial or markets is not None or self.suspect_books:
            tokens = None if initial or markets is not None else sorted(self.suspect_books)
            for book in self._snapshots.books(token_ids=tokens, market_ids=markets):
                held = self.books.get(book.token_id)
                if (
                    held is None
                    or book.token_id in self.suspect_books
                    or held.timestamp_ms <= book.timestamp
                ):
                    self._on_book(book)
                    applied += 1
        self.resyncs += 1
        return applied

    # ---- state as data --------------------------------------------------------------------
    @property
    def status(self) -> FeedStatus:
        """Return the feed's health right now."""
        stats = self._reader.stats
        last = self._reader.last_message
        age = time.monotonic() - last if last else None
        if self._reader.closed:
            state = "closed"
        elif age is None:
            state = "waiting"
        else:
            state = "live" if age <= self._stale_after_s else "stale"
        return FeedStatus(
            address=self.address,
            state=state,
            received=stats.received,
            rate_per_s=self._rate,
            age_s=age,
            gaps=stats.gaps,
            missed=stats.missed,
            resets=stats.resets,
            malformed=stats.malformed,
            tokens=len(self.prices) or len(self.books),
            suspect_books=len(self.suspect_books),
            gap_detection=self._reader.gap_detection,
        )

    def price_frame(self, contains: str = "") -> pd.DataFrame:
        """Return the latest price of every token as a DataFrame (optionally filtered by label)."""
        now_ms = time.time() * 1000
        needle = contains.lower()
        rows = [
            {
                "label": self.labels.get(p.token_id, p.token_id[:12]),
                "bid": p.bid,
                "ask": p.ask,
                "mid": p.mid,
                "spread": round(p.ask - p.bid, 6),
                "age_s": round(max(now_ms - p.timestamp, 0) / 1000, 1),
                "market_id": p.market_id,
                "token_id": p.token_id,
            }
            for p in self.prices.values()
            if not needle
            or needle in self.labels.get(p.token_id, p.token_id).lower()
            or needle in p.market_id.lower()
        ]
        columns = ["label", "bid", "ask", "mid", "spread", "age_s", "market_id", "token_id"]
        frame = pd.DataFrame(rows, columns=columns)
        return frame.sort_values("label", kind="stable").reset_index(drop=True)

    def trade_frame(self) -> pd.DataFrame:
        """Return the recent public trades, newest first."""
        rows = [
            {
                "time": pd.Timestamp(t.timestamp, unit="ms"),
                "label": self.labels.get(t.token_id, t.token_id[:12]),
                "side": t.side,
                "price": t.price,
                "size": t.size,
                "token_id": t.token_id,
            }
            for t in reversed(self.trades)
        ]
        return pd.DataFrame(rows, columns=["time", "label", "side", "price", "size", "token_id"])

    def backfill(self, token_id: str, points: Iterable[tuple[int, float]]) -> None:
        """Put older ``(timestamp_ms, mid)`` points (e.g. from ``price_history``) before the live ones."""
        live = list(self._series.get(token_id, ()))
        first = live[0][0] if live else None
        older = [p for p in points if first is None or p[0] < first]
        self._series[token_id] = deque([*older, *live], maxlen=self._history)

    def series(self, token_id: str) -> pd.DataFrame:
        """Return the kept mid history of one token (``time``, ``mid``)."""
        points = list(self._series.get(token_id, ()))
        frame = pd.DataFrame(points, columns=["timestamp", "mid"])
        frame.insert(0, "time", pd.to_datetime(frame["timestamp"], unit="ms"))
        return frame.drop(columns="timestamp")

    def series_points(self, token_id: str) -> list[tuple[int, float]]:
        """Return the raw ``(timestamp_ms, mid)`` points of one token (views use this)."""
        return list(self._series.get(token_id, ()))

    def book(self, token_id: str) -> BookState:
        """Return a snapshot of one token's book that displays itself as a depth ladder."""
        book = self.books.get(token_id)
        bids = sorted(book.bids.items(), reverse=True) if book else []
        asks = sorted(book.asks.items()) if book else []
        return BookState(
            token_id=token_id,
            label=self.labels.get(token_id, token_id[:16]),
            bids=bids,
            asks=asks,
            timestamp_ms=book.timestamp_ms if book else 0,
            suspect=token_id in self.suspect_books,
        )

    # ---- views ----------------------------------------------------------------------------
    def table(self, contains: str = "", max_rows: int = 40) -> Any:
        """Return a live, filterable price table widget (a text box and the table)."""
        from polybot.notebook.views import PriceTableView

        return self._attach(PriceTableView(self, contains, max_rows)).widget

    def chart(self, token_ids: Iterable[str] | None = None, max_traces: int = 8) -> Any:
        """Return a plotly ``FigureWidget`` of mids that updates in place."""
        from polybot.notebook.views import ChartView

        return self._attach(ChartView(self, token_ids, max_traces)).widget

    def book_view(self, token_id: str, depth: int = 10) -> Any:
        """Return an order-book ladder widget for ``token_id`` that updates in place."""
        from polybot.notebook.views import BookView

        return self._attach(BookView(self, token_id, depth)).widget

    def health_view(self) -> Any:
        """Return a widget showing the feed's state, rate, gaps and staleness."""
        from polybot.notebook.views import HealthView

        return self._attach(HealthView(self)).widget

    def _attach(self, view: _View) -> _View:
        view.refresh()
        self._views.append(view)
        return view

    def refresh(self) -> None:
        """Redraw every attached view now (the timer does this every ``refresh_s``)."""
        now = time.monotonic()
        mark_time, mark_count = self._rate_mark
        received = self._reader.stats.received
        if now - mark_time >= 0.25:
            self._rate = (received - mark_count) / (now - mark_time)
            self._rate_mark = (now, received)
        for view in list(self._views):
            try:
                view.refresh()
            except Exception:
                # A broken view must not stop the others or the feed; drop it and say why.
                log.exception("a live view failed and was detached")
                self._views.remove(view)

    def _tick(self) -> None:
        loop = self._reader.loop
        if self._reader.closed or loop is None:
            return
        self.refresh()
        self._timer = loop.call_later(self._refresh_s, self._tick)

    # ---- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        """Stop reading and close the socket (idempotent). Views keep their last state."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._reader.close()
        if self._snapshots is not None:
            self._snapshots.close()

    def __enter__(self) -> LiveFeed:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        scope = "all markets" if self.markets is None else f"{len(self.markets)} market(s)"
        return f"LiveFeed({scope}, {self.status!r})"

    def _repr_html_(self) -> str:
        from polybot.notebook.display import html_table

        frame = self.price_frame().drop(columns=["market_id", "token_id"])
        return self.status._repr_html_() + html_table(frame, max_rows=20)


class _View:
    """A widget bound to a feed; ``refresh`` redraws it from the feed's current state."""

    widget: Any

    def refresh(self) -> None:
        """Redraw."""
        raise NotImplementedError

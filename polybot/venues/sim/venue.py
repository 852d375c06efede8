"""SimVenue: our orders against recorded (or live) books, through the shared matcher.

For every market where we have something working, the venue keeps a unified
:class:`~polybot.venues.sim.book.Book` whose *external* orders stand for the recorded levels
(synced from the YES token; the NO book is its mirror). Our orders queue behind the external
size already at their price and move up as recorded trades consume the front of the level and
as size is cancelled. Markets where we have nothing working are not mirrored at all, which
keeps replay cheap.

Queue rules (conservative, documented in docs/strategies.md):

* a recorded size increase is new external liquidity at the *back* of the level; if it crosses
  one of our resting orders it trades against it (we are the maker);
* a recorded decrease at a level holding our orders is held until the print that explains it
  (same venue timestamp): the print consumes from the front (filling us once the size ahead is
  gone); whatever decrease is left over is a cancel taken from the back;
* a print at a price worse than one of our resting orders (a trade-through) fills us first;
* liquidity we take stays taken until the recorded level shrinks below what we took.

Commands are delayed by ``latency_ms`` of simulated time; fees follow the market's schedule
(taker fee, maker rebate); validation mirrors the venue (tick grid, price bounds, min size,
$1 marketable minimum, 2-decimal sizes, balances). Events go out through ``emit``.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Literal

import msgspec

from polybot.bus.messages import Fill, Message, OrderUpdate
from polybot.core.money import BASE_UNITS, decimal_places, to_decimal
from polybot.model.fees import FeeSchedule, maker_rebate, taker_fee
from polybot.model.market import Market
from polybot.venues.sim.book import (
    Book,
    BookSide,
    RestingOrder,
    Side,
    Token,
    book_side_of,
    to_yes_price,
)
from polybot.venues.sim.matcher import Fill as MatchFill
from polybot.venues.sim.matcher import OrderIntent, TimeInForce, match, trade_at_level

OrderType = Literal["GTC", "GTD", "FOK", "FAK"]
Emit = Callable[[Message], None]
BookSource = Callable[[str], tuple[list[tuple[float, float]], list[tuple[float, float]]] | None]
"""token id -> ``(bids, asks)`` best first as ``(price, size)`` floats, or None if unknown."""

_BASE = Decimal(BASE_UNITS)
_ONE = Decimal(1)


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """An order a strategy asked for, with exact price and size (what every venue accepts)."""

    client_order_id: str
    strategy: str
    market_id: str
    token_id: str
    side: Literal["BUY", "SELL"]
    price: Decimal
    size: Decimal
    order_type: OrderType = "GTC"
    post_only: bool = False
    reason: str = ""
    confidence: float = 1.0
    expiration: int = 0


class _Live:
    __slots__ = ("filled", "request", "token")

    def __init__(self, request: OrderRequest, token: Token) -> None:
        self.request = request
        self.token = token
        self.filled = 0


def _units(size: float) -> int:
    return round(size * BASE_UNITS)


def _dec(value: float) -> Decimal:
    return to_decimal(value)


class SimVenue:
    """The in-process venue used by backtests (and, fed by live books, by ``PaperVenue``)."""

    name = "sim"

    def __init__(
        self,
        markets: dict[str, Market],
        book_source: BookSource,
        *,
        latency_ms: int = 0,
        latency_jitter_ms: int = 0,
        seed: int = 0,
        starting_cash: Decimal | float | int = 1000,
    ) -> None:
        self._markets = markets
        self._token_market: dict[str, tuple[Market, Token]] = {}
        for market in markets.values():
            for index, asset in enumerate(market.asset_ids[:2]):
                self._token_market[asset] = (market, Token(index))
        self._ticks = {m.condition_id: m.tick_size or Decimal("0.01") for m in markets.values()}
        self._source = book_source
        self.latency_ns = latency_ms * 1_000_000
        self.jitter_ns = latency_jitter_ms * 1_000_000
        self._rng = random.Random(seed)  # the only randomness: same seed, same arrival times
        self._starting_cash = (
            to_decimal(starting_cash) if not isinstance(starting_cash, Decimal) else starting_cash
        )
        self._emit: Emit = lambda message: None
        self._on_sync: Callable[[str, bool], None] = lambda market_id, synced: None
        self._books: dict[str, Book] = {}
        self._live: dict[str, _Live] = {}
        self._pending: list[tuple[int, int, str, OrderRequest | None]] = []
        self._seq = itertools.count()
        self._held: dict[str, dict[tuple[BookSide, Decimal], int]] = {}
        self._taken: dict[str, dict[tuple[BookSide, Decimal], int]] = {}
        self._last_ts: dict[str, int] = {}
        self._last_print: dict[str, tuple[int, int, BookSide, Decimal]] = {}
        self._cash: dict[str, Decimal] = {}
        self._shares: dict[tuple[str, str], Decimal] = {}
        self._restored_in: dict[str, str] = {}  # token -> market of shares held from before
        self._ext_ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self.now_ns = 0
        self.next_due_ns: int | None = None

    # ---- wiring -------------------------------------------------------------------------------
    def start(self, emit: Emit, on_sync: Callable[[str, bool], None] | None = None) -> None:
        """Send venue events to ``emit``; ``on_sync`` hears when a market starts/stops mirroring."""
        self._emit = emit
        if on_sync is not None:
            self._on_sync = on_sync

    def add_market(self, market: Market) -> None:
        """Make a market tradable (one discovered after start, or added by the engine)."""
        self._markets[market.condition_id] = market
        self._ticks[market.condition_id] = market.tick_size or Decimal("0.01")
        for index, asset in enumerate(market.asset_ids[:2]):
            self._token_market[asset] = (market, Token(index))

    def is_synced(self, market_id: str) -> bool:
        """Return True while the venue mirrors ``market_id`` (it then needs its level updates)."""
        return market_id in self._books

    def cash(self, owner: str) -> Decimal:
        """Return ``owner``'s pUSD balance at the venue."""
        return self._cash.get(owner, self._starting_cash)

    def shares(self, owner: str, token_id: str) -> Decimal:
        """Return ``owner``'s shares of ``token_id`` at the venue."""
        return self._shares.get((owner, token_id), Decimal(0))

    def restore_shares(self, owner: str, market_id: str, token_id: str, shares: Decimal) -> None:
        """Hold ``shares`` of ``token_id`` for ``owner`` from before this venue started (a
        restarted paper account): they can be sold, and pay out when ``market_id`` resolves even
        if nothing was traded in it since."""
        self._shares[(owner, token_id)] = self.shares(owner, token_id) + shares
        self._restored_in[token_id] = market_id

    def knows_market(self, market_id: str) -> bool:
        """Return True for a tradable market or one whose shares were restored."""
        return market_id in self._markets or market_id in self._restored_in.values()

    # ---- commands -----------------------------------------------------------------------------
    def place(self, request: OrderRequest) -> None:
        """Accept an order; it reaches the book after the configured latency."""
        self._schedule(request.client_order_id, request)

    def cancel(self, client_order_id: str) -> None:
        """Ask to cancel an order; takes effect after the configured latency."""
        self._schedule(client_order_id, None)

    def _schedule(self, client_order_id: str, request: OrderRequest | None) -> None:
        due = self.now_ns + self.latency_ns
        if self.jitter_ns:
            due += self._rng.randrange(self.jitter_ns + 1)
        if due == self.now_ns:
            self._execute(client_order_id, request)
            return
        heapq.heappush(self._pending, (due, next(self._seq), client_order_id, request))
        self.next_due_ns = self._pending[0][0]

    def advance(self, now_ns: int) -> None:
        """Move simulated time to ``now_ns``: run every command that has arrived by then."""
        self.now_ns = now_ns
        while self._pending and self._pending[0][0] <= now_ns:
            _, _, client_order_id, request = heapq.heappop(self._pending)
            self._execute(client_order_id, request)
        self.next_due_ns = self._pending[0][0] if self._pending else None

    def _execute(self, client_order_id: str, request: OrderRequest | None) -> None:
        if request is None:
            live = self._live.get(client_order_id)
            if live is not None:
                self._cancel_live(live, "CANCELED", "")
            return
        reason = self._validate(request)
        if reason:
            self._update(request, "INVALID", 0, reason)
            return
        market, token = self._token_market[request.token_id]
        book = self._book(market.condition_id)
        if book is None:
            self._update(request, "INVALID", 0, "no book for this market yet")
            return
        self._settle_held(market.condition_id)
        intent = OrderIntent(
            order_id=client_order_id,
            owner=request.strategy,
            token=token,
            side=Side(request.side),
            price=request.price,
            size=int(request.size * _BASE),
            tif=TimeInForce(request.order_type),
            post_only=request.post_only,
        )
        result = match(book, intent, market.fee_schedule)
        if result.reject is not None:
            self._update(request, "CANCELED", 0, str(result.reject))
            self._maybe_unsync(market.condition_id)
            return
        live = _Live(request, token)
        self._live[client_order_id] = live
        taken = self._taken.setdefault(market.condition_id, {})
        for fill in result.fills:
            key = (
                BookSide.ASK if intent.book_side is BookSide.BID else BookSide.BID,
                fill.yes_price,
            )
            if fill.maker_external:
                taken[key] = taken.get(key, 0) + fill.size
            self._apply_fill(fill, market, taker=True)
        if result.rested is not None:
            self._update(request, "LIVE", live.filled, "")
        else:
            del self._live[client_order_id]
            status = "MATCHED" if live.filled == intent.size else "CANCELED"
            self._update(
                request, status, live.filled, "" if status == "MATCHED" else "unfilled remainder"
            )
        self._maybe_unsync(market.condition_id)

    def _validate(self, request: OrderRequest) -> str:
        found = self._token_market.get(request.token_id)
        if found is None:
            return f"unknown token {request.token_id}"
        market, _ = found
        tick = self._ticks[market.condition_id]
        price, size = request.price, request.size
        if price % tick != 0 or not tick <= price <= _ONE - tick:
            return f"price {price} is not on the {tick} grid within [{tick}, {_ONE - tick}]"
        if size <= 0 or decimal_places(size) > 2:
            return f"size {size} must be positive with at most 2 decimals"
        if request.order_type in ("FOK", "FAK"):
            if price * size < 1:
                return "marketable orders need at least $1 notional"
        elif size < (market.min_order_size or Decimal(0)):
            return f"size {size} is below the market's minimum {market.min_order_size}"
        owner = request.strategy
        if request.side == "BUY":
            reserved = sum(
                (
                    lv.request.price * (lv.request.size - Decimal(lv.filled) / _BASE)
                    for lv in self._live.values()
                    if lv.request.strategy == owner and lv.request.side == "BUY"
                ),
                Decimal(0),
            )
            if price * size > self.cash(owner) - reserved:
                return "not enough balance"
        else:
            reserved_shares = sum(
                (
                    lv.request.size - Decimal(lv.filled) / _BASE
                    for lv in self._live.values()
                    if lv.request.strategy == owner
                    and lv.request.side == "SELL"
                    and lv.request.token_id == request.token_id
                ),
                Decimal(0),
            )
            if size > self.shares(owner, request.token_id) - reserved_shares:
                return "not enough shares"
        return ""

    # ---- market data (only for synced markets, plus prints and resolutions) -------------------
    def on_level(self, token_id: str, is_bid: bool, price: float, size: float, ts_ms: int) -> None:
        """A recorded level of a synced market changed to ``size`` (absolute)."""
        market, token = self._token_market[token_id]
        if token is not Token.YES:
            return  # the NO book mirrors the YES book; syncing both would double the liquidity
        market_id = market.condition_id
        book = self._books.get(market_id)
        if book is None:
            return
        if self._last_ts.get(market_id) != ts_ms:
            self._settle_held(market_id)
            self._last_ts[market_id] = ts_ms
        side = BookSide.BID if is_bid else BookSide.ASK
        yes_price = _dec(price)
        target = _units(size)
        taken = self._taken.get(market_id, {})
        key = (side, yes_price)
        if key in taken:
            if target <= taken[key]:
                del taken[key]  # the real level drained below what we took: our impact is gone
            else:
                target -= taken[key]
        level = book.level(side, yes_price)
        current = sum(o.size for o in level.orders if o.external) if level else 0
        ours = level is not None and any(not o.external for o in level.orders)
        if target > current:
            self._add_external(market, book, side, yes_price, target - current)
        elif target < current:
            if ours:
                self._held.setdefault(market_id, {})[key] = target
            else:
                book.reduce_external(side, yes_price, current - target)
        self._maybe_unsync(market_id)

    def resync(self, token_id: str, ts_ms: int) -> None:
        """A new snapshot arrived for a synced market: drop recorded levels it no longer has."""
        market, token = self._token_market[token_id]
        book = self._books.get(market.condition_id)
        levels = self._source(token_id)
        if token is not Token.YES or book is None or levels is None:
            return
        keep = {(BookSide.BID, _dec(p)) for p, _ in levels[0]} | {
            (BookSide.ASK, _dec(p)) for p, _ in levels[1]
        }
        for side in (BookSide.BID, BookSide.ASK):
            for yes_price, _ in book.depth(side):
                if (side, yes_price) not in keep:
                    self.on_level(token_id, side is BookSide.BID, float(yes_price), 0.0, ts_ms)
        for is_bid, rows in ((True, levels[0]), (False, levels[1])):
            for price, size in rows:
                self.on_level(token_id, is_bid, price, size, ts_ms)

    def on_trade(
        self, token_id: str, taker_is_buy: bool, price: float, size: float, ts_ms: int
    ) -> None:
        """A public print: consume the front of the level it hit (and trade-throughs)."""
        found = self._token_market.get(token_id)
        if found is None:
            return
        market, token = found
        market_id = market.condition_id
        book = self._books.get(market_id)
        if book is None:
            return
        taker_side = book_side_of(token, Side.BUY if taker_is_buy else Side.SELL)
        hit = BookSide.ASK if taker_side is BookSide.BID else BookSide.BID
        yes_price = to_yes_price(token, _dec(price))
        units = _units(size)
        last = self._last_print.get(market_id)
        self._last_print[market_id] = (ts_ms, units, hit, yes_price)
        if last == (ts_ms, units, hit, yes_price):
            return  # the same match printed on the other token too
        # Trade-through: our orders at better prices than the print were ahead of it.
        for order in [o for o in book.orders() if not o.external and o.book_side is hit]:
            better = (
                order.yes_price > yes_price if hit is BookSide.BID else order.yes_price < yes_price
            )
            if better and units > 0:
                units -= self._consume(market, book, hit, order.yes_price, units)
        if units > 0:
            self._consume(market, book, hit, yes_price, units)
        held = self._held.get(market_id, {})
        if (hit, yes_price) in held:
            self._reconcile(market, book, hit, yes_price, held.pop((hit, yes_price)))
        self._maybe_unsync(market_id)

    def on_resolved(self, market_id: str, winning_token_id: str) -> None:
        """Cancel our orders in the market and pay 1 per winning share."""
        for live in [lv for lv in self._live.values() if lv.request.market_id == market_id]:
            self._cancel_live(live, "CANCELED_MARKET_RESOLVED", "market resolved")
        market = self._markets.get(market_id)
        restored = [t for t, m in self._restored_in.items() if m == market_id]
        tokens = set(market.asset_ids if market is not None else ()) | set(restored)
        for (owner, token_id), shares in list(self._shares.items()):
            if token_id in tokens:
                if token_id == winning_token_id:
                    self._cash[owner] = self.cash(owner) + shares
                del self._shares[(owner, token_id)]
        for token_id in restored:
            del self._restored_in[token_id]

    def on_tick_size(self, market_id: str, new_tick: float) -> None:
        """The market's tick changed; new orders must be on the new grid."""
        self._ticks[market_id] = _dec(new_tick)

    # ---- internals ----------------------------------------------------------------------------
    def _book(self, market_id: str) -> Book | None:
        book = self._books.get(market_id)
        if book is not None:
            return book
        market = self._markets[market_id]
        levels = self._source(market.asset_ids[0])
        if levels is None:
            return None
        book = Book()
        bids, asks = levels
        for side, rows in ((Side.BUY, bids), (Side.SELL, asks)):
            for price, size in rows:
                if size > 0:
                    book.add(
                        RestingOrder(
                            order_id=f"x{next(self._ext_ids)}",
                            owner="",
                            token=Token.YES,
                            side=side,
                            price=_dec(price),
                            size=_units(size),
                            external=True,
                        )
                    )
        self._books[market_id] = book
        self._on_sync(market_id, True)
        return book

    def _maybe_unsync(self, market_id: str) -> None:
        # Stay mirrored while our orders rest or while liquidity we took is still missing from
        # the recorded book; unsyncing then would let the same liquidity be taken twice.
        if self._taken.get(market_id) or any(
            lv.request.market_id == market_id for lv in self._live.values()
        ):
            return
        if self._books.pop(market_id, None) is not None:
            self._held.pop(market_id, None)
            self._taken.pop(market_id, None)
            self._on_sync(market_id, False)

    def _add_external(
        self, market: Market, book: Book, side: BookSide, yes_price: Decimal, units: int
    ) -> None:
        intent = OrderIntent(
            order_id=f"x{next(self._ext_ids)}",
            owner="",
            token=Token.YES,
            side=Side.BUY if side is BookSide.BID else Side.SELL,
            price=yes_price,
            size=units,
            external=True,
        )
        for fill in match(book, intent, market.fee_schedule).fills:
            self._apply_fill(fill, market, taker=False)

    def _consume(
        self, market: Market, book: Book, side: BookSide, yes_price: Decimal, units: int
    ) -> int:
        result = trade_at_level(book, side, yes_price, units, market.fee_schedule)
        for fill in result.fills:
            if not fill.maker_external:
                self._apply_fill(fill, market, taker=False)
        return units - result.unfilled

    def _reconcile(
        self, market: Market, book: Book, side: BookSide, yes_price: Decimal, target: int
    ) -> None:
        level = book.level(side, yes_price)
        current = sum(o.size for o in level.orders if o.external) if level else 0
        if current > target:
            book.reduce_external(side, yes_price, current - target)
        elif current < target:
            self._add_external(market, book, side, yes_price, target - current)

    def _settle_held(self, market_id: str) -> None:
        held = self._held.pop(market_id, None)
        book = self._books.get(market_id)
        if not held or book is None:
            return
        market = self._markets[market_id]
        for (side, yes_price), target in held.items():
            self._reconcile(market, book, side, yes_price, target)

    def _apply_fill(self, fill: MatchFill, market: Market, *, taker: bool) -> None:
        order_id = fill.taker_order_id if taker else fill.maker_order_id
        live = self._live.get(order_id)
        if live is None:
            return
        request = live.request
        price = fill.taker_price if taker else fill.maker_price
        size = Decimal(fill.size) / _BASE
        fee = Decimal(fill.fee if taker else -fill.rebate) / _BASE
        if not taker and fill.taker_external:
            # Recorded takers paid the venue's fee; the matcher leaves it out because no account
            # of ours pays it, but our maker fill still earns its share as a rebate.
            schedule = market.fee_schedule
            fee = -maker_rebate(taker_fee(size, fill.taker_price, schedule), schedule)
        owner = request.strategy
        signed = size if request.side == "BUY" else -size
        self._cash[owner] = self.cash(owner) - signed * price - fee
        key = (owner, request.token_id)
        self._shares[key] = self.shares(owner, request.token_id) + signed
        live.filled += fill.size
        self._emit(
            Fill(
                market_id=request.market_id,
                token_id=request.token_id,
                fill_id=f"t{next(self._trade_ids)}",
                order_id=order_id,
                client_order_id=order_id,
                strategy=owner,
                side=request.side,
                price=price,
                size=size,
                fee=fee,
                liquidity="TAKER" if taker else "MAKER",
                status="MATCHED",
                timestamp=self.now_ns // 1_000_000,
                signal_id=order_id,
            )
        )
        if not taker and fill.maker_remaining == 0:
            del self._live[order_id]
            self._update(request, "MATCHED", live.filled, "")

    def _cancel_live(self, live: _Live, status: str, reason: str) -> None:
        request = live.request
        del self._live[request.client_order_id]
        book = self._books.get(request.market_id)
        if book is not None and request.client_order_id in book:
            book.remove(request.client_order_id)
        self._update(request, status, live.filled, reason)
        self._maybe_unsync(request.market_id)

    def _update(self, request: OrderRequest, status: str, filled_units: int, reason: str) -> None:
        self._emit(
            OrderUpdate(
                market_id=request.market_id,
                token_id=request.token_id,
                order_id=request.client_order_id,
                client_order_id=request.client_order_id,
                strategy=request.strategy,
                side=request.side,
                price=request.price,
                original_size=request.size,
                size_matched=Decimal(filled_units) / _BASE,
                status=status,
                timestamp=self.now_ns // 1_000_000,
                order_type=request.order_type,
                signal_id=request.client_order_id,
                reason=reason,
            )
        )

    def fee_schedule(self, market_id: str) -> FeeSchedule:
        """Return the fee schedule the venue applies in ``market_id``."""
        return self._markets[market_id].fee_schedule

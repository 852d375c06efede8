"""The Engine: hosts strategies over three seams — a Feed of messages, a Clock and a Venue.

The same object runs a notebook backtest (replayed recording, replay clock, ``SimVenue``),
paper trading (live bus feed, wall clock, ``PaperVenue``) and production (live feed,
``ExecutorLink``). Two entry points feed it: :meth:`Engine.run_replay` walks a recording's
columnar arrays (the fast path: no object per row, strategies called only when a token they
subscribed to changes) and :meth:`Engine.on_message` takes one live bus message.

Risk: with ``risk=RiskLimits(...)`` every order first goes through ``polybot.risk.check_order``,
the gate the live executor runs (inputs built from the engine's own books and accounts, see
:mod:`polybot.engine.risk`). A rejected order never reaches the venue: the strategy gets
``on_order`` with status ``INVALID`` and ``reason`` ``"<rule>: <detail>"`` (as from the
executor), and ``StrategyHost.rejections`` counts it by rule.

Failure policy: with ``isolate=False`` (notebooks, backtests) a strategy's exception propagates
at once; with ``isolate=True`` (services) the strategy is marked ``FAULTED``, its orders are
cancelled, the traceback is logged and every other strategy keeps running.
"""

from __future__ import annotations

import heapq
import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, Literal

from polybot.bus.messages import (
    BookDelta,
    BookSnapshot,
    Event,
    Fill,
    MarketResolved,
    Message,
    OrderUpdate,
    TickSizeChange,
    Trade,
)
from polybot.core.money import to_decimal
from polybot.engine.book import BookViewAdapter, L2Book
from polybot.engine.context import EngineContext
from polybot.engine.portfolio import Portfolio
from polybot.engine.risk import InFlight
from polybot.engine.risk import check as risk_check
from polybot.engine.venue import Venue
from polybot.model.market import Market, Outcome
from polybot.recording.replay import ReplayData
from polybot.risk import Rejection, RiskLimits
from polybot.strategies.base import Strategy
from polybot.venues.sim.venue import OrderRequest, SimVenue

log = logging.getLogger(__name__)
State = Literal["RUNNING", "FAULTED", "STOPPED"]
_NEVER = 1 << 62


class StrategyHost:
    """One hosted strategy: its context, accounting, live orders and state."""

    def __init__(
        self, engine: Engine, strategy: Strategy, name: str, starting_cash: Decimal
    ) -> None:
        self.strategy = strategy
        self.name = name
        self.state: State = "RUNNING"
        self.error = ""
        self.portfolio = Portfolio(starting_cash)
        self.orders: dict[str, OrderUpdate] = {}
        self.order_log: list[OrderUpdate] = []
        self.inflight: dict[str, InFlight] = {}  # sent, not acknowledged (kept with risk on)
        self.rejections: dict[str, int] = {}  # risk-gate rejections by rule
        self.ctx = EngineContext(engine, self)


class Engine:
    """Host ``strategies`` over a feed, a clock and a venue (see module docstring)."""

    def __init__(
        self,
        strategies: Sequence[Strategy],
        *,
        markets: Iterable[Market] = (),
        venue: Venue | Callable[[Engine], Venue] | None = None,
        isolate: bool = False,
        starting_cash: Decimal | float | int = 1000,
        latency_ms: int = 0,
        sample_every_s: float = 60.0,
        clock: Callable[[], int] | None = None,
        risk: RiskLimits | None = None,
    ) -> None:
        self.isolate = isolate
        self.risk = risk
        self.markets: dict[str, Market] = {}
        self._token_market: dict[str, Market] = {}
        self._ticks: dict[str, Decimal] = {}
        for market in markets:
            self.add_market(market)
        self.starting_cash = (
            to_decimal(starting_cash) if not isinstance(starting_cash, Decimal) else starting_cash
        )
        self.now_ns = 0
        self._wall = clock  # live mode: a wall-clock source in ns; replay sets now_ns itself
        self._codes: dict[str, int] = {}
        self._books: list[L2Book] = []
        self._views: list[BookViewAdapter] = []
        self._subs: list[list[StrategyHost]] = []
        self._synced: list[bool] = []
        self._wildcard: list[StrategyHost] = []
        self._outbox: deque[Message] = deque()
        self._timers: list[tuple[int, int, StrategyHost, str, int]] = []
        self._timer_seq = 0
        self._cancelled_timers: set[tuple[str, str]] = set()
        self._sample_ns = int(sample_every_s * 1e9)
        self._next_sample = 0
        self.hosts: list[StrategyHost] = []
        names: set[str] = set()
        for strategy in strategies:
            name = strategy.strategy_name()
            base, n = name, 1
            while name in names:
                n += 1
                name = f"{base}{n}"
            names.add(name)
            self.hosts.append(StrategyHost(self, strategy, name, self.starting_cash))
        self._by_name = {h.name: h for h in self.hosts}
        built: Venue
        if venue is None:
            built = SimVenue(
                self.markets, self.levels, latency_ms=latency_ms, starting_cash=self.starting_cash
            )
        elif callable(venue) and not hasattr(venue, "place"):
            built = venue(self)  # a factory that needs the engine (e.g. as a book source)
        else:
            built = venue  # type: ignore[assignment]
        self.venue: Venue = built
        venue = built
        self._sim: SimVenue | None = venue if isinstance(venue, SimVenue) else None
        self.venue.start(self._outbox.append, self._on_sync)
        self.messages = 0
        self._started = False

    # ---- registry of markets, tokens and books ------------------------------------------------
    def add_market(self, market: Market) -> None:
        """Make a market known (tick, fees, tokens)."""
        self.markets[market.condition_id] = market
        self._ticks[market.condition_id] = market.tick_size or Decimal("0.01")
        for asset in market.asset_ids:
            self._token_market[asset] = market
        add_to_venue = getattr(getattr(self, "venue", None), "add_market", None)
        if add_to_venue is not None:
            add_to_venue(market)

    def _code(self, token_id: str, market_id: str) -> int:
        code = self._codes.get(token_id)
        if code is not None:
            return code
        if token_id not in self._token_market:
            self._adopt_unknown(token_id, market_id)
        code = len(self._books)
        self._codes[token_id] = code
        book = L2Book(market_id, token_id)
        self._books.append(book)
        self._views.append(BookViewAdapter(book))
        self._subs.append(list(self._wildcard))
        self._synced.append(bool(self._sim and self._sim.is_synced(market_id)))
        return code

    def _adopt_unknown(self, token_id: str, market_id: str) -> None:
        # Recordings without metadata (e.g. imported captures): outcomes in order of appearance.
        market = self.markets.get(market_id) or Market(
            condition_id=market_id, min_order_size=Decimal(5)
        )
        outcomes = (
            *market.outcomes,
            Outcome(name="Yes" if not market.outcomes else "No", asset_id=token_id),
        )
        self.add_market(
            Market(
                **{
                    **{f: getattr(market, f) for f in market.__struct_fields__},
                    "outcomes": outcomes,
                }
            )
        )

    def market_of(self, token_or_market_id: str) -> Market:
        """Return the market of a token id or condition id."""
        market = self._token_market.get(token_or_market_id) or self.markets.get(token_or_market_id)
        if market is None:
            raise KeyError(f"unknown token or market {token_or_market_id!r}")
        return market

    def tick_of(self, market_id: str) -> Decimal:
        """Return the market's current tick."""
        return self._ticks.get(market_id, Decimal("0.01"))

    def book_view(self, token_id: str) -> BookViewAdapter | None:
        """Return a token's book view or None."""
        code = self._codes.get(token_id)
        return None if code is None else self._views[code]

    def levels(
        self, token_id: str
    ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]] | None:
        """Return ``(bids, asks)`` best first for ``token_id`` (the SimVenue's book source)."""
        code = self._codes.get(token_id)
        if code is None:
            return None
        book = self._books[code]
        return book.bids_list(), book.asks_list()

    def _on_sync(self, market_id: str, synced: bool) -> None:
        for asset in self.markets[market_id].asset_ids if market_id in self.markets else ():
            code = self._codes.get(asset)
            if code is not None:
                self._synced[code] = synced

    def subscribe(self, host: StrategyHost, token_id: str | None) -> None:
        """Route a token's updates (every token's when None) to ``host``."""
        if token_id is None:
            self._wildcard.append(host)
            for subs in self._subs:
                if host not in subs:
                    subs.append(host)
            return
        market = self._token_market.get(token_id)
        code = self._code(token_id, market.condition_id if market else token_id)
        if host not in self._subs[code]:
            self._subs[code].append(host)

    # ---- orders, timers, outbox ----------------------------------------------------------------
    def submit(
        self,
        host: StrategyHost,
        client_order_id: str,
        market: Market,
        token_id: str,
        side: Literal["BUY", "SELL"],
        price: Decimal,
        size: Decimal,
        order_type: str,
        post_only: bool,
        reason: str,
        confidence: float,
    ) -> None:
        """Send an order request to the venue."""
        if host.state != "RUNNING":
            return
        if self.risk is not None:
            rejection = risk_check(self, host, market, token_id, side, price, size)
            if rejection is not None:
                self._reject(
                    host,
                    client_order_id,
                    market,
                    token_id,
                    side,
                    price,
                    size,
                    order_type,
                    rejection,
                )
                return
            host.inflight[client_order_id] = InFlight(market.condition_id, side, price, size)
        if self._sim is not None:
            self._sim.now_ns = self.now_ns
        self.venue.place(
            OrderRequest(
                client_order_id=client_order_id,
                strategy=host.name,
                market_id=market.condition_id,
                token_id=token_id,
                side=side,
                price=price,
                size=size,
                order_type=order_type,  # type: ignore[arg-type]
                post_only=post_only,
                reason=reason,
                confidence=confidence,
            )
        )
        self._reschedule()

    def _reject(
        self,
        host: StrategyHost,
        client_order_id: str,
        market: Market,
        token_id: str,
        side: Literal["BUY", "SELL"],
        price: Decimal,
        size: Decimal,
        order_type: str,
        rejection: Rejection,
    ) -> None:
        # Delivered through the outbox, like a venue answer: after the placing handler returns.
        host.rejections[rejection.rule] = host.rejections.get(rejection.rule, 0) + 1
        self._outbox.append(
            OrderUpdate(
                market_id=market.condition_id,
                token_id=token_id,
                order_id="",
                client_order_id=client_order_id,
                strategy=host.name,
                side=side,
                price=price,
                original_size=size,
                size_matched=size * 0,
                status="INVALID",
                timestamp=self.now_ns // 1_000_000,
                order_type=order_type,  # type: ignore[arg-type]
                reason=f"{rejection.rule}: {rejection.detail}",
            )
        )

    def cancel(self, host: StrategyHost, client_order_id: str) -> None:
        """Ask the venue to cancel one of ``host``'s orders."""
        if client_order_id in host.orders:
            self.venue.cancel(client_order_id)
            self._reschedule()

    def set_timer(self, host: StrategyHost, name: str, delay_ns: int, repeat: bool) -> None:
        """Schedule ``host.on_timer(name)``."""
        self._cancelled_timers.discard((host.name, name))
        self._timer_seq += 1
        heapq.heappush(
            self._timers,
            (
                self.now_ns + max(delay_ns, 1),
                self._timer_seq,
                host,
                name,
                delay_ns if repeat else 0,
            ),
        )
        self._reschedule()

    def cancel_timer(self, host: StrategyHost, name: str) -> None:
        """Drop a named timer of ``host``."""
        self._cancelled_timers.add((host.name, name))

    def _reschedule(self) -> None:
        wake = self._next_sample if self._sample_ns else _NEVER
        if self._timers:
            wake = min(wake, self._timers[0][0])
        due = getattr(self.venue, "next_due_ns", None)
        if due is not None:
            wake = min(wake, due)
        self.wake_ns = wake

    wake_ns: int = 0

    def _wake(self, now_ns: int) -> None:
        """Run everything due up to ``now_ns`` in time order: venue commands, timers, samples."""
        while True:
            due_venue = getattr(self.venue, "next_due_ns", None) or _NEVER
            due_timer = self._timers[0][0] if self._timers else _NEVER
            due_sample = self._next_sample if self._sample_ns else _NEVER
            due = min(due_venue, due_timer, due_sample)
            if due > now_ns:
                break
            self.now_ns = max(self.now_ns, due)
            if due == due_venue and self._sim is not None:
                self._sim.advance(due)
            elif due == due_timer:
                _, _, host, name, interval = heapq.heappop(self._timers)
                if (host.name, name) in self._cancelled_timers:
                    self._cancelled_timers.discard((host.name, name))
                    continue
                if interval:
                    self._timer_seq += 1
                    heapq.heappush(
                        self._timers, (due + interval, self._timer_seq, host, name, interval)
                    )
                self._call(host, host.strategy.on_timer, name)
            else:
                self.sample()
                self._next_sample = due + self._sample_ns
            self._drain()
        self.now_ns = max(self.now_ns, now_ns)
        self._reschedule()

    def sample(self) -> None:
        """Record every strategy's equity at ``now_ns`` (positions marked at mid)."""
        marks: dict[str, float] = {}
        for host in self.hosts:
            for token in host.portfolio.positions:
                code = self._codes.get(token)
                if code is not None:
                    mid = self._books[code].mid
                    if mid is not None:
                        marks[token] = mid
            host.portfolio.mark(self.now_ns, marks)

    def _drain(self) -> None:
        outbox = self._outbox
        while outbox:
            message = outbox.popleft()
            if isinstance(message, Fill):
                host = self._by_name.get(message.strategy)
                if host is not None:
                    host.portfolio.apply_fill(message, self.now_ns)
                    self._call(host, host.strategy.on_fill, message)
            elif isinstance(message, OrderUpdate):
                host = self._by_name.get(message.strategy)
                if host is not None:
                    host.order_log.append(message)
                    if message.status in ("LIVE", "DELAYED"):
                        host.orders[message.client_order_id] = message
                    else:
                        host.orders.pop(message.client_order_id, None)
                    if host.inflight:
                        host.inflight.pop(message.client_order_id, None)
                    self._call(host, host.strategy.on_order, message)

    def _call(self, host: StrategyHost, handler: Callable[..., None], *args: Any) -> None:
        if host.state != "RUNNING":
            return
        try:
            handler(host.ctx, *args)
        except Exception as exc:
            if not self.isolate:
                raise
            host.state = "FAULTED"
            host.error = f"{type(exc).__name__}: {exc}"
            log.exception("strategy %s FAULTED; isolating it, others continue", host.name)
            for client_order_id in list(host.orders):
                self.venue.cancel(client_order_id)
        if self._outbox:
            self._drain()

    # ---- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Call every strategy's ``on_start`` (once)."""
        if self._started:
            return
        self._started = True
        self._next_sample = self.now_ns
        for host in self.hosts:
            self._call(host, host.strategy.on_start)
        self._reschedule()

    def stop(self) -> None:
        """Take a last equity sample and call ``on_stop``."""
        self.sample()
        for host in self.hosts:
            self._call(host, host.strategy.on_stop)
            if host.state == "RUNNING":
                host.state = "STOPPED"

    def states(self) -> dict[str, str]:
        """Return ``{strategy name: RUNNING | FAULTED | STOPPED}``."""
        return {h.name: h.state for h in self.hosts}

    # ---- the replay hot path --------------------------------------------------------------------
    def run_replay(self, data: ReplayData, *, progress: Callable[[int], None] | None = None) -> int:
        """Feed every row of ``data`` through the engine; return the number of messages."""
        from polybot.engine.replay import run_replay

        return run_replay(self, data, progress)

    def _tick_changed(
        self, market_id: str, token_id: str, old: float, new: float, ts_ms: int, c: int
    ) -> None:
        self._ticks[market_id] = to_decimal(new)
        self._books[c].tick_size = new
        if self._sim is not None:
            self._sim.on_tick_size(market_id, new)
        change = TickSizeChange(
            market_id=market_id,
            token_id=token_id,
            old_tick_size=old,
            new_tick_size=new,
            timestamp=ts_ms,
        )
        for host in self._subs[c]:
            self._call(host, host.strategy.on_tick_size, change)

    def _resolve(self, resolved: MarketResolved) -> None:
        for host in self.hosts:
            self._call(host, host.strategy.on_resolved, resolved)
        if self._sim is not None:
            self._sim.now_ns = self.now_ns
            self._sim.on_resolved(resolved.market_id, resolved.winning_token_id)
        self._drain()
        market = self.markets.get(resolved.market_id)
        assets = market.asset_ids if market else (resolved.winning_token_id,)
        for host in self.hosts:
            host.portfolio.settle(
                resolved.market_id, assets, resolved.winning_token_id, self.now_ns
            )

    # ---- the live path --------------------------------------------------------------------------
    def on_message(self, message: Message, ts_recv_ns: int | None = None) -> None:
        """Process one live message (bus feed, paper trading, notebooks)."""
        now = (
            ts_recv_ns if ts_recv_ns is not None else (self._wall() if self._wall else self.now_ns)
        )
        if not self._started:
            self.now_ns = now
            self.start()
        if now >= self.wake_ns:
            self._wake(now)
        self.now_ns = max(self.now_ns, now)
        self.messages += 1
        on_message = getattr(self.venue, "on_message", None)
        if on_message is not None:
            on_message(message)  # PaperVenue keeps its own books; ExecutorLink reads fates
            self._drain()
        match message:
            case BookSnapshot():
                c = self._code(message.token_id, message.market_id)
                book = self._books[c]
                book.load(
                    ((lv.price, lv.size) for lv in message.bids),
                    ((lv.price, lv.size) for lv in message.asks),
                )
                book.tick_size = message.tick_size
                book.timestamp_ms = message.timestamp
                self._book_changed(c)
            case BookDelta():
                c = self._code(message.token_id, message.market_id)
                book = self._books[c]
                for change in message.changes:
                    book.set_level(change.side == "BUY", change.price, change.size)
                book.timestamp_ms = message.timestamp
                self._book_changed(c)
            case Trade():
                c = self._code(message.token_id, message.market_id)
                for host in self._subs[c]:
                    self._call(host, host.strategy.on_trade, message)
            case TickSizeChange():
                c = self._code(message.token_id, message.market_id)
                self._tick_changed(
                    message.market_id,
                    message.token_id,
                    message.old_tick_size,
                    message.new_tick_size,
                    message.timestamp,
                    c,
                )
            case MarketResolved():
                self._resolve(message)
            case Event():
                for host in self.hosts:
                    self._call(host, host.strategy.on_event, message)
            case _:
                pass
        self._drain()

    def _book_changed(self, c: int) -> None:
        view = self._views[c]
        for host in self._subs[c]:
            self._call(host, host.strategy.on_book, view)

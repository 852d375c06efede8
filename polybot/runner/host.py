"""``StrategyRunner``: hosts the enabled strategy instances on live bus messages.

Each instance gets its own ``Engine`` (isolating, wall clock) whose venue is a ``RunnerLink``
(signals PUSHed to the executor, fates read from ``events.pub``) or, in shadow mode, a
``ShadowVenue``. One engine per instance is what lets the runner start, stop and restart one
strategy without touching the others. A shared book store keeps every token's L2 book so an
instance started mid-session is seeded with the current books instead of waiting for the next
snapshot.

Failure policy (architecture §7): a strategy that raises is marked ``FAULTED`` by its engine,
its orders are cancelled, its run is closed with status FAULTED, a ``strategy_faulted`` event
goes out on ``runner.pub`` and every other instance keeps running. A faulted instance stays down
until its config row changes (new version, or disable + enable).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from polybot.bus.messages import (
    BookDelta,
    BookSnapshot,
    Command,
    Event,
    Heartbeat,
    Level,
    Message,
    Signal,
)
from polybot.core.clock import wall_ms
from polybot.engine.book import L2Book
from polybot.engine.engine import Engine, StrategyHost
from polybot.model.market import Market
from polybot.runner.configs import InstanceSpec, build_strategy
from polybot.runner.links import RunnerLink, ShadowVenue
from polybot.runner.logbook import Logbook
from polybot.strategies.base import Strategy

log = logging.getLogger(__name__)

SOURCE = "runner"


@dataclass
class Instance:
    """One running (or failed) strategy instance."""

    spec: InstanceSpec
    run_id: str
    state: str  # RUNNING | FAULTED | CONFIG_ERROR
    engine: Engine | None = None
    error: str = ""
    started_ms: int = field(default_factory=wall_ms)

    @property
    def host(self) -> StrategyHost | None:
        """Return the engine's host of this instance's strategy."""
        return self.engine.hosts[0] if self.engine is not None else None


class StrategyRunner:
    """Start/stop/restart instances from specs and feed them bus messages (one thread: the loop)."""

    def __init__(
        self,
        *,
        logbook: Logbook,
        send_signal: Callable[[Signal], None],
        send_command: Callable[[Command], None] | None,
        publish: Callable[[Event], object],
        clock: Callable[[], int] = time.time_ns,
        starting_cash: Decimal = Decimal(1000),
    ) -> None:
        self._logbook = logbook
        self._send_signal = send_signal
        self._send_command = send_command
        self._publish = publish
        self._clock = clock
        self._starting_cash = starting_cash
        self.markets: dict[str, Market] = {}
        self.books: dict[str, L2Book] = {}
        self.instances: dict[str, Instance] = {}
        self.runs: dict[str, str] = {}  # instance → current run id (read by the log handler)
        self.counters: dict[str, int] = {}

    # ---- configuration ------------------------------------------------------------------------
    def add_markets(self, markets: Iterable[Market]) -> None:
        """Make markets known to the runner and every running engine."""
        for market in markets:
            if market.condition_id in self.markets:
                continue
            self.markets[market.condition_id] = market
            for instance in self.instances.values():
                if instance.engine is not None:
                    instance.engine.add_market(market)

    def apply(self, wanted: dict[str, InstanceSpec]) -> None:
        """Converge on ``wanted``: stop what is gone, restart what changed, start what is new."""
        for name in [n for n in self.instances if n not in wanted]:
            self._stop(self.instances.pop(name), "STOPPED", "disabled or removed")
        for name, spec in wanted.items():
            current = self.instances.get(name)
            if current is not None and current.spec.identity == spec.identity:
                continue
            if current is not None:
                self._stop(current, "RESTARTED", "config changed")
            self.instances[name] = self._start(spec)

    def _start(self, spec: InstanceSpec) -> Instance:
        run_id = self._logbook.start_run(spec.name, spec.mode, spec.config_hash, spec.config)
        self.runs[spec.name] = run_id
        instance = Instance(spec=spec, run_id=run_id, state="RUNNING")
        decide = self._decision_logger(instance)
        try:
            # Everything that depends on the config; a failure here must not retry every poll.
            engine = self._engine(spec, build_strategy(spec), decide, run_id)
        except Exception as exc:  # a bad config must not take the runner down
            return self._config_error(instance, exc)
        instance.engine = engine
        engine.now_ns = self._clock()
        engine.start()
        for book in self.books.values():
            engine.on_message(_snapshot(book))
        self._count("instances_started")
        self._logbook.log(run_id, spec.name, "INFO", "started", _spec_data(spec))
        log.info("started %s (%s, %s mode)", spec.name, spec.config_hash, spec.mode)
        self._check(instance)
        return instance

    def _engine(
        self,
        spec: InstanceSpec,
        strategy: Strategy,
        decide: Callable[[str, dict[str, Any]], None],
        run_id: str,
    ) -> Engine:
        venue = (
            ShadowVenue(decide)
            if spec.mode == "shadow"
            else RunnerLink(
                self.markets,
                self._send_signal,
                self._send_command,
                run_tag=run_id[:8],
                on_decision=decide,
            )
        )
        return Engine(
            [strategy],
            markets=self.markets.values(),
            venue=venue,
            isolate=True,
            starting_cash=self._starting_cash,
            clock=self._clock,
        )

    def _config_error(self, instance: Instance, exc: Exception) -> Instance:
        spec = instance.spec
        instance.state = "CONFIG_ERROR"
        instance.error = f"{type(exc).__name__}: {exc}"
        self._count("config_errors")
        self._logbook.log(
            instance.run_id, spec.name, "ERROR", "config error", {"error": instance.error}
        )
        self._logbook.end_run(instance.run_id, "CONFIG_ERROR")
        log.error("cannot start %s: %s", spec.name, instance.error)
        self._event("strategy_config_error", instance)
        return instance

    def _stop(self, instance: Instance, status: str, why: str) -> None:
        engine = instance.engine
        if engine is not None and instance.state == "RUNNING":
            host = engine.hosts[0]
            for client_order_id in list(host.orders):
                engine.venue.cancel(client_order_id)  # a stopped strategy leaves nothing resting
            engine.stop()
            self._logbook.log(instance.run_id, instance.spec.name, "INFO", "stopped", {"why": why})
            self._logbook.end_run(instance.run_id, status)
            self._event("strategy_stopped", instance, why=why, status=status)
        self.runs.pop(instance.spec.name, None)
        self._count("instances_stopped")
        log.info("stopped %s: %s", instance.spec.name, why)

    def stop_all(self) -> None:
        """Stop every instance (shutdown): cancel their orders, close their runs."""
        for name in list(self.instances):
            self._stop(self.instances.pop(name), "STOPPED", "runner shutdown")

    # ---- feeding ------------------------------------------------------------------------------
    def on_market_data(self, message: Message) -> None:
        """Apply a prices-bus message to the book store and every running engine."""
        self._apply_to_store(message)
        self._dispatch(message)

    def _apply_to_store(self, message: Message) -> None:
        if isinstance(message, BookSnapshot):
            book = self._book(message.market_id, message.token_id)
            book.load(
                ((lv.price, lv.size) for lv in message.bids),
                ((lv.price, lv.size) for lv in message.asks),
            )
            book.tick_size = message.tick_size
            book.timestamp_ms = message.timestamp
        elif isinstance(message, BookDelta):
            book = self._book(message.market_id, message.token_id)
            for change in message.changes:
                book.set_level(change.side == "BUY", change.price, change.size)
            book.timestamp_ms = message.timestamp

    def resync(self, books: list[BookSnapshot], later: list[BookSnapshot | BookDelta]) -> None:
        """Replace books with a snapshot, re-apply ``later`` changes, then show engines the result.

        ``later`` were already dispatched when they arrived; they only go to the book store here,
        so strategies see each resynced book once (as a snapshot), never a change twice.
        """
        touched: dict[str, L2Book] = {}
        for message in (*books, *later):
            self._apply_to_store(message)
            touched[message.token_id] = self.books[message.token_id]
        for book in touched.values():
            self._dispatch(_snapshot(book))

    def on_event(self, message: Message) -> None:
        """Pass an events-bus message (fates, fills, system events) to every running engine."""
        self._dispatch(message)

    def tick(self) -> None:
        """Fire due timers on the wall clock even when no market data arrives."""
        now = self._clock()
        for instance in list(self.instances.values()):
            engine = instance.engine
            if engine is not None and instance.state == "RUNNING" and engine.wake_ns <= now:
                # A heartbeat is ignored by strategies but lets the engine run what is due.
                engine.on_message(_WAKE, now)
                self._check(instance)

    def _dispatch(self, message: Message) -> None:
        for instance in self.instances.values():
            engine = instance.engine
            if engine is not None and instance.state == "RUNNING":
                engine.on_message(message)
                if engine.hosts[0].state != "RUNNING":
                    self._check(instance)

    def _check(self, instance: Instance) -> None:
        host = instance.host
        if host is None or host.state != "FAULTED" or instance.state != "RUNNING":
            return
        instance.state = "FAULTED"
        instance.error = host.error
        self._count("strategies_faulted")
        self._logbook.log(
            instance.run_id, instance.spec.name, "ERROR", "faulted", {"error": host.error}
        )
        self._logbook.end_run(instance.run_id, "FAULTED")
        self._event("strategy_faulted", instance)

    # ---- reporting ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Return every instance's state (what ``runner.status`` answers)."""
        return {
            "strategies": {
                name: {
                    "state": i.state,
                    "error": i.error,
                    "run_id": i.run_id,
                    "mode": i.spec.mode,
                    "config_hash": i.spec.config_hash,
                    "started_ms": i.started_ms,
                    "signals": _sent(i),
                }
                for name, i in self.instances.items()
            },
            "markets": len(self.markets),
            "books": len(self.books),
        }

    def _decision_logger(self, instance: Instance) -> Callable[[str, dict[str, Any]], None]:
        def decide(message: str, data: dict[str, Any]) -> None:
            self._count("decisions")
            self._logbook.log(instance.run_id, instance.spec.name, "DECISION", message, data)

        return decide

    def _event(self, event_type: str, instance: Instance, **extra: Any) -> None:
        data = {
            "strategy": instance.spec.name,
            "run_id": instance.run_id,
            "state": instance.state,
            "error": instance.error,
            "config_hash": instance.spec.config_hash,
            **extra,
        }
        self._publish(Event(source=SOURCE, event_type=event_type, data=data, timestamp=wall_ms()))

    def _book(self, market_id: str, token_id: str) -> L2Book:
        book = self.books.get(token_id)
        if book is None:
            book = self.books[token_id] = L2Book(market_id, token_id)
        return book

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1


_WAKE = Heartbeat(service=SOURCE, pid=0, status="ok", uptime_s=0.0, timestamp=0)


def _snapshot(book: L2Book) -> BookSnapshot:
    return BookSnapshot(
        market_id=book.market_id,
        token_id=book.token_id,
        bids=[Level(p, s) for p, s in book.bids_list()],
        asks=[Level(p, s) for p, s in book.asks_list()],
        timestamp=book.timestamp_ms,
        tick_size=book.tick_size,
    )


def _spec_data(spec: InstanceSpec) -> dict[str, Any]:
    return {"class": spec.strategy_class, "config_hash": spec.config_hash, "mode": spec.mode}


def _sent(instance: Instance) -> int:
    venue = instance.engine.venue if instance.engine is not None else None
    return int(getattr(venue, "sent", 0))

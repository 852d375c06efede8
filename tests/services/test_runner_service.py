"""The runner as a real process between real sockets: it hosts two strategies, isolates the one
that raises while the other keeps trading, logs runs and decisions to DuckDB (queried over its
REP), and applies config changes — new version, disable — without restarting."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from polybot.bus.messages import BookSnapshot, Event, Fill, Level, OrderUpdate, Signal
from polybot.bus.nng import Publisher, Puller, Subscriber
from polybot.core.errors import BusTimeout
from polybot.stack.status_file import read_status
from polybot.statecmd.files import StrategyModes, write_strategy_modes
from polybot.storage.duck_read import DuckQueryClient
from polybot.storage.migrate import init_db
from polybot.storage.models import Market, StrategyConfig
from polybot.storage.sqlite import make_engine, make_session_factory
from polybot.testing.stack import child_env, isolated_stack_env, short_tmp_dir, wait_until

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
TAKER = "test_runner_strategies:Taker"
FAULTY = "test_runner_strategies:Faulty"
LIVE = ("taker", "faulty", "late")


def addr(ipc_dir: Path, name: str) -> str:
    return f"ipc://{ipc_dir}/{name}"


def runner_env(root: Path) -> dict[str, str]:
    """Return the runner's environment: the stack under ``root``, this folder's strategies."""
    return child_env(
        isolated_stack_env(root, pythonpath=[HERE, REPO], extra={"PYTHONUNBUFFERED": "1"})
    )


def add_config(data_dir: Path, strategy: str, cls: str, config: dict[str, Any], h: str) -> None:
    engine = make_engine(data_dir / "polybot.db")
    with make_session_factory(engine)() as session, session.begin():
        session.add(
            StrategyConfig(
                strategy=strategy, strategy_class=cls, config_hash=h, config=json.dumps(config)
            )
        )
    engine.dispose()


def set_enabled(data_dir: Path, strategy: str, enabled: bool) -> None:
    engine = make_engine(data_dir / "polybot.db")
    with make_session_factory(engine)() as session, session.begin():
        session.execute(
            update(StrategyConfig)
            .where(StrategyConfig.strategy == strategy)
            .values(is_enabled=enabled)
        )
    engine.dispose()


class Bench:
    """The runner's peers: scanner (prices PUB), executor (signals PULL + events PUB), observers."""

    def __init__(self, ipc_dir: Path) -> None:
        self.prices = Publisher(addr(ipc_dir, "prices_pub"))
        self.events = Publisher(addr(ipc_dir, "events_pub"))
        self.signals = Puller(addr(ipc_dir, "signals_push"))
        self.runner_events = Subscriber(addr(ipc_dir, "runner_pub"))
        self.received: list[Signal] = []
        self.runner_seen: list[Event] = []
        self.ask = 0.50

    def book(self) -> None:
        self.ask = 0.51 if self.ask == 0.50 else 0.50  # every update differs
        self.prices.publish(
            BookSnapshot(
                market_id="0xm1",
                token_id="t1",
                bids=[Level(0.48, 100.0)],
                asks=[Level(self.ask, 100.0)],
                timestamp=int(time.time() * 1000),
            )
        )

    def drain(self) -> list[Signal]:
        new: list[Signal] = []
        while True:
            try:
                message = self.signals.recv(timeout=0.05)
            except BusTimeout:
                break
            if isinstance(message, Signal):
                new.append(message)
                self.fill(message)
        self.received.extend(new)
        while (event := self._runner_event()) is not None:
            self.runner_seen.append(event)
        return new

    def _runner_event(self) -> Event | None:
        message = self.runner_events.try_recv()
        return message if isinstance(message, Event) else None

    def fill(self, signal: Signal) -> None:
        """Answer as the executor does: the order goes live and fills at once."""
        now = int(time.time() * 1000)
        common = {
            "market_id": signal.market_id,
            "token_id": signal.token_id,
            "client_order_id": signal.signal_id,
            "strategy": signal.strategy,
            "side": "BUY",
            "price": Decimal(str(signal.price)),
            "timestamp": now,
            "signal_id": signal.signal_id,
        }
        self.events.publish(
            OrderUpdate(
                order_id="o-" + signal.signal_id,
                original_size=Decimal(str(signal.size)),
                size_matched=Decimal(0),
                status="LIVE",
                **common,
            )
        )
        self.events.publish(
            Fill(
                fill_id="f-" + signal.signal_id,
                order_id="o-" + signal.signal_id,
                size=Decimal(str(signal.size)),
                fee=Decimal(0),
                liquidity="TAKER",
                status="MATCHED",
                **common,
            )
        )

    def pump(self, until: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
        def step() -> bool:
            self.book()
            self.drain()
            return until()

        wait_until(step, timeout_s, what, interval_s=0.05)

    def close(self) -> None:
        for endpoint in (self.prices, self.events, self.signals, self.runner_events):
            endpoint.close()


@pytest.fixture
def setup() -> Iterator[tuple[Path, Path, Bench]]:
    root = short_tmp_dir("pbrn-")
    data_dir, ipc_dir = root / "data", root / "ipc"
    data_dir.mkdir()
    init_db(data_dir / "polybot.db")
    engine = make_engine(data_dir / "polybot.db")
    with make_session_factory(engine)() as session, session.begin():
        session.add(
            Market(market_id="0xm1", yes_token_id="t1", no_token_id="t2", tick_size=Decimal("0.01"))
        )
    engine.dispose()
    add_config(data_dir, "taker", TAKER, {"token_id": "t1", "tag": "v1"}, "h-v1")
    add_config(data_dir, "faulty", FAULTY, {"token_id": "t1"}, "h-f")
    # New strategies run in shadow until enabled as live (what strategy.enable writes).
    write_strategy_modes(data_dir, StrategyModes(modes=dict.fromkeys(LIVE, "live")))
    bench = Bench(ipc_dir)
    yield data_dir, ipc_dir, bench
    bench.close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def runner(setup: tuple[Path, Path, Bench]) -> Iterator[subprocess.Popen[bytes]]:
    data_dir, _, bench = setup
    log_path = data_dir / "runner.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.runner"],
            cwd=REPO,
            env=runner_env(data_dir.parent),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    ready = data_dir / "run" / "runner.ready"

    def is_ready() -> bool:
        assert proc.poll() is None, log_path.read_text()
        status = read_status(ready)
        return status is not None and status.pid == proc.pid

    wait_until(is_ready, 60, "runner ready")
    bench.prices.wait_for_peers(1, timeout=10)
    bench.events.wait_for_peers(1, timeout=10)
    bench.runner_events.wait_for_peers(1, timeout=10)
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def query(ipc_dir: Path, sql: str) -> list[dict[str, Any]]:
    with DuckQueryClient(addr(ipc_dir, "strategy_logs_req")) as client:
        rows: list[dict[str, Any]] = client.query(sql).to_pylist()
        return rows


def test_runner_isolates_a_fault_logs_to_duckdb_and_reconfigures_live(
    setup: tuple[Path, Path, Bench], runner: subprocess.Popen[bytes]
) -> None:
    data_dir, ipc_dir, bench = setup

    # 1. The faulty strategy raises on its 2nd book; the taker keeps trading after that.
    bench.pump(
        lambda: any(e.event_type == "strategy_faulted" for e in bench.runner_seen),
        "strategy_faulted event",
    )
    fault = next(e for e in bench.runner_seen if e.event_type == "strategy_faulted")
    assert fault.data["strategy"] == "faulty"
    assert "ZeroDivisionError: the strategy's own bug" in fault.data["error"]
    after_fault = len(bench.received)
    bench.pump(lambda: len(bench.received) >= after_fault + 3, "taker signals after the fault")
    assert {s.strategy for s in bench.received[after_fault:]} == {"taker"}
    assert [s.strategy for s in bench.received].count("faulty") == 1
    assert all(s.reason == "v1" for s in bench.received if s.strategy == "taker")

    # 2. Runs and decisions are in strategy_logs.duckdb, readable through the runner's REP.
    def logged() -> list[dict[str, Any]]:
        rows = query(ipc_dir, "SELECT strategy, level, message FROM strategy_logs")
        return rows if any(r["message"] == "fill" for r in rows) else []

    rows = wait_until(logged, 10, "fill decisions in DuckDB")
    messages = {(r["strategy"], r["message"]) for r in rows}
    assert {
        ("taker", "started"),
        ("taker", "signal sent"),
        ("taker", "order LIVE"),
        ("taker", "fill"),
        ("faulty", "faulted"),
    } <= messages
    assert any(r["strategy"] == "taker" and r["message"].startswith("filled ") for r in rows)
    runs = {
        r["strategy"]: r
        for r in query(ipc_dir, "SELECT strategy, status, config_hash, mode FROM strategy_runs")
    }
    assert runs["faulty"]["status"] == "FAULTED"
    assert (runs["taker"]["status"], runs["taker"]["config_hash"]) == ("RUNNING", "h-v1")

    # 3. A new config version restarts only that instance, in the same process.
    first_ids = {s.signal_id for s in bench.received}
    add_config(data_dir, "taker", TAKER, {"token_id": "t1", "tag": "v2"}, "h-v2")
    bench.pump(lambda: any(s.reason == "v2" for s in bench.received), "v2 signals")
    v2 = [s for s in bench.received if s.reason == "v2"]
    assert not first_ids & {s.signal_id for s in v2}  # a new run never reuses an order id
    assert runner.poll() is None
    statuses = sorted(
        (r["config_hash"], r["status"])
        for r in query(
            ipc_dir, "SELECT config_hash, status FROM strategy_runs WHERE strategy = 'taker'"
        )
    )
    assert statuses == [("h-v1", "RESTARTED"), ("h-v2", "RUNNING")]

    restarts = [e for e in bench.runner_seen if e.event_type == "strategy_stopped"]
    assert [(e.data["strategy"], e.data["status"]) for e in restarts] == [("taker", "RESTARTED")]

    # 3b. Shadow mode: the strategy keeps deciding, nothing reaches the executor.
    write_strategy_modes(data_dir, StrategyModes(modes={"taker": "shadow", "faulty": "live"}))

    def shadow_logged() -> bool:
        rows = query(ipc_dir, "SELECT message FROM strategy_logs WHERE message = 'shadow order'")
        return bool(rows)

    bench.pump(shadow_logged, "shadow decisions")
    bench.drain()
    before_shadow = len(bench.received)
    for _ in range(5):
        bench.book()
    wait_until(
        lambda: (
            len(query(ipc_dir, "SELECT * FROM strategy_logs WHERE message = 'shadow order'")) >= 5
        ),
        10,
        "more shadow orders",
    )
    bench.drain()
    assert len(bench.received) == before_shadow
    write_strategy_modes(data_dir, StrategyModes(modes=dict.fromkeys(LIVE, "live")))

    # 4. Disabling stops it: a strategy_stopped event, then silence.
    set_enabled(data_dir, "taker", False)
    bench.pump(
        lambda: any(
            e.event_type == "strategy_stopped" and e.data["status"] == "STOPPED"
            for e in bench.runner_seen
        ),
        "strategy_stopped event",
    )
    bench.drain()
    before = len(bench.received)
    for _ in range(5):
        bench.book()
    time.sleep(0.3)  # not a timing assertion: gives stray signals a chance to show up
    bench.drain()
    assert len(bench.received) == before

    # 5. SIGTERM: exit 0, DuckDB closed with every run ended.
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=30) == 0
    import duckdb

    with duckdb.connect(str(data_dir / "strategy_logs.duckdb"), read_only=True) as con:
        open_runs = con.execute(
            "SELECT count(*) FROM strategy_runs WHERE ended_at IS NULL"
        ).fetchone()
    assert open_runs == (0,)


def runner_status(ipc_dir: Path) -> dict[str, Any]:
    from polybot.bus.endpoints import Requester

    with Requester(addr(ipc_dir, "strategy_logs_req")) as requester:
        reply = requester.call("runner.status", timeout=5)
    assert reply.ok, reply.error
    result: dict[str, Any] = reply.result
    return result


def test_a_market_that_appears_later_gets_the_right_outcome_in_signals(
    setup: tuple[Path, Path, Bench], runner: subprocess.Popen[bytes]
) -> None:
    data_dir, ipc_dir, bench = setup
    add_config(data_dir, "late", TAKER, {"token_id": "t4", "max_orders": 1}, "h-late")
    wait_until(lambda: "late" in runner_status(ipc_dir)["strategies"], 20, "the late instance")
    engine = make_engine(data_dir / "polybot.db")
    with make_session_factory(engine)() as session, session.begin():
        session.add(
            Market(market_id="0xm2", yes_token_id="t3", no_token_id="t4", tick_size=Decimal("0.01"))
        )
    engine.dispose()
    wait_until(lambda: runner_status(ipc_dir)["markets"] == 2, 20, "the new market loaded")

    def late_signal() -> list[Signal]:
        bench.prices.publish(
            BookSnapshot(
                market_id="0xm2",
                token_id="t4",
                bids=[Level(0.3, 50.0)],
                asks=[Level(0.35, 50.0)],
                timestamp=int(time.time() * 1000),
            )
        )
        bench.drain()
        return [s for s in bench.received if s.strategy == "late"]

    [signal] = wait_until(late_signal, 20, "the late strategy's signal")
    assert (signal.market_id, signal.token_id, signal.action) == ("0xm2", "t4", "BUY_NO")


def test_a_publisher_restart_makes_the_runner_resnapshot_books(
    setup: tuple[Path, Path, Bench], runner: subprocess.Popen[bytes]
) -> None:
    from polybot.bus.codec import to_dict
    from polybot.bus.endpoints import Replier
    from polybot.bus.messages import BookDelta, Command, LevelChange, Response

    data_dir, ipc_dir, bench = setup
    bench.pump(lambda: len([s for s in bench.received if s.strategy == "taker"]) >= 2, "taker")
    snapshot = BookSnapshot(
        market_id="0xm1",
        token_id="t1",
        bids=[Level(0.30, 10.0)],
        asks=[Level(0.37, 10.0)],
        timestamp=int(time.time() * 1000),
    )
    asked: list[Command] = []

    def answer(command: Command) -> Response:
        asked.append(command)
        return Response(
            request_id=command.request_id,
            ok=True,
            result={"seq": 0, "books": [to_dict(snapshot)], "missing": []},
        )

    with Replier(addr(ipc_dir, "snapshots_req"), answer) as scanner_rep:
        serving = threading.Thread(target=scanner_rep.serve, daemon=True)
        serving.start()
        bench.prices.close()  # the scanner restarts: its sequence numbers start again at 1
        bench.prices = Publisher(addr(ipc_dir, "prices_pub"))
        bench.prices.wait_for_peers(1, timeout=10)

        def resynced() -> list[Signal]:
            bench.prices.publish(
                BookDelta(
                    market_id="0xm1",
                    token_id="t1",
                    changes=[LevelChange("BUY", 0.31, 5.0)],
                    timestamp=int(time.time() * 1000),
                )
            )
            bench.drain()
            return [s for s in bench.received if s.strategy == "taker" and s.price == 0.37]

        wait_until(resynced, 20, "a signal at the snapshot's ask")
    assert [c.command for c in asked][:1] == ["book.snapshot"]
    status = read_status(data_dir / "run" / "runner.ready")
    wait_until(
        lambda: (
            (read_status(data_dir / "run" / "runner.ready") or status).counters.get(
                "resnapshots", 0
            )
            >= 1
        ),
        10,
        "the resnapshots counter",
    )


def test_a_config_that_does_not_build_is_reported_once_and_others_keep_trading(
    setup: tuple[Path, Path, Bench], runner: subprocess.Popen[bytes]
) -> None:
    data_dir, ipc_dir, bench = setup
    add_config(data_dir, "typo", TAKER, {"token_id": "t1", "tga": "x"}, "h-typo")

    def reported() -> bool:
        bench.drain()
        return any(e.event_type == "strategy_config_error" for e in bench.runner_seen)

    wait_until(reported, 20, "strategy_config_error")
    error = next(e for e in bench.runner_seen if e.event_type == "strategy_config_error")
    assert error.data["strategy"] == "typo"
    assert "did you mean 'tag'" in error.data["error"]
    before = len([s for s in bench.received if s.strategy == "taker"])
    bench.pump(
        lambda: len([s for s in bench.received if s.strategy == "taker"]) >= before + 3,
        "taker signals after the config error",
    )
    # A later poll provably ran (it started a new taker version); the typo was not retried.
    add_config(data_dir, "taker", TAKER, {"token_id": "t1", "tag": "v9"}, "h-v9")
    bench.pump(lambda: any(s.reason == "v9" for s in bench.received), "v9 signals")
    runs = query(ipc_dir, "SELECT status FROM strategy_runs WHERE strategy = 'typo'")
    assert runs == [{"status": "CONFIG_ERROR"}]
    assert runner_status(ipc_dir)["strategies"]["typo"]["state"] == "CONFIG_ERROR"

"""Real components for the API tests: a uvicorn server, settings on private ipc sockets, seeded
SQLite, the real state service as a subprocess, and a bus peer standing in for the executor.

The whole stack, real executor included, runs in test_stack_contract.py (polybot.testing.stack).
The fast tests here use ``ExecutorPeer`` only where a real executor cannot be made to misbehave
on demand (one that takes a signal and never answers); it follows the documented contract
(docs/bus.md, polybot/execution/fates.py) over real NNG sockets.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from polybot.bus import codec
from polybot.bus.endpoints import new_request_id
from polybot.bus.messages import Command, Event, Signal
from polybot.bus.nng import Publisher, Puller
from polybot.config.settings import ApiSettings, BusSettings, Settings
from polybot.core.clock import wall_ms
from polybot.core.errors import BusTimeout
from polybot.storage.migrate import init_db
from polybot.storage.models import Market, Order, Position, StrategyConfig, Trade
from polybot.storage.sqlite import make_engine, make_session_factory

REPO_ROOT = Path(__file__).resolve().parents[2]
BUS_NAMES = (
    "prices_pub",
    "events_pub",
    "api_pub",
    "state_req",
    "signals_push",
    "analytics_req",
    "strategy_logs_req",
    "runner_pub",
    "snapshots_req",
)
MARKET_ID = "0xmarket1"
YES, NO = "tok-yes-1", "tok-no-1"


@contextmanager
def short_tmp() -> Iterator[Path]:
    """Yield a short private directory (ipc paths must fit in 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="pbapi-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def make_settings(base: Path) -> Settings:
    """Return settings whose data dir and every bus address live under ``base``."""
    ipc = base / "ipc"
    bus = BusSettings(
        ipc_dir=ipc,
        **{name: f"ipc://{ipc}/{name.replace('_', '.')}" for name in BUS_NAMES},
    )
    return Settings(
        data_dir=base / "data",
        bus=bus,
        api=ApiSettings(host="127.0.0.1", port=8000, cors_origins=["http://ui.test"]),
    )


def settings_env(settings: Settings) -> dict[str, str]:
    """Return the environment that gives a subprocess the same settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYBOT_")}
    env["POLYBOT_DATA_DIR"] = str(settings.data_dir)
    env["POLYBOT_CONFIG"] = str(REPO_ROOT / "tests" / "api" / "empty.toml")
    for name in BUS_NAMES:
        env[f"POLYBOT_BUS__{name.upper()}"] = getattr(settings.bus, name)
    env["POLYBOT_BUS__IPC_DIR"] = str(settings.bus.ipc_dir)
    env["POLYBOT_API__HOST"] = settings.api.host
    env["POLYBOT_API__PORT"] = str(settings.api.port)
    return env


def seed_database(settings: Settings) -> None:
    """Create ``polybot.db`` and add one market, orders, a position, a trade, a strategy."""
    init_db(settings.sqlite_path)
    engine = make_engine(settings.sqlite_path)
    now = datetime.now(UTC)
    with make_session_factory(engine)() as session, session.begin():
        session.add(
            Market(
                market_id=MARKET_ID,
                question="Will the test pass?",
                slug="will-the-test-pass",
                event_slug="testing",
                yes_token_id=YES,
                no_token_id=NO,
            )
        )
        session.add(
            Market(
                market_id="0xmarket2",
                question="Another 100% question",
                slug="another",
                event_slug="other",
                yes_token_id="tok-yes-2",
                no_token_id="tok-no-2",
                is_closed=True,
            )
        )
        for index, status in enumerate(("LIVE", "MATCHED")):
            session.add(
                Order(
                    client_order_id=f"coid-{index}",
                    strategy="arb-1",
                    market_id=MARKET_ID,
                    token_id=YES,
                    side="BUY",
                    price=Decimal("0.45"),
                    original_size=Decimal("10"),
                    status=status,
                )
            )
        session.add(
            Position(
                strategy="arb-1",
                market_id=MARKET_ID,
                token_id=YES,
                size=Decimal("10"),
                avg_price=Decimal("0.40"),
                realized_pnl=Decimal("1.5"),
            )
        )
        session.add(
            Trade(
                fill_id="fill-1",
                client_order_id="coid-1",
                strategy="arb-1",
                market_id=MARKET_ID,
                token_id=YES,
                side="BUY",
                price=Decimal("0.45"),
                size=Decimal("10"),
                fee=Decimal("0.01"),
                liquidity="TAKER",
                status="CONFIRMED",
                realized_pnl=Decimal("0.25"),
                traded_at=now,
            )
        )
        session.add(
            StrategyConfig(
                strategy="arb-1",
                strategy_class="polybot.strategies.arbitrage:Arbitrage",
                config_hash="abc",
                config="{}",
            )
        )
    engine.dispose()


class ApiServer:
    """A real uvicorn server for ``app`` on an ephemeral loopback port, in a thread."""

    def __init__(self, app: FastAPI) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        config = uvicorn.Config(
            app, log_config=None, lifespan="on", timeout_graceful_shutdown=3, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.app = app
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> ApiServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()
        assert not self._thread.is_alive(), "uvicorn did not shut down"

    def wait_until(self, predicate: Any, what: str, timeout: float = 20.0) -> None:
        """Poll ``predicate()`` until true; fail with ``what`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.02)

    def link_connected(self, client: httpx.Client, name: str) -> bool:
        """Return True when /health reports the bus link ``name`` connected."""
        links = client.get("/health").json()["links"]
        return any(link["name"] == name and link["connected"] for link in links)


class ServiceProcess:
    """A real PolyBot service (``python -m services.<name>``) as a subprocess."""

    def __init__(self, name: str, settings: Settings) -> None:
        log_path = settings.data_dir / f"{name}.test.log"
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("wb")
        self.log_path = log_path
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            cwd=REPO_ROOT,
            env=settings_env(settings),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM the service and return its exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


class ExecutorPeer:
    """Stand-in for the executor's bus face: PULL on signals.push, fates on events.pub.

    Only for what a real executor cannot be made to do on demand: ``silent`` drops everything (an
    executor that took the frame but never answers). Everything else about placing and cancelling
    orders runs against the real executor in test_stack_contract.py. The answers follow the real
    contract (polybot/execution/fates.py): ``data`` carries the signal's fields plus ``fate``;
    signals priced above ``reject_above`` are rejected with a ``rule`` and ``detail``, those of a
    strategy named ``shadow…`` are shadowed, others accepted; ``cancel_order`` of ``coid-0``
    applies, any other command fails.
    """

    def __init__(self, settings: Settings, *, reject_above: float = 0.9) -> None:
        self.puller = Puller(settings.bus.signals_push)
        self.publisher = Publisher(settings.bus.events_pub)
        self.reject_above = reject_above
        self.silent = False
        self.received: list[Signal | Command] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ExecutorPeer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.puller.close()
        self.publisher.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.puller.recv(timeout=0.1)
            except BusTimeout:
                continue
            if not isinstance(message, Signal | Command):
                continue
            self.received.append(message)
            if self.silent:
                continue
            self.publisher.publish(self._answer(message))

    def _answer(self, message: Signal | Command) -> Event:
        if isinstance(message, Command):
            known = (
                message.command == "cancel_order"
                and message.args.get("client_order_id") == "coid-0"
            )
            data: dict[str, Any] = {"request_id": message.request_id, "command": message.command}
            if known:
                data["result"] = {"canceled": 1}
            elif message.command != "cancel_order":
                data["error"] = f"unknown executor command {message.command!r}"
            else:
                data["error"] = "no such order"
            kind = "command_applied" if known else "command_failed"
            return Event(source="executor", event_type=kind, data=data, timestamp=wall_ms())
        signal = codec.to_dict(message)
        signal.pop("type", None)
        signal.pop("seq", None)
        if message.strategy.startswith("shadow"):
            kind, fate = "signal_shadowed", {"fate": "shadow", "would_be": "accepted"}
        elif message.price > self.reject_above:
            kind = "signal_rejected"
            fate = {
                "fate": "rejected",
                "rule": "max_order_notional",
                "detail": "order notional above the limit",
            }
        else:
            kind, fate = "signal_accepted", {"fate": "accepted", "mode": "live"}
        return Event(
            source="executor", event_type=kind, data={**signal, **fate}, timestamp=wall_ms()
        )


def command(name: str, **args: Any) -> Command:
    """Return a Command with a fresh request id."""
    return Command(request_id=new_request_id(), command=name, args=args, timestamp=wall_ms())


@dataclass
class Api:
    """A running API: its settings, server, an HTTP client and the token."""

    settings: Settings
    server: ApiServer
    client: httpx.Client
    token: str

    @property
    def auth(self) -> dict[str, str]:
        """Return the Authorization header carrying the token."""
        return {"Authorization": f"Bearer {self.token}"}

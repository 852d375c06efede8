"""Real processes for executor tests: the local venue, the executor service, and the buses.

The venue is PolyBot's own protocol-faithful server (the code ``polybot sim`` runs) in a
subprocess on an ephemeral port with background flow off, so books only move when we trade. The
executor is ``python -m services.executor`` with its sockets in a private ipc directory. Every
wait is deadline-based; nothing asserts on timing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from polybot.bus.messages import Event, Message
from polybot.bus.nng import Publisher, Pusher, Subscriber
from polybot.core.errors import BusTimeout
from polybot.localvenue.wallet import load_wallet
from polybot.statecmd import files
from polybot.storage.migrate import init_db
from polybot.storage.sqlite import make_engine, make_session_factory

REPO = Path(__file__).resolve().parents[2]
# A strategy the executor never saw is in shadow until enabled as live. The strategies the live
# tests trade with are enabled up front, as an operator would through the state service.
LIVE_STRATEGIES = ("e2e", "crash-after_journal", "crash-after_submit")
PYTHON = sys.executable
VENUE_LAUNCHER = """
import sys
from pathlib import Path
from polybot.localvenue.server.run import VenueConfig, serve
serve(VenueConfig(port=int(sys.argv[1]), data_dir=Path(sys.argv[2]), markets=int(sys.argv[3]),
                  seed=int(sys.argv[4]), flow=False), echo=lambda line: None)
"""


def free_port() -> int:
    """Return a TCP port that is free right now on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class VenueProcess:
    """The local venue in a subprocess."""

    def __init__(self, data_dir: Path, *, markets: int = 80, seed: int = 11) -> None:
        self.port = free_port()
        self.log_path = data_dir.parent / "venue.log"
        self._log = self.log_path.open("ab")
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [PYTHON, "-c", VENUE_LAUNCHER, str(self.port), str(data_dir), str(markets), str(seed)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        self.http = httpx.Client(base_url=self.url, timeout=10.0)
        wait_until(self._up, 60.0, "the local venue to answer /ok")

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"venue died:\n{self.log_path.read_text()[-3000:]}")
        try:
            return self.http.get("/ok").status_code == 200
        except httpx.HTTPError:
            return False

    def tradable_markets(
        self, *, neg_risk: bool | None = None, tick: str | None = None
    ) -> list[dict[str, Any]]:
        """Return markets accepting orders (optionally only neg-risk or only plain ones, or only
        those with a given tick size, e.g. ``"0.01"``)."""
        out: list[dict[str, Any]] = []
        cursor = "MA=="
        while cursor and cursor != "LTE=":
            page = self.http.get("/markets", params={"next_cursor": cursor}).json()
            out.extend(
                m
                for m in page["data"]
                if m["accepting_orders"]
                and not m["closed"]
                and (neg_risk is None or m["neg_risk"] == neg_risk)
                and (tick is None or str(m["minimum_tick_size"]) == tick)
            )
            cursor = page.get("next_cursor")
        return out

    def book(self, token_id: str) -> dict[str, Any]:
        """Return the CLOB book of a token."""
        return dict(self.http.get("/book", params={"token_id": token_id}).json())

    def admin(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to the venue's admin API."""
        response = self.http.post(f"/_polybot/admin/{path}", json=body)
        response.raise_for_status()
        return dict(response.json())

    def open_order_ids(self, data_dir: Path, market_id: str | None = None) -> set[str]:
        """Return the ids of the wallet's open orders (optionally in one market), asked of the
        venue with the wallet's L2 key."""
        from polybot.venues.polymarket.auth import ApiCreds
        from polybot.venues.polymarket.clob import ClobClient

        wallet = load_wallet(data_dir)
        assert wallet is not None
        assert wallet.api_key

        async def ask() -> set[str]:
            client = ClobClient(self.url, chain_id=137)
            client.signer, client.address = wallet.signer, wallet.address
            client.creds = ApiCreds(
                api_key=wallet.api_key, secret=wallet.api_secret, passphrase=wallet.api_passphrase
            )
            try:
                return {order.id for order in await client.get_open_orders(market=market_id)}
            finally:
                await client.aclose()

        return asyncio.run(ask())

    def stop(self) -> None:
        """Stop the venue process."""
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


class Stack:
    """An executor process plus the test's ends of its sockets."""

    def __init__(
        self,
        root: Path,
        venue: VenueProcess,
        *,
        mode: str = "live",
        env: dict[str, str] | None = None,
        live: Iterable[str] = LIVE_STRATEGIES,
    ) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.ipc = root / "ipc"
        self.ipc.mkdir(mode=0o700, exist_ok=True)
        self.venue = venue
        self.signals_addr = f"ipc://{self.ipc}/signals"
        self.events_addr = f"ipc://{self.ipc}/events"
        self.prices_addr = f"ipc://{self.ipc}/prices"
        self.env = {
            **os.environ,
            "POLYBOT_DATA_DIR": str(self.data_dir),
            "POLYBOT_EXECUTOR_MODE": mode,
            "POLYBOT_VENUE__LOCAL_PORT": str(venue.port),
            "POLYBOT_BUS__IPC_DIR": str(self.ipc),
            "POLYBOT_BUS__SIGNALS_PUSH": self.signals_addr,
            "POLYBOT_BUS__EVENTS_PUB": self.events_addr,
            "POLYBOT_BUS__PRICES_PUB": self.prices_addr,
            "POLYBOT_LOG_LEVEL": "INFO",
            **(env or {}),
        }
        self.env.pop("POLYBOT_FAULT_AT", None)
        self.env.update(env or {})
        self.prices = Publisher(self.prices_addr)
        self.events = Subscriber(self.events_addr)
        self.pusher: Pusher | None = None
        self.seen: list[Event] = []  # every event received, so a wait never misses an earlier one
        self.messages: list[Message] = []  # every message received (OrderUpdate, Fill, ...)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = root / "executor.log"
        init_db(self.data_dir / "polybot.db")
        for strategy in live:
            self.set_mode(strategy, "live")
        self.engine = make_engine(self.data_dir / "polybot.db")
        self.sessions: sessionmaker[Session] = make_session_factory(self.engine)

    def set_mode(self, strategy: str, mode: files.Mode) -> None:
        """Set a strategy's mode the way the state service does: rewrite strategy_modes.json."""
        modes = files.read_strategy_modes(self.data_dir)
        modes.modes[strategy] = mode
        files.write_strategy_modes(self.data_dir, modes)

    # ---- the executor process -----------------------------------------------------------------
    def start(self, *, fault_at: str | None = None, wait_ready: bool = True) -> None:
        """Start ``python -m services.executor`` and wait until it is serving."""
        env = dict(self.env)
        if fault_at:
            env["POLYBOT_FAULT_AT"] = fault_at
        ready = self.data_dir / "run" / "executor.ready"
        ready.unlink(missing_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [PYTHON, "-m", "services.executor"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=log,
            )
        if wait_ready:
            wait_until(lambda: self._alive() and ready.exists(), 60.0, "the executor to be ready")
        self.pusher = Pusher(self.signals_addr)
        self.pusher.wait_for_peers(1, timeout=10.0)
        self.events.wait_for_peers(1, timeout=10.0)

    def _alive(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(
                f"executor exited with {self.proc.returncode}:\n{self.log_path.read_text()[-4000:]}"
            )
        return True

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM the executor and return its exit status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._drop_pusher()
        return code

    def wait_killed(self, timeout: float = 30.0) -> int:
        """Wait for the executor to die (a fault point SIGKILLs it); return its status."""
        assert self.proc is not None
        code = self.proc.wait(timeout)
        self._drop_pusher()
        return code

    def _drop_pusher(self) -> None:
        if self.pusher is not None:
            self.pusher.close(linger=0)
            self.pusher = None

    # ---- buses --------------------------------------------------------------------------------
    def send(self, message: Message) -> None:
        """Push a message to the executor's PULL socket."""
        assert self.pusher is not None
        self.pusher.send(message, timeout=5.0)

    def send_frame(self, frame: bytes) -> None:
        """Push raw bytes to the executor's PULL socket."""
        assert self.pusher is not None
        self.pusher.send_frame(frame, timeout=5.0)

    def wait_event(self, predicate: Callable[[Event], bool], timeout: float = 20.0) -> Event:
        """Return the first event seen on ``events.pub`` (ever, in order) matching ``predicate``."""
        for event in self.seen:
            if predicate(event):
                return event
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.events.recv(timeout=0.2)
            except BusTimeout:
                continue
            self.messages.append(message)
            if isinstance(message, Event):
                self.seen.append(message)
                if predicate(message):
                    return message
        tail = self.log_path.read_text()[-3000:] if self.log_path.exists() else ""
        raise AssertionError(f"no matching event on events.pub; executor log tail:\n{tail}")

    def fate(self, signal_id: str, *event_types: str, timeout: float = 20.0) -> Event:
        """Return the next event about ``signal_id`` of one of ``event_types``."""
        return self.wait_event(
            lambda e: e.data.get("signal_id") == signal_id and e.event_type in event_types, timeout
        )

    def close(self) -> None:
        """Stop the executor if running and close the test's sockets."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._drop_pusher()
        self.events.close()
        self.prices.close()
        self.engine.dispose()


@contextmanager
def paper_executor(data_dir: Path, venue: VenueProcess, *, live: list[str]) -> Iterator[Stack]:
    """Run a paper-mode executor on a data dir of its own (its paper account starts afresh);
    it must stop cleanly (exit 0) when the block ends."""
    data_dir.mkdir()
    running = Stack(data_dir, venue, mode="paper", live=live)
    try:
        running.start()
        running.prices.wait_for_peers(1, timeout=10.0)
        yield running
        assert running.terminate() == 0
    finally:
        running.close()

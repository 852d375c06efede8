"""The state service as a real process: queries over REQ/REP, token-checked audited commands,
idempotency against resends (also across a restart), forwarding to an executor peer, SIGTERM."""

from __future__ import annotations

import json
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from polybot.bus.endpoints import Requester, new_request_id
from polybot.bus.messages import Command, Event, Price, Response
from polybot.bus.nng import Publisher, Puller
from polybot.core.errors import BusTimeout
from polybot.storage.migrate import init_db
from polybot.storage.models import AuditLogEntry, Order, Position, StrategyConfig
from polybot.storage.sqlite import make_engine, make_session_factory
from polybot.testing.stack import child_env, isolated_stack_env, short_tmp_dir, wait_until

REPO = Path(__file__).resolve().parents[2]


def service_env(root: Path) -> dict[str, str]:
    """Return the state service's environment: the stack under ``root``."""
    extra = {
        "PYTHONUNBUFFERED": "1",
        # short: an idle REP must survive NNG's receive timeout (see test_idle_...)
        "POLYBOT_BUS__RECV_TIMEOUT_MS": "200",
    }
    return child_env(isolated_stack_env(root, extra=extra))


class ExecutorPeer:
    """The executor's side of the control contract: PULL commands, answer on the events PUB."""

    def __init__(self, ipc_dir: Path) -> None:
        self.puller = Puller(f"ipc://{ipc_dir}/signals_push")
        self.events = Publisher(f"ipc://{ipc_dir}/events_pub")
        self.commands: list[Command] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.puller.recv(timeout=0.1)
            except BusTimeout:
                continue
            if isinstance(message, Command):
                self.commands.append(message)
                self.events.publish(
                    Event(
                        source="executor",
                        event_type="command_applied",
                        data={
                            "request_id": message.request_id,
                            "command": message.command,
                            "result": {"applied": message.command},
                        },
                        timestamp=int(time.time() * 1000),
                    )
                )

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.puller.close()
        self.events.close()


class StateProcess:
    def __init__(self, data_dir: Path, ipc_dir: Path) -> None:
        self.data_dir = data_dir
        self.ipc_dir = ipc_dir
        self.log_path = data_dir / "state.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = Requester(f"ipc://{ipc_dir}/state_req", resend_time=0.5)

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "services.state"],
                cwd=REPO,
                env=service_env(self.data_dir.parent),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        proc = self.proc

        def answers() -> bool:
            assert proc.poll() is None, self.log_path.read_text()
            try:
                return self.call("ping", timeout=0.5).ok
            except BusTimeout:
                return False

        wait_until(answers, 60, "the state service to answer a ping", interval_s=0.05)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self.proc = None
        return code

    def call(
        self,
        name: str,
        args: dict[str, Any] | None = None,
        *,
        token: str = "",
        timeout: float = 10.0,
    ) -> Response:
        return self.client.call(name, args, token=token, timeout=timeout)

    @property
    def token(self) -> str:
        return (self.data_dir / "api_token").read_text().strip()


@pytest.fixture
def dirs() -> Iterator[tuple[Path, Path]]:
    root = short_tmp_dir("pbst-")  # short: ipc paths are limited to ~100 bytes
    data_dir, ipc_dir = root / "data", root / "ipc"
    data_dir.mkdir()
    init_db(data_dir / "polybot.db")
    yield data_dir, ipc_dir
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def executor(dirs: tuple[Path, Path]) -> Iterator[ExecutorPeer]:
    peer = ExecutorPeer(dirs[1])
    yield peer
    peer.close()


@pytest.fixture
def state(dirs: tuple[Path, Path], executor: ExecutorPeer) -> Iterator[StateProcess]:
    process = StateProcess(*dirs)
    process.start()
    executor.events.wait_for_peers(1, timeout=10)
    yield process
    if process.proc is not None:
        assert process.stop() == 0
    process.client.close()


def seed(data_dir: Path) -> None:
    engine = make_engine(data_dir / "polybot.db")
    with make_session_factory(engine)() as session, session.begin():
        session.add_all(
            [
                Position(
                    strategy="arb",
                    market_id="0xm1",
                    token_id="t1",
                    size=Decimal("10"),
                    avg_price=Decimal("0.40"),
                    realized_pnl=Decimal("1.5"),
                    fees_paid=Decimal("0.1"),
                ),
                Position(
                    strategy="arb",
                    market_id="0xm2",
                    token_id="t3",
                    size=Decimal("0"),
                    avg_price=Decimal("0"),
                    realized_pnl=Decimal("-0.5"),
                ),
                Order(
                    client_order_id="c1",
                    strategy="arb",
                    market_id="0xm1",
                    token_id="t1",
                    side="BUY",
                    price=Decimal("0.39"),
                    original_size=Decimal("5"),
                    status="LIVE",
                ),
                Order(
                    client_order_id="c2",
                    strategy="arb",
                    market_id="0xm1",
                    token_id="t1",
                    side="BUY",
                    price=Decimal("0.40"),
                    original_size=Decimal("10"),
                    status="MATCHED",
                ),
                StrategyConfig(
                    strategy="arb", strategy_class="arbitrage", config_hash="h1", config="{}"
                ),
                StrategyConfig(
                    strategy="arb", strategy_class="arbitrage", config_hash="h2", config="{}"
                ),
                StrategyConfig(
                    strategy="mm", strategy_class="spread_farm", config_hash="h3", config="{}"
                ),
            ]
        )
    engine.dispose()


def audit_rows(data_dir: Path) -> list[AuditLogEntry]:
    engine = make_engine(data_dir / "polybot.db", read_only=True)
    with make_session_factory(engine)() as session:
        rows = list(session.scalars(select(AuditLogEntry).order_by(AuditLogEntry.id)))
    engine.dispose()
    return rows


def test_queries_answer_positions_orders_pnl_risk_and_strategies(
    state: StateProcess, dirs: tuple[Path, Path]
) -> None:
    seed(state.data_dir)
    with Publisher(f"ipc://{dirs[1]}/prices_pub") as prices:
        prices.wait_for_peers(1, timeout=10)

        def marked() -> dict[str, Any] | None:  # the mark arrives asynchronously
            prices.publish(
                Price(market_id="0xm1", token_id="t1", bid=0.49, ask=0.51, mid=0.5, timestamp=1)
            )
            result: dict[str, Any] = state.call("pnl").result
            return None if result["unmarked"] else result

        pnl = wait_until(marked, 10, "the position marked at the published mid", interval_s=0.05)
    positions = state.call("positions").result
    assert [(p["token_id"], p["size"]) for p in positions] == [("t1", "10")]
    assert len(state.call("positions", {"all": True}).result) == 2
    orders = state.call("orders").result
    assert [o["client_order_id"] for o in orders] == ["c1"]
    assert {o["client_order_id"] for o in state.call("orders", {"status": "all"}).result} == {
        "c1",
        "c2",
    }
    assert pnl["unmarked"] == []
    assert Decimal(pnl["total"]["unrealized"]) == Decimal("1.0")  # 10 × (0.50 − 0.40)
    assert Decimal(pnl["by_strategy"]["arb"]["realized"]) == Decimal("1.0")
    risk = state.call("risk").result
    assert risk["kill_switch"] is False
    assert risk["open_orders"] == 1
    assert Decimal(risk["total_exposure"]) == Decimal("4")
    reply = state.call("strategies")
    assert reply.ok, reply.error
    strategies = reply.result
    assert strategies["runner"] == "unreachable"
    assert [(s["strategy"], s["config_hash"], s["mode"]) for s in strategies["strategies"]] == [
        ("arb", "h2", "shadow"),
        ("mm", "h3", "shadow"),
    ]
    unknown = state.call("positons")
    assert not unknown.ok
    assert "unknown command 'positons'" in unknown.error


def test_commands_without_a_valid_token_are_refused_and_audited(
    state: StateProcess, executor: ExecutorPeer
) -> None:
    missing = state.call("kill_switch", {"on": True, "actor": "test"})
    wrong = state.call("kill_switch", {"on": True}, token="not-the-token")
    assert not missing.ok
    assert "unauthorized: missing token" in missing.error
    assert not wrong.ok
    assert "unauthorized: invalid token" in wrong.error
    assert executor.commands == []
    assert state.call("risk").result["kill_switch"] is False
    rows = audit_rows(state.data_dir)
    assert [(r.command, r.is_ok, r.result, r.actor) for r in rows] == [
        ("kill_switch", False, "rejected: missing token", "test"),
        ("kill_switch", False, "rejected: invalid token", "bus"),
    ]
    token_file = state.data_dir / "api_token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_kill_switch_is_persisted_forwarded_and_audited(
    state: StateProcess, executor: ExecutorPeer
) -> None:
    response = state.call(
        "kill_switch", {"on": True, "reason": "drill", "actor": "ops"}, token=state.token
    )
    assert response.ok, response.error
    assert response.result["executor"] == {
        "delivered": True,
        "applied": True,
        "detail": {"applied": "kill_switch"},
    }
    assert [(c.command, c.args) for c in executor.commands] == [
        ("kill_switch", {"on": True, "reason": "drill"})
    ]
    assert executor.commands[0].token == ""  # the token never leaves the state service
    assert json.loads((state.data_dir / "risk_state.json").read_text())["limits"] == {
        "kill_switch": True
    }
    assert state.call("risk").result["kill_switch"] is True
    [row] = audit_rows(state.data_dir)
    assert (row.actor, row.command, row.is_ok) == ("ops", "kill_switch", True)
    assert json.loads(row.args) == {"on": True, "reason": "drill"}


def test_a_resent_request_is_applied_once_even_across_a_restart(
    state: StateProcess, executor: ExecutorPeer
) -> None:
    command = Command(
        request_id=new_request_id(),
        command="cancel_all",
        args={"strategy": "arb"},
        token=state.token,
    )
    first = state.client.request(command, timeout=10)
    again = state.client.request(command, timeout=10)
    assert first.ok
    assert again.ok
    assert again.result == first.result
    assert [c.command for c in executor.commands] == ["cancel_all"]
    assert state.stop() == 0
    state.start()
    after_restart = state.client.request(command, timeout=10)
    assert after_restart.ok
    assert after_restart.result == first.result
    assert [c.command for c in executor.commands] == ["cancel_all"]
    assert [r.request_id for r in audit_rows(state.data_dir)] == [command.request_id]


def test_strategy_modes_and_risk_limits_change_with_validation(state: StateProcess) -> None:
    seed(state.data_dir)
    token = state.token
    assert (
        state.call("strategy.shadow", {"strategy": "arb"}, token=token).result["mode"] == "shadow"
    )
    assert (
        state.call("strategy.disable", {"strategy": "mm"}, token=token).result["mode"] == "disabled"
    )
    modes = {
        s["strategy"]: (s["mode"], s["enabled"])
        for s in state.call("strategies").result["strategies"]
    }
    assert modes == {"arb": ("shadow", True), "mm": ("disabled", False)}
    missing = state.call("strategy.enable", {"strategy": "nope"}, token=token)
    assert not missing.ok
    assert "no strategy 'nope'" in missing.error
    assert "arb, mm" in missing.error
    assert state.call("strategy.enable", {"strategy": "arb"}, token=token).result["mode"] == "live"
    bad = state.call("risk.set", {"name": "max_open_orders", "value": -3}, token=token)
    assert not bad.ok
    assert "greater than 0" in bad.error
    typo = state.call("risk.set", {"name": "max_open_order", "value": 3}, token=token)
    assert not typo.ok
    assert "max_open_orders" in typo.error
    good = state.call("risk.set", {"name": "max_order_notional", "value": "250.5"}, token=token)
    assert good.ok
    assert good.result["value"] == "250.5"
    assert state.call("risk").result["limits"]["max_order_notional"] == "250.5"
    outcomes = [(r.command, r.is_ok) for r in audit_rows(state.data_dir)]
    assert outcomes == [
        ("strategy.shadow", True),
        ("strategy.disable", True),
        ("strategy.enable", False),
        ("strategy.enable", True),
        ("risk.set", False),
        ("risk.set", False),
        ("risk.set", True),
    ]


def test_sigterm_exits_zero_and_the_token_is_never_logged(state: StateProcess) -> None:
    token = state.token
    state.call("kill_switch", {"on": False}, token=token)
    state.call("kill_switch", {"on": False}, token=token + "x")
    assert state.stop() == 0
    log_text = state.log_path.read_text()
    assert "state stopped cleanly" in log_text
    assert token not in log_text
    assert not (state.data_dir / "run" / "state.ready").exists()
    assert not (state.ipc_dir / "state_req").exists()  # NNG removes its ipc file on close


def test_idle_longer_than_the_receive_timeout_still_serves(state: StateProcess) -> None:
    idle_until = time.monotonic() + 1.0  # five receive timeouts (200 ms) with no request
    while time.monotonic() < idle_until:
        time.sleep(0.1)
    assert state.call("ping").ok

"""The supervisor with real processes: start order, readiness, restart on crash, graceful stop."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from polybot.stack import control
from polybot.stack.plan import ServiceSpec, StackPlan
from polybot.stack.state import pid_alive, read_state

SAMPLE = str(Path(__file__).with_name("sample_service.py"))


def spec(name: str, mode: str = "good", **kwargs: float) -> ServiceSpec:
    return ServiceSpec(name=name, argv=[sys.executable, SAMPLE, name, mode], **kwargs)  # type: ignore[arg-type]


def wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    control.down(tmp_path, timeout_s=30, echo=lambda _: None)


def test_up_starts_every_service_and_status_reports_them(data_dir: Path) -> None:
    lines: list[str] = []
    plan = StackPlan(data_dir=str(data_dir), services=[spec("alpha"), spec("beta")])
    assert control.up(plan, timeout_s=60, echo=lines.append) == 0
    rows = {row.name: row for row in control.service_rows(data_dir)}
    assert set(rows) == {"alpha", "beta"}
    assert all(row.healthy and pid_alive(row.pid) for row in rows.values())
    wait_for(lambda: control.service_rows(data_dir)[0].counters.get("ticks", 0) > 1)
    assert control.status(data_dir, echo=lines.append) == 0
    assert any("ticks=" in line for line in lines)
    assert control.up(plan, echo=lines.append) == 0  # idempotent: already running
    assert "already running" in "\n".join(lines)


def test_a_killed_service_is_restarted_with_a_new_pid(data_dir: Path) -> None:
    plan = StackPlan(data_dir=str(data_dir), services=[spec("alpha")], restart_backoff_s=0.2)
    assert control.up(plan, timeout_s=60, echo=lambda _: None) == 0
    first_pid = control.service_rows(data_dir)[0].pid
    os.kill(first_pid, signal.SIGKILL)

    def restarted() -> bool:
        row = control.service_rows(data_dir)[0]
        return row.healthy and row.pid not in (0, first_pid)

    wait_for(restarted)
    state = read_state(data_dir / "run")
    assert state is not None
    assert state.services[0].restarts == 1
    assert state.services[0].last_exit_code == -signal.SIGKILL


def test_down_stops_everything_and_leaves_no_process(data_dir: Path) -> None:
    plan = StackPlan(data_dir=str(data_dir), services=[spec("alpha"), spec("beta")])
    assert control.up(plan, timeout_s=60, echo=lambda _: None) == 0
    pids = [row.pid for row in control.service_rows(data_dir)]
    state = read_state(data_dir / "run")
    assert state is not None
    assert control.down(data_dir, echo=lambda _: None) == 0
    assert not any(pid_alive(pid) for pid in [*pids, state.supervisor_pid])
    assert not list((data_dir / "run").glob("*.ready"))
    lines: list[str] = []
    assert control.status(data_dir, echo=lines.append) == 1
    assert "not running" in lines[0]


def test_a_service_that_ignores_sigterm_is_killed_after_its_grace(data_dir: Path) -> None:
    plan = StackPlan(
        data_dir=str(data_dir), services=[spec("mule", "stubborn", stop_timeout_s=0.5)]
    )
    assert control.up(plan, timeout_s=60, echo=lambda _: None) == 0
    pid = control.service_rows(data_dir)[0].pid
    assert control.down(data_dir, echo=lambda _: None) == 0
    assert not pid_alive(pid)
    assert "ignored SIGTERM" in (data_dir / "logs" / "supervisor.log").read_text()


def test_a_crashing_service_backs_off_and_up_reports_failure(data_dir: Path) -> None:
    plan = StackPlan(
        data_dir=str(data_dir),
        services=[spec("good"), spec("broken", "crash", start_timeout_s=1)],
        restart_backoff_s=0.1,
        restart_backoff_max_s=0.4,
    )
    lines: list[str] = []
    assert control.up(plan, timeout_s=4, echo=lines.append) == 1

    def restarted_several_times() -> bool:
        state = read_state(data_dir / "run")
        return state is not None and state.services[1].restarts >= 3

    wait_for(restarted_several_times)
    rows = {row.name: row for row in control.service_rows(data_dir)}
    assert rows["good"].healthy
    assert not rows["broken"].healthy
    assert "exited with status 3" in rows["broken"].detail
    assert control.status(data_dir, echo=lines.append) == 1


def test_logs_show_a_services_output(data_dir: Path) -> None:
    plan = StackPlan(data_dir=str(data_dir), services=[spec("alpha")])
    assert control.up(plan, timeout_s=60, echo=lambda _: None) == 0
    lines: list[str] = []
    assert control.logs(data_dir, "supervisor", echo=lines.append) == 0
    assert any("alpha is ready" in line for line in lines)
    assert control.logs(data_dir, "nope", echo=lines.append) == 1

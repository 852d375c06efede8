"""``polybot up | down | status | logs``: drive the supervisor from a terminal or a notebook."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from polybot.stack.plan import StackPlan, logs_dir, ready_file, run_dir
from polybot.stack.state import StackState, pid_alive, read_state
from polybot.stack.status_file import read_status

Echo = Callable[[str], None]


@dataclass(frozen=True)
class ServiceRow:
    """One line of ``polybot status``."""

    name: str
    status: str
    pid: int
    uptime_s: float
    restarts: int
    healthy: bool
    counters: dict[str, int]
    detail: str


def supervisor_running(data_dir: Path) -> StackState | None:
    """Return the live supervisor's state, or None when no supervisor runs for ``data_dir``."""
    state = read_state(run_dir(data_dir))
    if state is None or not pid_alive(state.supervisor_pid):
        return None
    return state


def up(plan: StackPlan, *, timeout_s: float = 180.0, echo: Echo = print) -> int:
    """Start the supervisor for ``plan`` and wait until every service is ready; return 0 if so."""
    data_dir = Path(plan.data_dir)
    if supervisor_running(data_dir) is not None:
        echo("the stack is already running:")
        return status(data_dir, echo=echo)
    if not plan.services:
        echo("nothing to start: the plan has no services")
        return 1
    run_dir(data_dir).mkdir(parents=True, exist_ok=True)
    logs_dir(data_dir).mkdir(parents=True, exist_ok=True)
    plan_path = run_dir(data_dir) / "plan.json"
    plan_path.write_bytes(msgspec.json.encode(plan))
    (run_dir(data_dir) / "stack.json").unlink(missing_ok=True)
    with (logs_dir(data_dir) / "supervisor.log").open("ab") as log_file:
        launcher = subprocess.run(
            [sys.executable, "-m", "polybot.stack.supervisor", "--daemon", str(plan_path)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            check=False,
            timeout=60,
        )
    if launcher.returncode != 0:
        echo(f"could not start the supervisor; see {logs_dir(data_dir) / 'supervisor.log'}")
        return 1
    echo(f"supervisor started; waiting for {len(plan.services)} services…")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = read_state(run_dir(data_dir))
        if state is not None and not pid_alive(state.supervisor_pid):
            echo(f"the supervisor died; see {logs_dir(data_dir) / 'supervisor.log'}")
            return 1
        if (
            state is not None
            and len(state.services) == len(plan.services)
            and all(s.status == "ready" for s in state.services)
        ):
            return status(data_dir, echo=echo)
        time.sleep(0.25)
    echo(f"not every service was ready after {timeout_s:.0f}s:")
    status(data_dir, echo=echo)
    return 1


def down(data_dir: Path, *, timeout_s: float = 90.0, echo: Echo = print) -> int:
    """Stop the stack gracefully (services in reverse order); return 0 when everything is gone."""
    state = read_state(run_dir(data_dir))
    if state is None or not pid_alive(state.supervisor_pid):
        echo("the stack is not running")
        _kill_leftovers(state, echo)
        return 0
    os.kill(state.supervisor_pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while pid_alive(state.supervisor_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(state.supervisor_pid):
        echo(f"the supervisor did not stop within {timeout_s:.0f}s: killing it")
        os.kill(state.supervisor_pid, signal.SIGKILL)
    _kill_leftovers(read_state(run_dir(data_dir)), echo)
    echo("the stack is down")
    return 0


def _kill_leftovers(state: StackState | None, echo: Echo) -> None:
    for service in state.services if state else []:
        if pid_alive(service.pid):
            echo(f"{service.name} (pid {service.pid}) outlived the supervisor: killing it")
            try:
                os.killpg(service.pid, signal.SIGKILL)
            except ProcessLookupError:
                continue


def service_rows(data_dir: Path) -> list[ServiceRow]:
    """Return the status of every supervised service."""
    state = read_state(run_dir(data_dir))
    if state is None:
        return []
    now = time.time()
    rows = []
    for service in state.services:
        alive = pid_alive(service.pid)
        reported = read_status(ready_file(data_dir, service.name))
        fresh = reported is None or not reported.is_stale(now)
        rows.append(
            ServiceRow(
                name=service.name,
                status=service.status if alive else "down",
                pid=service.pid if alive else 0,
                uptime_s=now - service.started_at if alive else 0.0,
                restarts=service.restarts,
                healthy=alive and service.status == "ready" and fresh,
                counters=reported.counters if reported else {},
                detail=service.last_error
                if not alive or service.status != "ready"
                else (reported.detail if reported else ""),
            )
        )
    return rows


def status(data_dir: Path, *, echo: Echo = print) -> int:
    """Print each service's health, pid, uptime and counters; return 0 only if all are healthy."""
    state = supervisor_running(data_dir)
    rows = service_rows(data_dir)
    if state is None:
        echo("the stack is not running — start it with `polybot up` (or `make up`)")
        return 1
    echo(f"{'service':<10} {'status':<9} {'pid':>7} {'uptime':>9} {'restarts':>8}  counters")
    for row in rows:
        counters = " ".join(f"{k}={v}" for k, v in sorted(row.counters.items()))
        mark = "" if row.healthy else "  ✗ " + row.detail
        echo(
            f"{row.name:<10} {row.status:<9} {row.pid:>7} {_duration(row.uptime_s):>9} "
            f"{row.restarts:>8}  {counters}{mark}"
        )
    echo(f"logs: {logs_dir(data_dir)}")
    return 0 if rows and all(row.healthy for row in rows) else 1


def logs(data_dir: Path, service: str | None, *, lines: int = 50, echo: Echo = print) -> int:
    """Print the last ``lines`` of one service's log (or of every log)."""
    directory = logs_dir(data_dir)
    paths = [directory / f"{service}.log"] if service else sorted(directory.glob("*.log"))
    if not paths or not paths[0].exists():
        known = ", ".join(p.stem for p in sorted(directory.glob("*.log"))) or "none yet"
        echo(f"no log for {service!r} (logs: {known})")
        return 1
    for path in paths:
        if len(paths) > 1:
            echo(f"==> {path.name} <==")
        for line in path.read_text(errors="replace").splitlines()[-lines:]:
            echo(line)
    return 0


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"

"""The one-machine supervisor: starts the plan's services in order, restarts crashes with
exponential backoff, and stops everything in reverse order on SIGTERM/SIGINT.

Run as ``python -m polybot.stack.supervisor data/run/plan.json`` (``polybot up`` does this, in a
new session so it outlives the terminal). Each service's output goes to ``data/logs/<name>.log``.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import msgspec

from polybot.stack.plan import ServiceSpec, StackPlan, logs_dir, ready_file, run_dir
from polybot.stack.state import ServiceState, StackState, write_state
from polybot.stack.status_file import read_status

log = logging.getLogger("polybot.supervisor")
_POLL_S = 0.2


@dataclass
class _Running:
    spec: ServiceSpec
    state: ServiceState
    process: subprocess.Popen[bytes] | None = None
    backoff_s: float = 0.0
    restart_at: float = 0.0
    ready_since: float = 0.0
    log_file: object = field(default=None, repr=False)


class Supervisor:
    """Runs one ``StackPlan`` until told to stop."""

    def __init__(self, plan: StackPlan) -> None:
        self._plan = plan
        self._data_dir = Path(plan.data_dir)
        self._run_dir = run_dir(self._data_dir)
        self._logs_dir = logs_dir(self._data_dir)
        self._stopping = False
        self._started_at = time.time()
        self._services = [_Running(spec=s, state=ServiceState(name=s.name)) for s in plan.services]

    def run(self) -> int:
        """Start everything, supervise until SIGTERM/SIGINT, stop everything; return 0."""
        self._run_dir.mkdir(parents=True, exist_ok=True)
        self._logs_dir.mkdir(parents=True, exist_ok=True)
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        self._publish()
        for running in self._services:
            if self._stopping:
                break
            self._start(running)
            self._await_ready(running)
        while not self._stopping:
            self._supervise_once()
            time.sleep(_POLL_S)
        self._stop_all()
        return 0

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        log.info("received signal %d: stopping the stack", signum)
        self._stopping = True

    def _start(self, running: _Running) -> None:
        spec = running.spec
        ready_file(self._data_dir, spec.name).unlink(missing_ok=True)
        log_path = self._logs_dir / f"{spec.name}.log"
        log_file = log_path.open("ab")
        env = {
            **os.environ,
            **spec.env,
            "POLYBOT_DATA_DIR": str(self._data_dir),
            "POLYBOT_SERVICE_NAME": spec.name,
            "PYTHONUNBUFFERED": "1",
        }
        try:
            # A new session: the terminal's Ctrl-C reaches the supervisor only, which then stops
            # services in order instead of all of them dying at once.
            running.process = subprocess.Popen(
                spec.argv,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                cwd=os.getcwd(),
            )
        except OSError as exc:
            log_file.close()
            running.state.status = "failed"
            running.state.last_error = f"could not start: {exc}"
            self._schedule_restart(running)
            return
        if running.log_file is not None:
            running.log_file.close()  # type: ignore[attr-defined]
        running.log_file = log_file
        running.state.pid = running.process.pid
        running.state.started_at = time.time()
        running.state.status = "starting"
        running.ready_since = 0.0
        log.info("started %s (pid %d): %s", spec.name, running.process.pid, " ".join(spec.argv))
        self._publish()

    def _await_ready(self, running: _Running) -> None:
        deadline = time.monotonic() + running.spec.start_timeout_s
        while not self._stopping and time.monotonic() < deadline:
            if self._check_exit(running):
                return
            if self._is_ready(running):
                self._mark_ready(running)
                return
            time.sleep(_POLL_S)
        if not self._stopping and running.state.status == "starting":
            running.state.last_error = f"not ready after {running.spec.start_timeout_s:.0f}s"
            log.warning("%s: %s", running.spec.name, running.state.last_error)
            self._publish()

    def _is_ready(self, running: _Running) -> bool:
        spec = running.spec
        if spec.ready == "http":
            try:
                with urllib.request.urlopen(spec.ready_url, timeout=1.0) as response:
                    return bool(response.status == 200)
            except OSError:
                return False
        status = read_status(ready_file(self._data_dir, spec.name))
        return status is not None and status.pid == running.state.pid

    def _mark_ready(self, running: _Running) -> None:
        running.state.status = "ready"
        running.ready_since = time.monotonic()
        log.info("%s is ready", running.spec.name)
        self._publish()

    def _check_exit(self, running: _Running) -> bool:
        process = running.process
        if process is None or process.poll() is None:
            return False
        running.state.last_exit_code = process.returncode
        running.state.last_error = f"exited with status {process.returncode}"
        running.process = None
        log.warning(
            "%s (pid %d) exited with status %d",
            running.spec.name,
            running.state.pid,
            process.returncode,
        )
        self._schedule_restart(running)
        return True

    def _schedule_restart(self, running: _Running) -> None:
        plan = self._plan
        running.backoff_s = min(
            plan.restart_backoff_max_s,
            running.backoff_s * 2 if running.backoff_s else plan.restart_backoff_s,
        )
        running.restart_at = time.monotonic() + running.backoff_s
        running.state.status = "backoff"
        log.info("restarting %s in %.1fs", running.spec.name, running.backoff_s)
        self._publish()

    def _supervise_once(self) -> None:
        now = time.monotonic()
        for running in self._services:
            if running.process is None:
                if running.state.status == "backoff" and now >= running.restart_at:
                    running.state.restarts += 1
                    self._start(running)
                continue
            if self._check_exit(running):
                continue
            if running.state.status == "starting" and self._is_ready(running):
                self._mark_ready(running)
            healthy_for = now - running.ready_since if running.ready_since else 0.0
            if running.backoff_s and healthy_for > self._plan.healthy_reset_s:
                running.backoff_s = 0.0

    def _stop_all(self) -> None:
        for running in reversed(self._services):
            running.state.status = "stopping"
        self._publish(stopping=True)
        for running in reversed(self._services):
            self._stop(running)
        self._publish(stopping=True)

    def _stop(self, running: _Running) -> None:
        process = running.process
        if process is not None and process.poll() is None:
            log.info("stopping %s (pid %d)", running.spec.name, process.pid)
            process.terminate()
            try:
                process.wait(timeout=running.spec.stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.warning(
                    "%s ignored SIGTERM for %.0fs: killing it",
                    running.spec.name,
                    running.spec.stop_timeout_s,
                )
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            running.state.last_exit_code = process.returncode
        running.process = None
        running.state.status = "stopped"
        ready_file(self._data_dir, running.spec.name).unlink(missing_ok=True)
        if running.log_file is not None:
            running.log_file.close()  # type: ignore[attr-defined]
            running.log_file = None

    def _publish(self, *, stopping: bool = False) -> None:
        write_state(
            self._run_dir,
            StackState(
                supervisor_pid=os.getpid(),
                started_at=self._started_at,
                services=[r.state for r in self._services],
                stopping=stopping,
            ),
        )


def main(argv: list[str]) -> int:
    """Run the supervisor on a plan file: ``[--daemon] PLAN.json``.

    With ``--daemon`` the process forks and the parent returns at once, so the launcher can be
    reaped while the supervisor lives on, re-parented to init, in a session of its own.
    """
    args = argv[1:]
    daemon = "--daemon" in args
    args = [arg for arg in args if arg != "--daemon"]
    if len(args) != 1:
        sys.stderr.write("usage: python -m polybot.stack.supervisor [--daemon] PLAN.json\n")
        return 2
    plan = msgspec.json.decode(Path(args[0]).read_bytes(), type=StackPlan)
    if daemon and os.fork() > 0:
        return 0
    if daemon:
        os.setsid()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return Supervisor(plan).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))

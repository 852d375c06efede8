"""Real stacks for tests, notebooks' tests and benchmarks: ports, deadline waits, isolation.

Everything a test needs to run the whole PolyBot stack beside any other one on the same machine:

* :func:`free_port` — a loopback TCP port that was free a moment ago;
* :func:`wait_until` — poll a condition until it holds or a deadline passes (never a bare sleep,
  never a timing assertion: the machine may be heavily loaded, so give it generous deadlines);
* :func:`isolated_stack_env` — the ``POLYBOT_*`` variables of a private stack: its own data dir,
  its own ipc sockets (under a short ``/tmp`` path: a unix socket path must stay under 107 bytes)
  and its own venue and API ports; :func:`child_env` — the whole environment of one service
  process started by hand on it (no other ``POLYBOT_*`` variable leaks in);
* :class:`IsolatedStack` — ``polybot up`` of that stack in a context manager, ``polybot down`` on
  exit, reporting any process or socket left behind.

Usage::

    with IsolatedStack(executor_mode="live", extra_env={"POLYBOT_LOG_LEVEL": "DEBUG"}) as stack:
        # Every service is ready here; the process sees the stack's settings (load_settings()).
        token = stack.token()
        wait_until(lambda: httpx.get(f"{stack.api_url}/balances").json()["balances"], 120,
                   "the executor's first balance report")
    assert not stack.leftovers
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal, TypeVar

from polybot.config import Settings, load_settings
from polybot.config.settings import BusSettings
from polybot.stack import control
from polybot.stack.plan import StackPlan, default_plan, logs_dir, ready_file, run_dir
from polybot.stack.state import pid_alive, read_state

T = TypeVar("T")

# Every NNG address of the bus (``prices_pub``, ``events_pub``, …): the string fields of
# BusSettings, so a socket added there is isolated here without a change.
BUS_SOCKETS: tuple[str, ...] = tuple(
    name
    for name, info in BusSettings.model_fields.items()
    if isinstance(info.default, str) and "://" in info.default
)
ENV_PREFIX = "POLYBOT_"


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(
    predicate: Callable[[], T],
    timeout_s: float,
    what: str,
    *,
    interval_s: float = 0.2,
    diagnose: Callable[[], str] | None = None,
) -> T:
    """Call ``predicate`` until it returns something truthy, and return that.

    Raises ``AssertionError`` naming ``what`` (plus ``diagnose()``, when given, to explain the
    state of things) once ``timeout_s`` has passed. Exceptions from ``predicate`` propagate: a
    predicate that finds a definite failure can fail the wait at once.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            message = f"timed out after {timeout_s:.0f} s waiting for {what}"
            if diagnose is not None:
                message += f"\n{diagnose()}"
            raise AssertionError(message)
        time.sleep(interval_s)


def short_tmp_dir(prefix: str = "pbstack-") -> Path:
    """Return a new private directory under ``/tmp`` (short enough for ipc socket paths)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def isolated_stack_env(
    root: Path,
    *,
    executor_mode: Literal["paper", "live"] = "live",
    markets: int = 20,
    venue_port: int | None = None,
    api_port: int | None = None,
    pythonpath: Iterable[Path | str] = (),
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Return the ``POLYBOT_*`` environment of a stack living entirely under ``root``.

    Data in ``root/data``, sockets in ``root/ipc``, the local venue with ``markets`` markets and
    the API on free ports (unless given), and an empty config file (``root/polybot.toml``, created
    here) so a ``polybot.toml`` in the working directory cannot leak in. ``pythonpath`` becomes ``PYTHONPATH`` (folders of test
    strategies the runner must import); ``extra`` adds or overrides variables
    (``POLYBOT_ANALYTICS__…``, risk limits, …).
    """
    data_dir, ipc_dir = root / "data", root / "ipc"
    config = root / "polybot.toml"
    root.mkdir(parents=True, exist_ok=True)
    config.touch()
    env = {
        "POLYBOT_CONFIG": str(config),
        "POLYBOT_DATA_DIR": str(data_dir),
        "POLYBOT_EXECUTOR_MODE": executor_mode,
        "POLYBOT_VENUE__KIND": "local",
        "POLYBOT_VENUE__LOCAL_PORT": str(venue_port or free_port()),
        "POLYBOT_VENUE__LOCAL_MARKETS": str(markets),
        "POLYBOT_API__HOST": "127.0.0.1",
        "POLYBOT_API__PORT": str(api_port or free_port()),
        "POLYBOT_BUS__IPC_DIR": str(ipc_dir),
        **{f"POLYBOT_BUS__{name.upper()}": f"ipc://{ipc_dir}/{name}" for name in BUS_SOCKETS},
    }
    paths = [str(p) for p in pythonpath]
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra or {})
    return env


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    """Return the environment of a process a test starts by hand on ``env``'s stack.

    This process's environment without any ``POLYBOT_*`` variable (a developer's shell settings
    must not leak into the test's service), plus ``env`` (usually :func:`isolated_stack_env`).
    """
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    return {**inherited, **env}


@dataclass
class Leftovers:
    """What outlived ``polybot down``: process ids still alive, socket files still present."""

    pids: list[int] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.pids or self.sockets)


class IsolatedStack:
    """``polybot up`` of a private stack (see :func:`isolated_stack_env`) as a context manager.

    While it runs, its variables are exported into this process (the supervisor, every service
    and any client built with :func:`polybot.config.load_settings` see this stack) and every other
    ``POLYBOT_*`` variable is hidden, so a developer's shell settings cannot leak in; both are
    restored on exit. ``services`` keeps only those services of the default plan (all when None);
    ``customize_plan`` may change the plan further (e.g. extra venue arguments). ``pythonpath``
    folders (test strategies) and ``data_pythonpath`` folders under the data dir (where notebooks
    deploy strategies) go on the services' ``PYTHONPATH``.

    On exit the stack is stopped, ``leftovers`` says what outlived it, and the directory is removed
    (kept when ``POLYBOT_TEST_KEEP_STACK=1``, for post-mortems).
    """

    def __init__(
        self,
        *,
        prefix: str = "pbstack-",
        executor_mode: Literal["paper", "live"] = "live",
        markets: int = 20,
        services: Collection[str] | None = None,
        pythonpath: Iterable[Path | str] = (),
        data_pythonpath: Iterable[str] = (),
        extra_env: Mapping[str, str] | None = None,
        customize_plan: Callable[[StackPlan], StackPlan] | None = None,
        up_timeout_s: float = 300.0,
        down_timeout_s: float = 120.0,
    ) -> None:
        self.root = short_tmp_dir(prefix)
        self.executor_mode = executor_mode
        self.data_dir = self.root / "data"
        self.ipc_dir = self.root / "ipc"
        # Folders under the data dir on PYTHONPATH (where notebooks deploy strategies): created
        # before the stack starts, because the runner's importer only looks in folders that exist.
        self.data_path_dirs = [self.data_dir / name for name in data_pythonpath]
        self.env = isolated_stack_env(
            self.root,
            executor_mode=executor_mode,
            markets=markets,
            pythonpath=[*self.data_path_dirs, *pythonpath],
            extra=extra_env,
        )
        self.customize_plan = customize_plan
        self.api_port = int(self.env["POLYBOT_API__PORT"])
        self.venue_port = int(self.env["POLYBOT_VENUE__LOCAL_PORT"])
        self.services = set(services) if services is not None else None
        self.up_timeout_s = up_timeout_s
        self.down_timeout_s = down_timeout_s
        self.lines: list[str] = []  # what `polybot up/down` printed
        self.leftovers = Leftovers()
        self._saved_env: dict[str, str | None] | None = None
        self._settings: Settings | None = None
        self._plan: StackPlan | None = None

    # ---- addresses -------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """Return the API's base URL."""
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def venue_url(self) -> str:
        """Return the local venue's base URL (CLOB at the root, admin under ``/_polybot``)."""
        return f"http://127.0.0.1:{self.venue_port}"

    @property
    def settings(self) -> Settings:
        """Return the stack's settings (as its services load them)."""
        if self._settings is None:
            raise RuntimeError("the stack's environment is not applied yet: call start()")
        return self._settings

    @property
    def plan(self) -> StackPlan:
        """Return the plan ``polybot up`` runs."""
        if self._plan is None:
            raise RuntimeError("the stack's environment is not applied yet: call start()")
        return self._plan

    def token(self) -> str:
        """Return the stack's API/command token (``data/api_token``)."""
        return (self.data_dir / "api_token").read_text().strip()

    def ready_file(self, service: str) -> Path:
        """Return the file a service creates once it is serving."""
        return ready_file(self.data_dir, service)

    def service_pid(self, service: str) -> int:
        """Return the supervisor's current pid of ``service`` (0 when unknown)."""
        state = read_state(run_dir(self.data_dir))
        return next((s.pid for s in state.services if s.name == service), 0) if state else 0

    def log_tail(self, service: str, lines: int = 30) -> str:
        """Return the end of a service's log (for failure messages)."""
        path = logs_dir(self.data_dir) / f"{service}.log"
        if not path.is_file():
            return f"(no log {path})"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def logs_digest(self, lines: int = 15) -> str:
        """Return the end of every service log, for a failure message."""
        folder = logs_dir(self.data_dir)
        return "\n".join(
            f"--- {path.name}\n{self.log_tail(path.stem, lines)}"
            for path in sorted(folder.glob("*.log"))
        )

    # ---- life cycle ------------------------------------------------------------------------

    def apply_env(self) -> None:
        """Export the stack's variables (hiding every other ``POLYBOT_*`` one); idempotent."""
        if self._saved_env is not None:
            return
        foreign = [k for k in os.environ if k.startswith(ENV_PREFIX) and k not in self.env]
        self._saved_env = {key: os.environ.get(key) for key in [*self.env, *foreign]}
        for key in foreign:
            del os.environ[key]
        os.environ.update(self.env)
        self._settings = load_settings()
        plan = default_plan(self._settings)
        if self.services is not None:
            missing = self.services - {s.name for s in plan.services}
            if missing:
                raise AssertionError(f"the default plan has no {sorted(missing)} service")
            plan = StackPlan(
                data_dir=plan.data_dir,
                services=[s for s in plan.services if s.name in self.services],
            )
        if self.customize_plan is not None:
            plan = self.customize_plan(plan)
        self._plan = plan

    def restore_env(self) -> None:
        """Undo :meth:`apply_env`."""
        saved, self._saved_env = self._saved_env, None
        for key, value in (saved or {}).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def start(self) -> IsolatedStack:
        """Apply the environment, run ``polybot up`` and wait until every service is ready.

        On failure the stack is stopped and an ``AssertionError`` carries what ``up`` printed and
        the end of every service log.
        """
        self.apply_env()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for folder in self.data_path_dirs:
            folder.mkdir(parents=True, exist_ok=True)
        if control.up(self.plan, timeout_s=self.up_timeout_s, echo=self.lines.append) != 0:
            report = "\n".join(self.lines) + "\n" + self.logs_digest()
            self.stop()
            raise AssertionError(f"the stack did not come up:\n{report}")
        return self

    def stop(self) -> Leftovers:
        """Run ``polybot down``; record and return what outlived it; clean up; restore env."""
        try:
            state = read_state(run_dir(self.data_dir))
            pids = [s.pid for s in state.services] if state else []
            if state is not None:
                pids.append(state.supervisor_pid)
            control.down(self.data_dir, timeout_s=self.down_timeout_s, echo=self.lines.append)
            self.leftovers = Leftovers(
                pids=[pid for pid in pids if pid and pid_alive(pid)],
                sockets=sorted(p.name for p in self.ipc_dir.glob("*"))
                if self.ipc_dir.exists()
                else [],
            )
        finally:
            self.restore_env()
            if os.environ.get("POLYBOT_TEST_KEEP_STACK") != "1":
                shutil.rmtree(self.root, ignore_errors=True)
        return self.leftovers

    def __enter__(self) -> IsolatedStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

"""The stack plan: which services run, how each starts and how we know it is ready.

``polybot up`` writes the plan to ``data/run/plan.json``; the supervisor runs exactly that file, so
tests (and operators) can supervise any set of processes the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

import msgspec

from polybot.config import Settings

ReadyKind = Literal["http", "file"]


class ServiceSpec(msgspec.Struct, frozen=True, kw_only=True):
    """How to run and probe one service."""

    name: str
    argv: list[str]
    ready: ReadyKind = "file"  # "file": the service writes run/<name>.ready when serving
    ready_url: str = ""  # for "http": a GET that answers 200 when ready
    start_timeout_s: float = 60.0
    stop_timeout_s: float = 15.0  # SIGTERM grace before SIGKILL
    env: dict[str, str] = msgspec.field(default_factory=dict)


class StackPlan(msgspec.Struct, frozen=True, kw_only=True):
    """The services of one stack, in start order (stopped in reverse)."""

    data_dir: str
    services: list[ServiceSpec]
    restart_backoff_s: float = 1.0
    restart_backoff_max_s: float = 30.0
    healthy_reset_s: float = 60.0  # a service up this long gets its backoff reset


def run_dir(data_dir: Path) -> Path:
    """Return where the supervisor keeps its plan, state and ready files."""
    return data_dir / "run"


def logs_dir(data_dir: Path) -> Path:
    """Return where service logs go."""
    return data_dir / "logs"


def ready_file(data_dir: Path, service: str) -> Path:
    """Return the file a service creates once it is serving (and removes when it stops)."""
    return run_dir(data_dir) / f"{service}.ready"


# Services that exist in this checkout, in dependency order. Each module is a composition root
# (`python -m services.<name>`); the local venue comes first when it is the configured venue.
_BUS_SERVICES: tuple[str, ...] = ("state", "executor", "scanner", "analytics", "runner", "api")


def default_plan(settings: Settings) -> StackPlan:
    """Return the plan for the configured stack (local venue first when it is the venue)."""
    python = sys.executable
    services: list[ServiceSpec] = []
    if settings.venue.kind == "local":
        venue = settings.venue
        services.append(
            ServiceSpec(
                name="venue",
                argv=[
                    python,
                    "-m",
                    "polybot.cli.main",
                    "sim",
                    "--host",
                    venue.local_host,
                    "--port",
                    str(venue.local_port),
                    "--seed",
                    str(venue.local_seed),
                    "--markets",
                    str(venue.local_markets),
                ],
                ready="http",
                ready_url=f"http://{venue.local_host}:{venue.local_port}/ok",
                start_timeout_s=120.0,
            )
        )
    services.extend(
        ServiceSpec(name=name, argv=[python, "-m", f"services.{name}"])
        for name in _BUS_SERVICES
        if _service_exists(name)
    )
    return StackPlan(data_dir=str(settings.data_dir.resolve()), services=services)


def _service_exists(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(f"services.{name}") is not None
    except ModuleNotFoundError:
        return False

"""The supervisor's state file: what runs, with which pid, since when, how often restarted.

Written atomically (tmp + rename) so ``polybot status`` never reads half a file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import msgspec

ServiceStatus = Literal["starting", "ready", "backoff", "failed", "stopping", "stopped"]


class ServiceState(msgspec.Struct, kw_only=True):
    """One supervised service."""

    name: str
    status: ServiceStatus = "starting"
    pid: int = 0
    started_at: float = 0.0  # unix seconds of the current process's start
    restarts: int = 0
    last_exit_code: int | None = None
    last_error: str = ""


class StackState(msgspec.Struct, kw_only=True):
    """The whole stack as the supervisor sees it."""

    supervisor_pid: int
    started_at: float
    services: list[ServiceState]
    stopping: bool = False


def state_path(run_dir: Path) -> Path:
    """Return the state file path."""
    return run_dir / "stack.json"


def write_state(run_dir: Path, state: StackState) -> None:
    """Write the state atomically."""
    path = state_path(run_dir)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_bytes(msgspec.json.encode(state))
    os.replace(tmp, path)


def read_state(run_dir: Path) -> StackState | None:
    """Return the current state, or None when no supervisor has written one."""
    path = state_path(run_dir)
    try:
        return msgspec.json.decode(path.read_bytes(), type=StackState)
    except FileNotFoundError:
        return None


def pid_alive(pid: int) -> bool:
    """Return True when a process with ``pid`` exists (and is not a zombie we own)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True

"""The service status file: how a supervised process says "I am serving" and shares counters.

A service calls ``ServiceStatusFile.ready()`` once it serves, ``update(counters)`` every few
seconds, and ``close()`` on shutdown. The supervisor and ``polybot status`` read it: present with
the right pid = ready; ``updated`` older than the stale limit = unhealthy. Plain JSON, written
atomically, so anything (a shell, a notebook) can read it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import msgspec

STALE_AFTER_S = 30.0


class ServiceStatus(msgspec.Struct, kw_only=True):
    """What a service reports about itself."""

    pid: int
    started_at: float
    updated: float
    counters: dict[str, int] = msgspec.field(default_factory=dict)
    detail: str = ""

    def is_stale(self, now: float | None = None) -> bool:
        """Return True when the service has not refreshed its status recently."""
        return ((now if now is not None else time.time()) - self.updated) > STALE_AFTER_S


class ServiceStatusFile:
    """Writer side, used inside a service process."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._started_at = time.time()
        self._counters: dict[str, int] = {}

    @classmethod
    def for_service(cls, name: str, data_dir: Path) -> ServiceStatusFile:
        """Return the status file of service ``name`` under ``data_dir/run``."""
        return cls(data_dir / "run" / f"{name}.ready")

    def ready(self, detail: str = "") -> None:
        """Announce that the service is serving."""
        self.update(self._counters, detail)

    def update(self, counters: dict[str, int], detail: str = "") -> None:
        """Refresh the status with the latest counters."""
        self._counters = dict(counters)
        status = ServiceStatus(
            pid=os.getpid(),
            started_at=self._started_at,
            updated=time.time(),
            counters=self._counters,
            detail=detail,
        )
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(self._path.name + ".tmp")
        tmp.write_bytes(msgspec.json.encode(status))
        os.replace(tmp, self._path)

    def close(self) -> None:
        """Withdraw the status file (the service stopped serving)."""
        self._path.unlink(missing_ok=True)


def read_status(path: Path) -> ServiceStatus | None:
    """Return the status a service wrote, or None if absent or unreadable."""
    try:
        return msgspec.json.decode(path.read_bytes(), type=ServiceStatus)
    except (FileNotFoundError, msgspec.DecodeError):
        return None

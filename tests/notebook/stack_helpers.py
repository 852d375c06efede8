"""A real PolyBot stack for the notebook, notebooks and dashboard tests.

``RunningStack`` runs ``polybot up`` (supervisor, local venue, every service) with a private data
dir, private ipc addresses and a free venue port, all through ``POLYBOT_*`` variables — the way a
user configures a second stack — and ``polybot down`` on exit. ipc paths live in a short
``/tmp`` directory because a unix socket path must stay under 107 bytes.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

REPO_ROOT = Path(__file__).resolve().parents[2]
BUS_KEYS = (
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


def free_port() -> int:
    """Return a TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RunningStack:
    """``polybot up`` in a private directory; ``env`` makes any process see this stack."""

    def __init__(self, markets: int = 20) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pbnb", dir="/tmp"))
        self.data_dir = self.root / "data"
        ipc = self.root / "ipc"
        self.env = {
            "POLYBOT_DATA_DIR": str(self.data_dir),
            "POLYBOT_BUS__IPC_DIR": str(ipc),
            "POLYBOT_VENUE__LOCAL_PORT": str(free_port()),
            "POLYBOT_VENUE__LOCAL_MARKETS": str(markets),
            "POLYBOT_API__PORT": str(free_port()),
            # The runner imports strategies deployed from notebooks from here (pb.strategy_dir).
            "PYTHONPATH": os.pathsep.join([str(self.data_dir / "strategies"), str(REPO_ROOT)]),
        }
        for key in BUS_KEYS:
            self.env[f"POLYBOT_BUS__{key.upper()}"] = f"ipc://{ipc}/{key}"
        self.output = ""

    def _cli(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "polybot.cli.main", *args],
            cwd=REPO_ROOT,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self) -> RunningStack:
        """Start every service and wait until all are ready (fails with the logs if not)."""
        # The runner's importer only looks in PYTHONPATH folders that existed when it started.
        (self.data_dir / "strategies").mkdir(parents=True, exist_ok=True)
        done = self._cli("up", "--timeout", "240", timeout=300)
        self.output = done.stdout + done.stderr
        if done.returncode != 0:
            logs = "\n".join(
                f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}"
                for p in sorted((self.data_dir / "logs").glob("*.log"))
            )
            self.stop()
            raise AssertionError(f"polybot up failed:\n{self.output}\n{logs}")
        return self

    def stop(self) -> None:
        """Stop the stack and remove its directory."""
        self._cli("down", timeout=180)
        shutil.rmtree(self.root, ignore_errors=True)

    def apply_env(self) -> dict[str, str | None]:
        """Export ``env`` into this process (kernels and servers inherit it); return old values."""
        old = {key: os.environ.get(key) for key in self.env}
        os.environ.update(self.env)
        return old

    @staticmethod
    def restore_env(old: dict[str, str | None]) -> None:
        """Undo ``apply_env``."""
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def __enter__(self) -> RunningStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

"""Start the real local venue (``polybot sim``) as a subprocess on an ephemeral port."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

_LISTENING = re.compile(rb"listening on http://127\.0\.0\.1:(\d+)")


def start_venue(
    data_dir: Path, *, markets: int = 20, timeout_s: float = 60.0
) -> tuple[subprocess.Popen[bytes], int]:
    """Return the venue process and its port once it announced where it listens.

    Its output goes to ``data_dir/venue.log`` (a pipe nobody reads could fill and block it).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "venue.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "polybot.cli.main",
                "sim",
                "--port",
                "0",
                "--markets",
                str(markets),
                "--data-dir",
                str(data_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        match = _LISTENING.search(log_path.read_bytes())
        if match:
            return proc, int(match.group(1))
        time.sleep(0.05)
    stop_venue(proc)
    raise AssertionError(f"the local venue did not start: {log_path.read_text()[-2000:]}")


def stop_venue(proc: subprocess.Popen[bytes]) -> None:
    """Stop the venue (SIGTERM, then SIGKILL after a grace period)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

"""Prometheus metrics from the services' status files.

Each service keeps monotonically increasing counters (signals received, orders sent, frames
dead-lettered, …) in its status file; this renders every service's counters in the Prometheus text
exposition format with a ``service`` label, plus up/uptime gauges. The API serves it at
``/metrics``; ``polybot status`` shows the same numbers.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from polybot.stack.status_file import read_status

_NAME = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(counter: str) -> str:
    """Return a valid Prometheus metric name for a counter."""
    return "polybot_" + _NAME.sub("_", counter).strip("_").lower() + "_total"


def render_prometheus(run_dir: Path, now: float | None = None) -> str:
    """Return the text exposition of every service status file under ``run_dir``."""
    now = time.time() if now is None else now
    samples: dict[str, list[str]] = {}
    up_lines, uptime_lines = [], []
    for path in sorted(run_dir.glob("*.ready")):
        status = read_status(path)
        if status is None:
            continue
        service = path.stem
        up_lines.append(
            f'polybot_service_up{{service="{service}"}} {0 if status.is_stale(now) else 1}'
        )
        uptime_lines.append(
            f'polybot_service_uptime_seconds{{service="{service}"}} {now - status.started_at:.3f}'
        )
        for counter, value in sorted(status.counters.items()):
            samples.setdefault(metric_name(counter), []).append(f'{{service="{service}"}} {value}')
    lines = [
        "# HELP polybot_service_up 1 when the service refreshed its status recently.",
        "# TYPE polybot_service_up gauge",
        *up_lines,
        "# HELP polybot_service_uptime_seconds Seconds since the service process started.",
        "# TYPE polybot_service_uptime_seconds gauge",
        *uptime_lines,
    ]
    for name, rows in sorted(samples.items()):
        lines.append(f"# TYPE {name} counter")
        lines.extend(f"{name}{row}" for row in rows)
    return "\n".join(lines) + "\n"

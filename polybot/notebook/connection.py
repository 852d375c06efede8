"""Where the stack is and whether it runs: status, start/stop from a notebook, friendly errors.

The notebook sits *below* ``polybot.stack`` in the layer order (cli → stack → notebook), so it
never imports the supervisor. It reads the supervisor's plain-JSON state files instead
(``data/run/stack.json`` and ``data/run/<service>.ready``, documented as readable by anything)
and starts or stops the stack the way a user would, by running ``polybot up`` / ``polybot down``
in a child process with the notebook's settings passed as ``POLYBOT_*`` variables.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from polybot.config import Settings
from polybot.core.errors import PolybotError
from polybot.notebook.display import AMBER, GREEN, GREY, RED, Markup, badge, escape, key_values
from polybot.stack.control import ServiceRow, service_rows, supervisor_running

# Which service answers on which bus address, for error messages that say what to start.
SERVICE_OF_ADDRESS = {
    "prices_pub": "scanner",
    "snapshots_req": "scanner",
    "events_pub": "executor",
    "signals_push": "executor",
    "state_req": "state",
    "analytics_req": "analytics",
    "strategy_logs_req": "runner",
    "runner_pub": "runner",
    "api_pub": "api",
}


class StackNotRunning(PolybotError):
    """The stack (or the one service a call needs) is not running; the message says how to start it."""


# One supervised service as the stack reports it (the same rows `polybot status` prints).
ServiceHealth = ServiceRow


@dataclass(frozen=True, slots=True)
class StackStatus:
    """The whole stack: is a supervisor running, and how is each service."""

    data_dir: Path
    running: bool
    services: tuple[ServiceHealth, ...]

    @property
    def healthy(self) -> bool:
        """Return True when the supervisor runs and every service is healthy."""
        return self.running and bool(self.services) and all(s.healthy for s in self.services)

    def service(self, name: str) -> ServiceHealth | None:
        """Return one service's health (None when the plan has no such service)."""
        return next((s for s in self.services if s.name == name), None)

    def __repr__(self) -> str:
        if not self.running:
            return f"stack not running ({self.data_dir})"
        rows = ", ".join(f"{s.name}={'ok' if s.healthy else s.status}" for s in self.services)
        return f"stack running ({self.data_dir}): {rows}"

    def _repr_html_(self) -> str:
        if not self.running:
            return key_values(
                "PolyBot stack",
                [
                    ("state", Markup(badge("not running", RED))),
                    ("data", str(self.data_dir)),
                    ("start", "`polybot up` in a terminal, or pb.start() here"),
                ],
            )
        head = "".join(
            f"<th style='padding:2px 8px;text-align:left'>{h}</th>"
            for h in ("service", "status", "pid", "uptime", "restarts", "counters")
        )
        rows = []
        for s in self.services:
            color = GREEN if s.healthy else (AMBER if s.status in ("starting", "backoff") else RED)
            counters = " ".join(f"{k}={v}" for k, v in sorted(s.counters.items()))
            detail = f" <span style='color:{GREY}'>{escape(s.detail)}</span>" if s.detail else ""
            rows.append(
                f"<tr><td style='padding:2px 8px'>{escape(s.name)}</td>"
                f"<td style='padding:2px 8px'>{badge(s.status if not s.healthy else 'ok', color)}"
                f"{detail}</td><td style='padding:2px 8px'>{s.pid or ''}</td>"
                f"<td style='padding:2px 8px'>{_duration(s.uptime_s)}</td>"
                f"<td style='padding:2px 8px'>{s.restarts}</td>"
                f"<td style='padding:2px 8px;font-size:11px'>{escape(counters)}</td></tr>"
            )
        state = badge("healthy", GREEN) if self.healthy else badge("degraded", AMBER)
        return (
            f"<div class='pb-status'><b>PolyBot stack</b> {state} "
            f"<span style='color:{GREY}'>{escape(self.data_dir)}</span>"
            f"<table style='font:12px sans-serif;border-collapse:collapse'><tr>{head}</tr>"
            f"{''.join(rows)}</table></div>"
        )


def read_status(data_dir: Path) -> StackStatus:
    """Return the stack's status from the supervisor's state files under ``data_dir/run``."""
    if supervisor_running(data_dir) is None:
        return StackStatus(data_dir=data_dir, running=False, services=())
    return StackStatus(data_dir=data_dir, running=True, services=tuple(service_rows(data_dir)))


def settings_env(settings: Settings) -> dict[str, str]:
    """Return ``POLYBOT_*`` variables that make a child process see the same stack as ``settings``.

    Only *where things are* travels (data dir, bus addresses, venue location, API port); secrets
    stay wherever they came from (the environment or the config file the child also reads).
    """
    env = {"POLYBOT_DATA_DIR": str(settings.data_dir.resolve())}
    for section in ("bus", "venue", "api"):
        values = getattr(settings, section).model_dump(mode="json")
        for key, value in values.items():
            if isinstance(value, str | int | float | bool) and not isinstance(value, list):
                env[f"POLYBOT_{section.upper()}__{key.upper()}"] = (
                    str(value).lower() if isinstance(value, bool) else str(value)
                )
    env["POLYBOT_EXECUTOR_MODE"] = settings.executor_mode
    return env


def run_cli(settings: Settings, *args: str, timeout_s: float) -> tuple[int, str]:
    """Run ``polybot <args>`` for ``settings``' stack; return (exit code, combined output)."""
    env = {**os.environ, **settings_env(settings)}
    done = subprocess.run(
        [sys.executable, "-m", "polybot.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return done.returncode, (done.stdout + done.stderr).strip()


def not_running_error(settings: Settings, key: str, cause: str = "") -> StackNotRunning:
    """Return the friendly error for "the service behind bus address ``key`` did not answer"."""
    status = read_status(settings.data_dir.resolve())
    service = SERVICE_OF_ADDRESS.get(key, key)
    address = getattr(settings.bus, key, key)
    if not status.running:
        text = (
            "the stack is not running — start it with `polybot up` or `pb.start()` "
            f"(data dir {settings.data_dir.resolve()})"
        )
    else:
        health = status.service(service)
        if health is None:
            text = (
                f"the stack runs, but without a {service} service, which serves {address}; "
                "this checkout may not have it yet"
            )
        elif health.healthy:
            text = (
                f"the {service} service runs but did not answer on {address} — "
                f"see `polybot logs {service}`"
            )
        else:
            text = (
                f"the {service} service is {health.status} ({health.detail or 'no detail'}) — "
                f"see `polybot logs {service}`"
            )
    return StackNotRunning(f"{text}{f' [{cause}]' if cause else ''}")


def _duration(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"

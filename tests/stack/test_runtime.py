"""Service plumbing: redacted JSON logs, Prometheus rendering, and a real service process lifecycle."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from polybot.config import load_settings
from polybot.stack.logs import JsonFormatter, SecretRedactor, secret_values
from polybot.stack.metrics import render_prometheus
from polybot.stack.runtime import SWITCH_INTERVAL_ENV, SWITCH_INTERVAL_S
from polybot.stack.status_file import ServiceStatusFile, read_status

KEY = "0x" + "5e" * 32


def test_log_lines_are_json_and_never_carry_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYBOT_POLYMARKET__PRIVATE_KEY", KEY)
    monkeypatch.setenv("POLYBOT_POLYMARKET__API_SECRET", "c2hoLWRvbnQtdGVsbA==")
    settings = load_settings()
    redactor = SecretRedactor(secret_values(settings))
    formatter = JsonFormatter("executor")
    record = logging.LogRecord(
        "t",
        logging.INFO,
        __file__,
        1,
        "signing with %s and %s",
        (KEY, "c2hoLWRvbnQtdGVsbA=="),
        None,
    )
    record.detail = f"private key {KEY[2:]}"
    assert redactor.filter(record)
    line = formatter.format(record)
    entry = json.loads(line)
    assert entry["service"] == "executor"
    assert KEY[2:] not in line
    assert "c2hoLWRvbnQtdGVsbA==" not in line
    assert entry["msg"] == "signing with ********** and **********"


def test_order_hashes_are_not_mistaken_for_keys() -> None:
    redactor = SecretRedactor([])
    order_id = "0x" + "ab" * 32
    assert redactor.redact(f"order {order_id} filled") == f"order {order_id} filled"
    assert order_id not in redactor.redact(f"private key={order_id}")


def test_prometheus_text_from_status_files(tmp_path: Path) -> None:
    status = ServiceStatusFile(tmp_path / "executor.ready")
    status.update({"signals_received": 7, "orders.sent": 3})
    text = render_prometheus(tmp_path)
    assert 'polybot_service_up{service="executor"} 1' in text
    assert 'polybot_signals_received_total{service="executor"} 7' in text
    assert 'polybot_orders_sent_total{service="executor"} 3' in text
    assert "# TYPE polybot_orders_sent_total counter" in text
    stale = render_prometheus(tmp_path, now=time.time() + 3600)
    assert 'polybot_service_up{service="executor"} 0' in stale


SERVICE = """
import asyncio, sys
from polybot.stack.runtime import run_service

async def main(runtime):
    runtime.count("ticks")
    runtime.ready("demo")
    while not runtime.stopping.is_set():
        runtime.count("ticks")
        await asyncio.sleep(0.05)

sys.exit(run_service("demo", main))
"""


def test_a_service_reports_ready_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "POLYBOT_DATA_DIR": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-c", SERVICE], env=env, stderr=subprocess.PIPE)
    ready = tmp_path / "run" / "demo.ready"
    deadline = time.monotonic() + 30
    while read_status(ready) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    status = read_status(ready)
    assert status is not None
    assert status.pid == process.pid
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    assert not ready.exists()
    lines = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    assert any(line["msg"] == "demo stopped cleanly" for line in lines)


TUNED = """
import asyncio, gc, sys
from polybot.stack.runtime import run_service

async def main(runtime):
    runtime.ready("starting")
    runtime.ready(f"switch={sys.getswitchinterval()} frozen={gc.get_freeze_count()}")
    await runtime.stopping.wait()

sys.exit(run_service("tuned", main))
"""


def test_a_service_runs_with_a_short_switch_interval_and_a_frozen_start_up_heap(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "POLYBOT_DATA_DIR": str(tmp_path)}
    env.pop(SWITCH_INTERVAL_ENV, None)
    process = subprocess.Popen([sys.executable, "-c", TUNED], env=env, stderr=subprocess.PIPE)
    ready = tmp_path / "run" / "tuned.ready"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = read_status(ready)
        if status is not None and status.detail.startswith("switch="):
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    assert status is not None
    switch, frozen = (part.split("=")[1] for part in status.detail.split())
    assert float(switch) == pytest.approx(SWITCH_INTERVAL_S)
    assert int(frozen) > 10_000  # the imported modules, settings, loop: out of the collector's way

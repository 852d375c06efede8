"""``python -m services.api`` as a real process: ready, serving, and a clean SIGTERM exit."""

from __future__ import annotations

import json
import signal
import socket

import httpx
import typer
from api_harness import ServiceProcess, make_settings, short_tmp
from test_ws import raw_client
from typer.testing import CliRunner
from websockets.sync.client import connect

from polybot.cli.api import register
from polybot.stack.plan import ready_file


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_api_service_serves_and_stops_on_sigterm_despite_websocket_clients() -> None:
    with short_tmp() as base:
        settings = make_settings(base)
        settings = settings.model_copy(
            update={"api": settings.api.model_copy(update={"port": free_port()})}
        )
        service = ServiceProcess("api", settings)
        url = f"http://127.0.0.1:{settings.api.port}"
        try:
            ready = ready_file(settings.data_dir, "api")
            with httpx.Client(base_url=url, timeout=10) as client:
                deadline_reached = _wait(lambda: ready.exists() and _answers(client))
                live = client.get("/health/live").json()
            token = (settings.data_dir / "api_token").read_text().strip()
            idle = connect(
                f"ws://127.0.0.1:{settings.api.port}/ws?token={token}", open_timeout=20, legacy=True
            )
            welcome = json.loads(idle.recv(timeout=20))
            stuck = raw_client(
                settings.api.port, token, {"op": "subscribe", "channels": ["events"]}
            )

            service.proc.send_signal(signal.SIGTERM)
            exit_code = service.proc.wait(timeout=60)
            stuck.close()
            idle.close()
        finally:
            service.stop()
            log = service.log_path.read_text()

    assert not deadline_reached, log
    assert live == {"status": "alive"}
    assert welcome["type"] == "welcome"
    assert exit_code == 0, log
    assert "api stopped cleanly" in log
    assert token not in log


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/health/live").status_code == 200
    except httpx.TransportError:
        return False


def _wait(predicate: object, timeout: float = 60.0) -> bool:
    """Poll ``predicate``; return True when the deadline passed without it holding."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            return True
        time.sleep(0.05)
    return False


def test_cli_api_token_creates_then_repeats_the_token(monkeypatch: object) -> None:
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    with short_tmp() as base:
        env = {"POLYBOT_DATA_DIR": str(base / "data"), "POLYBOT_CONFIG": ""}
        first = runner.invoke(app, ["api", "token"], env=env)
        second = runner.invoke(app, ["api", "token"], env=env)
        path = runner.invoke(app, ["api", "token", "--path"], env=env)
        stored = (base / "data" / "api_token").read_text().strip()

    assert first.exit_code == 0, first.output
    assert first.output.strip() == second.output.strip() == stored
    assert len(stored) >= 40
    assert path.output.strip() == str(base / "data" / "api_token")

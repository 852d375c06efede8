"""The shared stack helpers (polybot.testing.stack), without starting a stack."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from polybot.config import load_settings
from polybot.config.settings import BusSettings
from polybot.testing.stack import (
    BUS_SOCKETS,
    IsolatedStack,
    free_port,
    isolated_stack_env,
    wait_until,
)


def test_env_puts_every_socket_data_and_port_of_the_stack_under_its_root(tmp_path: Path) -> None:
    env = isolated_stack_env(
        tmp_path,
        executor_mode="paper",
        markets=7,
        pythonpath=[tmp_path / "strategies"],
        extra={"POLYBOT_LOG_LEVEL": "DEBUG"},
    )
    other = isolated_stack_env(tmp_path / "other")

    addresses = {env[f"POLYBOT_BUS__{name.upper()}"] for name in BUS_SOCKETS}
    assert set(BUS_SOCKETS) >= {"prices_pub", "events_pub", "state_req", "signals_push"}
    assert {n for n, f in BusSettings.model_fields.items() if isinstance(f.default, str)} == set(
        BUS_SOCKETS
    )
    assert len(addresses) == len(BUS_SOCKETS)
    assert all(a.startswith(f"ipc://{tmp_path}/ipc/") for a in addresses)
    assert env["POLYBOT_DATA_DIR"] == str(tmp_path / "data")
    assert env["POLYBOT_EXECUTOR_MODE"] == "paper"
    assert env["POLYBOT_VENUE__LOCAL_MARKETS"] == "7"
    assert env["POLYBOT_LOG_LEVEL"] == "DEBUG"
    assert env["PYTHONPATH"] == str(tmp_path / "strategies")
    assert Path(env["POLYBOT_CONFIG"]).read_text() == ""
    ports = [env["POLYBOT_VENUE__LOCAL_PORT"], env["POLYBOT_API__PORT"]]
    assert ports[0] != ports[1]
    assert not set(ports) & {other["POLYBOT_VENUE__LOCAL_PORT"], other["POLYBOT_API__PORT"]}


def test_applied_env_is_the_stacks_alone_and_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYBOT_EXECUTOR_MODE", "paper")
    monkeypatch.setenv("POLYBOT_RISK__MAX_ORDER_NOTIONAL", "1")  # a developer's shell setting
    stack = IsolatedStack(prefix="pbtest-", services=["state", "executor"])
    try:
        stack.apply_env()
        settings = load_settings()
        hidden = os.environ.get("POLYBOT_RISK__MAX_ORDER_NOTIONAL")
        names = [s.name for s in stack.plan.services]
    finally:
        stack.stop()

    assert settings.data_dir == stack.data_dir
    assert settings.executor_mode == "live"
    assert str(settings.risk.max_order_notional) != "1"
    assert hidden is None
    assert names == ["state", "executor"]
    sockets = [v for k, v in stack.env.items() if k.startswith("POLYBOT_BUS__") and "://" in v]
    assert all(len(a.removeprefix("ipc://")) < 107 for a in sockets)  # unix socket path limit
    assert os.environ["POLYBOT_EXECUTOR_MODE"] == "paper"
    assert os.environ["POLYBOT_RISK__MAX_ORDER_NOTIONAL"] == "1"
    assert not stack.root.exists()
    assert not stack.leftovers


def test_wait_until_returns_the_first_truthy_value_or_names_what_it_waited_for() -> None:
    counter = itertools.count()

    assert (
        wait_until(lambda: next(counter) >= 2 and "done", 5, "three calls", interval_s=0) == "done"
    )
    with pytest.raises(AssertionError, match=r"timed out after 0 s waiting for never\n\(it is 1\)"):
        wait_until(lambda: 0, 0.05, "never", interval_s=0.01, diagnose=lambda: "(it is 1)")
    assert 0 < free_port() < 65536

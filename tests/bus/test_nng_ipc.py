"""Addresses: ipc directory permissions, stale socket files after a crash, one live listener."""

from __future__ import annotations

import signal
import socket
import stat
import time
from pathlib import Path

import pytest
from peers import Peer, ipc_address

from polybot.bus.endpoints import Replier
from polybot.bus.ipc import ipc_path
from polybot.bus.messages import AnyMessage, Heartbeat
from polybot.bus.nng import Publisher, Puller, Subscriber
from polybot.core.errors import BusError, BusTimeout

WAIT = 30.0
LISTENERS = {"pub": Publisher, "pull": Puller, "rep": Replier}


def mode(path: Path) -> int:
    """Return the permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)


def heartbeat() -> Heartbeat:
    """Return a small valid message."""
    return Heartbeat(service="t", pid=1, status="ok", uptime_s=1.0, timestamp=1)


def publish_until_received(pub: Publisher, sub: Subscriber) -> AnyMessage:
    """Publish heartbeats until the subscriber gets one (PUB drops until the pipe is up)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        pub.publish(heartbeat())
        try:
            return sub.recv(timeout=0.05)
        except BusTimeout:
            continue
    raise AssertionError(f"nothing arrived on {pub.address} within {WAIT} s")


def test_listening_creates_the_ipc_directory_owner_only(tmp_path: Path) -> None:
    address = f"ipc://{tmp_path}/a/b/prices.pub"
    with Publisher(address):
        assert mode(tmp_path / "a" / "b") == 0o700
        assert (tmp_path / "a" / "b" / "prices.pub").exists()
    assert not (tmp_path / "a" / "b" / "prices.pub").exists()  # a clean close removes the file


def test_listening_tightens_a_loose_ipc_directory(tmp_path: Path) -> None:
    loose = tmp_path / "ipc"
    loose.mkdir()
    loose.chmod(0o755)
    with Puller(ipc_address(tmp_path, "signals.push")):
        assert mode(loose) == 0o700


def test_a_shared_sticky_directory_is_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    with Publisher(f"ipc://{shared}/x.pub"):
        assert shared.stat().st_mode & 0o7777 == 0o1777


@pytest.mark.parametrize("kind", sorted(LISTENERS))
def test_stale_ipc_file_after_sigkill_can_be_listened_on_again(tmp_path: Path, kind: str) -> None:
    address = ipc_address(tmp_path, f"{kind}.sock")
    with Peer("listen", address, "--kind", kind) as crashed:
        crashed.wait_for("ready")
        crashed.kill(signal.SIGKILL)
    path = ipc_path(address)
    assert path is not None
    assert path.exists()  # the crash left the socket file behind
    with LISTENERS[kind](address) as endpoint:
        assert endpoint.address == address
        assert path.exists()


def test_the_new_listener_after_a_crash_really_serves(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "prices.pub")
    with Peer("listen", address, "--kind", "pub") as crashed:
        crashed.wait_for("ready")
        crashed.kill(signal.SIGKILL)
    with Publisher(address) as pub, Subscriber(address) as sub:
        assert isinstance(publish_until_received(pub, sub), Heartbeat)


def test_a_second_live_listener_gets_a_clear_error(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "state.req")
    with Peer("listen", address, "--kind", "rep") as live:
        live.wait_for("ready")
        with pytest.raises(BusError, match=r"another process is already serving .*state\.req"):
            Replier(address)


def test_tcp_addresses_work_the_same() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    with Publisher(address) as pub, Subscriber(address) as sub:
        assert isinstance(publish_until_received(pub, sub), Heartbeat)
        with pytest.raises(BusError, match="another process is already serving"):
            Publisher(address)

"""PUSH/PULL: typed delivery across processes, send timeouts, lingering close, bad frames."""

from __future__ import annotations

import time
from pathlib import Path

import pynng
import pytest
from peers import Peer, ipc_address

from polybot.bus import codec
from polybot.bus.ipc import SocketOptions
from polybot.bus.messages import Signal
from polybot.bus.nng import Puller, Pusher
from polybot.core.errors import BusTimeout, MalformedMessage, WireError

WAIT = 30.0


def signal(signal_id: str) -> Signal:
    """Return a small valid signal."""
    return Signal(
        strategy="t", market_id="0xm", action="BUY_YES", token_id="tok", price=0.5, size=1.0,
        signal_id=signal_id,
    )


def test_push_without_a_puller_times_out_instead_of_queueing(tmp_path: Path) -> None:
    with Pusher(ipc_address(tmp_path, "signals.push")) as push:
        started = time.monotonic()
        with pytest.raises(BusTimeout, match="no puller connected"):
            push.send(signal("s1"), timeout=0.3)
        assert time.monotonic() - started >= 0.3


def test_push_with_full_buffers_times_out(tmp_path: Path) -> None:
    # require_peer=False shows the raw NNG behaviour: the buffer takes a few, then send blocks,
    # and only the send timeout stops it from blocking forever.
    small = SocketOptions(buffer_size=4, send_timeout_ms=200)
    with Pusher(ipc_address(tmp_path, "signals.push"), options=small, require_peer=False) as push:
        accepted = 0
        with pytest.raises(BusTimeout, match=r"within 0\.2 s"):  # noqa: PT012 - fill, then block
            while accepted < 100:
                push.send(signal(f"s{accepted}"))
                accepted += 1
        assert accepted <= 8  # only the small buffer's worth was taken
        push.close(linger=0)


def test_pushed_signals_all_arrive_when_the_pusher_closes_right_after_sending(
    tmp_path: Path,
) -> None:
    address = ipc_address(tmp_path, "signals.push")
    with Puller(address) as pull, Peer("push", address, "--count", "5000") as peer:
        ids = []
        for _ in range(5000):
            message = pull.recv(timeout=WAIT)
            assert isinstance(message, Signal)
            ids.append(message.signal_id)
        peer.wait_for("done")
    assert ids == [f"s{i}" for i in range(5000)]  # one pusher: order is kept too


def test_puller_counts_bad_frames_and_keeps_receiving(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "signals.push")
    rejected: list[tuple[bytes, WireError]] = []
    with Puller(address, on_malformed=lambda f, e: rejected.append((f, e))) as pull, pynng.Push0(
        send_timeout=int(WAIT * 1000)
    ) as raw:
        raw.dial(address, block=False)
        raw.send(b"\x92\x01\x02")  # a msgpack array, not a map
        raw.send(codec.encode(signal("after")))
        message = pull.recv(timeout=WAIT)
    assert isinstance(message, Signal)
    assert message.signal_id == "after"
    assert [f for f, _ in rejected] == [b"\x92\x01\x02"]
    assert isinstance(rejected[0][1], MalformedMessage)
    assert pull.stats.malformed == 1
    assert pull.stats.received == 1

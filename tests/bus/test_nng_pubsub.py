"""PUB/SUB between real processes: seq stamping, prefix filtering, restarts, gaps, bad frames."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import msgspec
import pytest
from peers import Peer, ipc_address, price_frame

from polybot.bus import codec
from polybot.bus.ipc import SocketOptions
from polybot.bus.messages import Price
from polybot.bus.nng import Gap, Subscriber
from polybot.core.errors import BusTimeout, MalformedMessage, UnknownMessageType, WireError

WAIT = 30.0  # generous: the box is shared with other test runs


def drain(sub: Subscriber, idle: float = 1.0) -> list[Price]:
    """Receive until nothing arrives for ``idle`` seconds."""
    received: list[Price] = []
    while True:
        try:
            message = sub.recv(timeout=idle)
        except BusTimeout:
            return received
        assert isinstance(message, Price)
        received.append(message)


def test_messages_cross_processes_typed_and_numbered_from_one(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "prices.pub")
    with Subscriber(address) as sub, Peer("pub", address, "--count", "300") as peer:
        peer.wait_for("done")
        received = [sub.recv(timeout=WAIT) for _ in range(300)]
        assert all(isinstance(m, Price) for m in received)
        assert [m.seq for m in received] == list(range(1, 301))  # type: ignore[union-attr]
        assert sub.stats.gaps == 0
        assert sub.stats.resets == 0
        assert sub.stats.received == 300


def test_prefix_subscription_keeps_other_markets_out_of_python(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "prices.pub")
    only_a = Subscriber(address, topics=[codec.subscription_prefix(Price, "0xa")])
    everything = Subscriber(address)
    with only_a, everything, Peer(
        "pub", address, "--count", "2000", "--markets", "0xa,0xb", "--subs", "2", "--rate", "20000"
    ) as peer:
        peer.wait_for("done")
        all_frames = drain(everything)
        frames: list[bytes] = []
        while True:
            try:
                frames.append(only_a.recv_raw(timeout=1.0))
            except BusTimeout:
                break
    assert {m.market_id for m in all_frames} == {"0xa", "0xb"}  # B really was published
    assert len(all_frames) == 2000
    markets = [codec.decode_as(frame, Price).market_id for frame in frames]
    assert markets == ["0xa"] * 1000  # no B frame ever reached the filtered subscriber
    assert not only_a.gap_detection  # a filtered stream skips seqs by design
    assert everything.gap_detection


def test_publisher_restart_is_a_reset_not_a_gap(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "prices.pub")
    events: list[Gap] = []
    with Subscriber(address, on_gap=events.append) as sub:
        with Peer("pub", address, "--count", "0", "--interval", "0.002", "--token", "A") as first:
            first.wait_for("ready")
            while sub.recv(timeout=WAIT).seq < 100:  # type: ignore[union-attr]
                pass
            first.kill(signal.SIGKILL)  # a crash: no clean close, the ipc file stays behind
        with Peer("pub", address, "--count", "0", "--interval", "0.002", "--token", "B") as second:
            second.wait_for("ready")
            deadline = time.monotonic() + WAIT
            from_b: list[Price] = []
            while len(from_b) < 50 and time.monotonic() < deadline:
                message = sub.recv(timeout=WAIT)
                assert isinstance(message, Price)
                if message.token_id == "B":
                    from_b.append(message)
    assert len(from_b) == 50
    seqs = [m.seq for m in from_b]
    assert seqs == list(range(seqs[0], seqs[0] + 50))
    assert sub.stats.resets == 1
    assert sub.stats.gaps == 0
    assert len(events) == 1
    assert events[0].reset
    assert events[0].missed == 0


def test_slow_subscriber_with_large_buffers_loses_nothing_in_a_burst(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "prices.pub")
    with Subscriber(address) as sub, Peer("pub", address, "--count", "5000") as peer:
        peer.wait_for("ready")
        received = []
        for _ in range(5000):
            received.append(sub.recv(timeout=WAIT))
            time.sleep(0.0002)  # ~10x slower than the publisher's burst
        peer.wait_for("done")
    assert [m.seq for m in received] == list(range(1, 5001))  # type: ignore[union-attr]
    assert sub.stats.gaps == 0
    assert sub.stats.missed == 0


def test_forced_gap_is_counted_and_reported(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "prices.pub")
    frames = [price_frame("0xa", seq) for seq in (1, 2, 3, 7, 8)]
    events: list[Gap] = []
    with Subscriber(address, on_gap=events.append) as sub, Peer("frames", address, *frames) as peer:
        peer.wait_for("done")
        seqs = [sub.recv(timeout=WAIT).seq for _ in range(5)]  # type: ignore[union-attr]
    assert seqs == [1, 2, 3, 7, 8]
    assert sub.stats.gaps == 1
    assert sub.stats.missed == 3
    assert sub.stats.resets == 0
    assert events == [Gap(expected=4, received=7, missed=3, reset=False)]


def test_overflowing_a_tiny_buffer_shows_as_gaps(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "prices.pub")
    tiny = SocketOptions(buffer_size=16)
    with Subscriber(address, options=tiny) as sub, Peer(
        "pub", address, "--count", "5000", "--go-after", "10"
    ) as peer:
        head = [sub.recv(timeout=WAIT) for _ in range(10)]  # in sync: last_seq is 10
        peer.wait_for("waiting")
        peer.send("go")
        peer.wait_for("done")  # not reading during the burst: NNG must drop (the oldest)
        received = head + drain(sub)
    stats = sub.stats
    assert [m.seq for m in head] == list(range(1, 11))  # type: ignore[union-attr]
    assert 10 < len(received) < 5000
    assert stats.gaps >= 1
    assert stats.resets == 0
    seqs = [m.seq for m in received]  # type: ignore[union-attr]
    assert seqs == sorted(seqs)
    # Every seq between the first and the last one seen was either received or counted missed.
    assert len(received) + stats.missed == seqs[-1] - seqs[0] + 1


def test_malformed_frames_are_counted_and_the_next_good_frame_arrives(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "prices.pub")
    bad_price = msgspec.msgpack.encode(
        {"type": "price", "market_id": "0xa", "token_id": "t", "bid": 2.0, "ask": 0.5,
         "mid": 0.5, "timestamp": 1, "seq": 3}
    )
    unknown = msgspec.msgpack.encode({"type": "nope", "seq": 4})
    garbage = b"\xc1\x00not msgpack"
    frames = [price_frame("0xa", 1), garbage.hex(), price_frame("0xa", 2), bad_price.hex(),
              unknown.hex(), price_frame("0xa", 5)]
    rejected: list[tuple[bytes, WireError]] = []
    with Subscriber(address, on_malformed=lambda f, e: rejected.append((f, e))) as sub, Peer(
        "frames", address, *frames
    ) as peer:
        peer.wait_for("done")
        good = [sub.recv(timeout=WAIT) for _ in range(3)]
    assert [m.seq for m in good] == [1, 2, 5]  # type: ignore[union-attr]
    assert [f for f, _ in rejected] == [garbage, bad_price, unknown]
    assert [type(e) for _, e in rejected] == [MalformedMessage, MalformedMessage, UnknownMessageType]
    assert sub.stats.malformed == 3
    # The bad frames' seqs (3, 4) were salvaged, so their slots are not mistaken for losses;
    # the garbage frame had no readable seq at all, but nothing was skipped around it.
    assert sub.stats.gaps == 0


def test_recv_without_a_publisher_raises_bus_timeout(tmp_path: Path) -> None:
    with Subscriber(ipc_address(tmp_path, "nobody.pub")) as sub:
        with pytest.raises(BusTimeout, match="no message"):
            sub.recv(timeout=0.2)
        assert sub.try_recv() is None

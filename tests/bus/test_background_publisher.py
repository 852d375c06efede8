"""BackgroundPublisher over real NNG sockets: order, seq, flush on close, and a caller that never
waits for the send."""

from __future__ import annotations

import time
from pathlib import Path

from peers import ipc_address

from polybot.bus import codec
from polybot.bus.background import BackgroundPublisher
from polybot.bus.messages import Price
from polybot.bus.nng import Publisher, Subscriber

WAIT = 30.0


def _price(n: int) -> Price:
    return Price(
        market_id="0x" + "ab" * 32, token_id="1" * 77, bid=0.40, ask=0.60, mid=0.5, timestamp=n
    )


def _connected(pub: Publisher, sub: Subscriber, deadline_s: float = WAIT) -> None:
    # A SUB that dialled is not subscribed until its pipe is up: probe until a frame arrives.
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        pub.publish_frame(codec.encode(_price(0)))
        try:
            sub.recv(timeout=0.1)
            return
        except Exception:
            continue
    raise AssertionError("the subscriber never connected")


def test_messages_go_out_in_order_with_their_seq_and_close_flushes(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "events.pub")
    with Publisher(address) as pub, Subscriber(address, topics=[b""]) as sub:
        _connected(pub, sub)
        while True:  # drop the probes still in flight
            try:
                sub.recv(timeout=0.3)
            except Exception:
                break
        outbox = BackgroundPublisher(pub, name="test-pub")
        for n in range(1, 2001):
            outbox.publish(_price(n))
        outbox.close()  # returns once everything queued was sent
        assert outbox.failed == 0
        received = [sub.recv(timeout=WAIT) for _ in range(2000)]
    assert [m.timestamp for m in received] == list(range(1, 2001))  # type: ignore[union-attr]
    seqs = [m.seq for m in received]
    assert seqs == list(range(seqs[0], seqs[0] + 2000))  # one publisher, numbered in order


def test_publishing_after_the_socket_closed_is_counted_not_raised(tmp_path: Path) -> None:
    pub = Publisher(ipc_address(tmp_path, "gone.pub"))
    outbox = BackgroundPublisher(pub)
    pub.close()
    outbox.publish(_price(1))  # the caller is never the one that fails
    outbox.close()
    assert outbox.failed == 1

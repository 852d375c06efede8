"""The runner's Outbox: signals held while a burst of market data is handled, sent in order."""

from __future__ import annotations

import time

from polybot.runner.outbox import Outbox


def test_outside_a_burst_everything_is_sent_at_once() -> None:
    sent: list[int] = []
    outbox: Outbox[int] = Outbox(sent.append)
    outbox.put(1)
    outbox.put(2)
    assert sent == [1, 2]


def test_in_a_burst_the_first_goes_at_once_and_the_rest_when_released() -> None:
    sent: list[int] = []
    outbox: Outbox[int] = Outbox(sent.append, burst_ns=60 * 10**9)  # never due by time here
    outbox.hold()
    for n in range(5):
        outbox.put(n)
        outbox.handled()
    assert sent == [0]  # nothing had been sent lately: no reason to wait
    outbox.release()
    assert sent == [0, 1, 2, 3, 4]
    assert not outbox.holding
    outbox.put(5)  # after the burst: straight out
    assert sent == [0, 1, 2, 3, 4, 5]


def test_held_messages_go_out_once_the_burst_interval_has_passed() -> None:
    sent: list[int] = []
    outbox: Outbox[int] = Outbox(sent.append, burst_ns=1_000_000)
    outbox.hold()
    outbox.put(1)  # at once
    outbox.put(2)  # within 1 ms of the last send: held
    outbox.handled()
    assert sent == [1]
    time.sleep(0.002)
    outbox.handled()
    assert sent == [1, 2]  # 1 ms since the last send: the held one goes
    outbox.put(3)  # just sent: held again
    assert sent == [1, 2]
    outbox.release()
    assert sent == [1, 2, 3]

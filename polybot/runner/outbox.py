"""``Outbox``: the runner's signals and commands to the executor, sent in short bursts.

Market data arrives in bursts (one venue frame updates both tokens of a market, several frames
can queue up while the runner is busy), and a strategy may answer each update with a signal. A PUSH that runs while
its pipe is idle sends inline and wakes the executor, tens of µs each; once NNG is busy with a
burst, a send is a queue append. So while the runner handles a burst of market data (from the
first message to the subscriber's ``on_drained``) the outbox sends like Nagle's algorithm: a
message goes out at once when nothing was sent in the last ``burst_ns``; otherwise it waits with
the others until that much time has passed (checked after every market message) or the burst is
over. Outside a burst (timers, order fates, shutdown) everything is sent at once. Order is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

BURST_NS = 250_000  # at most one send burst per this much time while a burst is handled

T = TypeVar("T")


class Outbox(Generic[T]):
    """Hold messages while a burst is being handled; ``send`` each in order (see the docstring)."""

    def __init__(self, send: Callable[[T], None], *, burst_ns: int = BURST_NS) -> None:
        self._send = send
        self._burst_ns = burst_ns
        self._held: list[T] = []
        self._sent_at = 0  # perf_counter_ns of the last send while holding
        self.holding = False

    def put(self, message: T) -> None:
        """Send ``message`` now, or hold it while a burst is being handled."""
        if self.holding:
            now = time.perf_counter_ns()
            if self._held or now - self._sent_at < self._burst_ns:
                self._held.append(message)
                return
            self._sent_at = now
        self._send(message)

    def hold(self) -> None:
        """A burst is being handled: hold what is put from now on."""
        self.holding = True

    def handled(self) -> None:
        """One message of the burst was handled: send what is held if it has waited long enough."""
        if self._held and time.perf_counter_ns() - self._sent_at >= self._burst_ns:
            self.flush()

    def release(self) -> None:
        """The burst is over: send everything held and stop holding."""
        self.holding = False
        self.flush()

    def flush(self) -> None:
        """Send everything held, in order."""
        if not self._held:
            return
        self._sent_at = time.perf_counter_ns()
        while self._held:
            held, self._held = self._held, []
            for message in held:
                self._send(message)

"""Read a SUB socket off the cell: ``loop.add_reader(recv_fd)`` on the kernel's running loop.

Why not ``await sub.arecv()`` in a task: it costs 50–100 µs per message, tops out near 12k msg/s
and loses messages; a reader on ``recv_fd`` that drains with non-blocking ``recv`` costs ~20 µs
and loses nothing at 20k msg/s (stack-notes §2.2). Each wake-up drains at most ``batch`` frames,
so a firehose cannot starve the cells; the fd stays readable and the loop comes straight back.

The same ``drain`` also runs on demand (``poll``/``wait_for``), so a cell that must block until
something arrives — or a script with no running loop — reads exactly the same way.
"""

from __future__ import annotations

import asyncio
import select
import time
from collections.abc import Callable, Iterable

import pynng

from polybot.bus.ipc import DEFAULT_OPTIONS, SocketOptions
from polybot.bus.messages import AnyMessage
from polybot.bus.nng import Gap, ReceiveStats, Subscriber


class LoopReader:
    """A ``Subscriber`` whose frames are decoded and handed to ``handle`` on the event loop."""

    def __init__(
        self,
        address: str,
        handle: Callable[[AnyMessage], None],
        *,
        topics: Iterable[bytes] | None = None,
        on_gap: Callable[[Gap], None] | None = None,
        batch: int = 512,
        options: SocketOptions = DEFAULT_OPTIONS,
    ) -> None:
        self.address = address
        self.handle = handle
        self.batch = batch
        self.last_message = 0.0  # monotonic time of the newest message (0: none yet)
        self.closed = False
        self.subscriber = Subscriber(address, topics=topics, on_gap=on_gap, options=options)
        self._sock = self.subscriber.socket
        self._fd: int = self._sock.recv_fd
        try:
            self.loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self.loop = None  # a script: reading happens only in poll()/wait_for()
        if self.loop is not None:
            self.loop.add_reader(self._fd, self.drain)

    @property
    def stats(self) -> ReceiveStats:
        """Return the receive counters (received, gaps, missed, resets, malformed…)."""
        return self.subscriber.stats

    @property
    def gap_detection(self) -> bool:
        """Return True when sequence numbers are checked (subscribed to everything)."""
        return self.subscriber.gap_detection

    @property
    def connected(self) -> bool:
        """Return True while the publisher is connected."""
        return not self.closed and self.subscriber.peers > 0

    def drain(self) -> int:
        """Decode and handle up to ``batch`` queued frames; return how many were handled."""
        recv = self._sock.recv
        accept = self.subscriber.inbox.accept
        handle = self.handle
        handled = 0
        for _ in range(self.batch):
            try:
                frame = recv(block=False)
            except pynng.TryAgain:
                break
            except pynng.Closed:
                self._stop_reading()
                break
            message = accept(frame)
            if message is not None:
                handled += 1
                handle(message)
        if handled:
            self.last_message = time.monotonic()
        return handled

    def poll(self, timeout: float = 0.0) -> int:
        """Handle what is queued, waiting up to ``timeout`` s for the first frame; return count."""
        deadline = time.monotonic() + timeout
        total = 0
        while not self.closed:
            count = self.drain()
            total += count
            if count < self.batch:
                remaining = deadline - time.monotonic()
                if total or remaining <= 0:
                    break
                select.select([self._fd], [], [], min(remaining, 0.05))
        return total

    def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Read until ``condition()`` holds or ``timeout`` s pass; return whether it held."""
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed:
                return condition()
            self.poll(min(remaining, 0.05))
        return True

    def wait_connected(self, timeout: float) -> bool:
        """Wait until the publisher is connected; return whether it is."""
        deadline = time.monotonic() + timeout
        while not self.connected:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def _stop_reading(self) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.remove_reader(self._fd)
        self.loop = None

    def close(self) -> None:
        """Stop reading and close the socket (idempotent; call on the loop's thread)."""
        if self.closed:
            return
        self._stop_reading()
        self.closed = True
        self.subscriber.close()

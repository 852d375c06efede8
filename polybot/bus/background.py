"""Publish from a thread of its own, so an asyncio service never waits on NNG.

A synchronous ``Pub0.send`` hands the frame to NNG's worker threads and waits for them: tens of
µs on an idle machine, but when every core is busy the wait is a scheduler quantum — bench/bus.py
and docs/bus.md have the numbers (p99 in milliseconds on a loaded 2-core box). On an event loop
that wait stalls everything behind it. ``BackgroundPublisher`` takes the message (a queue put, a
couple of µs) and a daemon thread does the send; order and ``seq`` stamping are unchanged because
one thread sends everything, in the order it was given.
"""

from __future__ import annotations

import logging
import queue
import threading

from polybot.bus.messages import Message
from polybot.bus.nng import Publisher
from polybot.core.errors import BusError

log = logging.getLogger(__name__)

_STOP = object()


class BackgroundPublisher:
    """``publish`` queues; a thread sends. ``close`` sends what is queued, then stops."""

    def __init__(self, publisher: Publisher, *, name: str = "publisher") -> None:
        self.publisher = publisher
        self.failed = 0
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def publish(self, message: Message) -> None:
        """Queue ``message`` for sending (never blocks)."""
        self._queue.put(message)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                self.publisher.publish(item)  # type: ignore[arg-type]
            except BusError as exc:  # a closed socket at shutdown; never kill the thread
                self.failed += 1
                log.warning("could not publish a %s: %s", type(item).__name__, exc)

    def close(self, timeout_s: float = 5.0) -> None:
        """Send everything queued so far (within ``timeout_s``) and stop the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout_s)

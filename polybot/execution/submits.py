"""Venue submits in flight: started in decision order, run concurrently, drained on demand.

The executor decides signals one at a time, but a submit is a network round trip; awaiting each
before reading the next signal would make the venue's latency the executor's throughput limit.
``Submits`` runs them as tasks, at most ``limit`` at once (the venue client's rate limiter paces
them further), and ``drain`` waits for those in flight — before a cancel-all, so an order still on
its way cannot land after the cancel, and on shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class Submits:
    """A bounded set of submit tasks."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("at least one submit must be allowed in flight")
        self._slots = asyncio.Semaphore(limit)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def inflight(self) -> int:
        """Return how many submits have not finished."""
        return len(self._tasks)

    def start(self, submit: Coroutine[Any, Any, None]) -> None:
        """Run ``submit`` as soon as a slot is free (it must handle its own errors)."""
        task = asyncio.get_running_loop().create_task(self._run(submit))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, submit: Coroutine[Any, Any, None]) -> None:
        async with self._slots:
            await submit

    async def drain(self) -> None:
        """Wait until every submit started so far has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

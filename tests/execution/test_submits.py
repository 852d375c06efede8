"""Submits: bounded concurrency, started in order, and a drain that waits for all in flight."""

from __future__ import annotations

import asyncio

import pytest

from polybot.execution.submits import Submits


async def test_at_most_limit_run_at_once_in_start_order_and_drain_waits_for_all() -> None:
    submits = Submits(2)
    running = peak = 0
    started: list[int] = []
    finished: list[int] = []
    release = asyncio.Event()

    async def submit(n: int) -> None:
        nonlocal running, peak
        started.append(n)
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1
        finished.append(n)

    for n in range(5):
        submits.start(submit(n))
    await asyncio.sleep(0.01)
    assert (started, peak, submits.inflight) == ([0, 1], 2, 5)  # the rest wait for a slot

    drained = asyncio.create_task(submits.drain())
    await asyncio.sleep(0.01)
    assert not drained.done()  # nothing finished yet: a cancel-all must keep waiting
    release.set()
    await asyncio.wait_for(drained, 5)
    assert (started, sorted(finished), submits.inflight, peak) == ([0, 1, 2, 3, 4], [0, 1, 2, 3, 4], 0, 2)


async def test_a_submit_started_while_draining_is_waited_for_too() -> None:
    submits = Submits(4)
    done: list[str] = []

    async def late() -> None:
        await asyncio.sleep(0.02)
        done.append("late")

    async def first() -> None:
        await asyncio.sleep(0.01)
        submits.start(late())  # e.g. a signal decided while a cancel-all waits
        done.append("first")

    submits.start(first())
    await asyncio.wait_for(submits.drain(), 5)
    assert done == ["first", "late"]


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Submits(0)

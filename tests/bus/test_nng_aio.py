"""The asyncio receive path (add_reader on recv_fd) against publishers/pushers in other processes."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from peers import Peer, ipc_address, price_frame

from polybot.bus.aio import AsyncPuller, AsyncSubscriber
from polybot.bus.messages import AnyMessage, Price, Signal
from polybot.core.errors import BusError, BusTimeout, WireError

WAIT = 30.0


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds (state owned by the receiver, so poll it)."""
    deadline = time.monotonic() + WAIT
    while not condition() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def wait_for_line(peer: Peer, word: str) -> str:
    """Wait for a peer's output line without blocking the loop that is receiving."""
    return await asyncio.to_thread(peer.wait_for, word)


async def test_async_subscriber_receives_everything_at_a_steady_rate(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "prices.pub")
    count = 20_000
    async with AsyncSubscriber(address) as sub:
        with Peer("pub", address, "--count", str(count), "--rate", "10000"):
            seqs = []
            async with asyncio.timeout(WAIT * 2):
                async for message in sub:
                    seqs.append(message.seq)  # type: ignore[union-attr]
                    if len(seqs) == count:
                        break
    assert seqs == list(range(1, count + 1))
    assert sub.stats.gaps == 0
    assert sub.stats.missed == 0


async def test_callback_mode_delivers_on_the_loop_and_close_removes_the_reader(
    tmp_path: Path,
) -> None:
    address = ipc_address(tmp_path, "prices.pub")
    loop = asyncio.get_running_loop()
    got: list[AnyMessage] = []
    sub = AsyncSubscriber(address, callback=got.append)
    fd = sub.receiver.socket.recv_fd
    with Peer("pub", address, "--count", "500") as peer:
        await wait_for_line(peer, "done")
        await eventually(lambda: len(got) >= 500)
    assert [m.seq for m in got] == list(range(1, 501))  # type: ignore[union-attr]
    assert sub.reading
    with pytest.raises(BusError, match="callback"):
        sub.__aiter__()
    sub.close()
    assert not sub.reading
    assert sub.closed
    assert not loop.remove_reader(fd)  # False: close() already unregistered it


async def test_on_drained_follows_each_burst_of_callbacks(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "prices.pub")
    seen: list[int | str] = []
    sub = AsyncSubscriber(
        address,
        callback=lambda m: seen.append(m.seq),  # type: ignore[union-attr]
        on_drained=lambda: seen.append("drained"),
    )
    with Peer("pub", address, "--count", "300") as peer:
        await wait_for_line(peer, "done")
        await eventually(lambda: seen.count("drained") >= 1 and 300 in seen)
    sub.close()
    assert [s for s in seen if s != "drained"] == list(range(1, 301))
    assert seen[-1] == "drained"  # every message is followed by the end of its burst
    assert seen[0] != "drained"  # and never called for a wake-up that delivered nothing
    assert ("drained", "drained") not in set(itertools.pairwise(seen))


async def test_full_queue_pauses_reading_and_nothing_is_lost(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "prices.pub")
    async with AsyncSubscriber(address, maxsize=100) as sub:
        with Peer("pub", address, "--count", "3000", "--rate", "20000") as peer:
            await wait_for_line(peer, "done")
            await eventually(lambda: not sub.reading)  # the reader fills the queue and pauses
            assert not sub.reading
            assert sub.queued == 100
            seqs = [(await sub.recv(timeout=WAIT)).seq for _ in range(3000)]  # type: ignore[union-attr]
    assert seqs == list(range(1, 3001))  # the rest waited in NNG's buffer
    assert sub.pauses >= 1
    assert sub.stats.gaps == 0


async def test_async_path_survives_malformed_frames(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "prices.pub")
    bad: list[tuple[bytes, WireError]] = []
    frames = [price_frame("0xa", 1), "c1c1", price_frame("0xa", 2)]
    async with AsyncSubscriber(address, on_malformed=lambda f, e: bad.append((f, e))) as sub:
        with Peer("frames", address, *frames):
            first = await sub.recv(timeout=WAIT)
            second = await sub.recv(timeout=WAIT)
    assert isinstance(first, Price)
    assert isinstance(second, Price)
    assert (first.seq, second.seq) == (1, 2)
    assert [f for f, _ in bad] == [b"\xc1\xc1"]
    assert sub.stats.malformed == 1


async def test_async_puller_receives_every_pushed_signal(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "signals.push")
    async with AsyncPuller(address) as pull:
        with Peer("push", address, "--count", "3000"):
            ids = set()
            for _ in range(3000):
                message = await pull.recv(timeout=WAIT)
                assert isinstance(message, Signal)
                ids.add(message.signal_id)
    assert ids == {f"s{i}" for i in range(3000)}


async def test_recv_times_out_and_a_closed_receiver_ends_iteration(tmp_path: Path) -> None:
    sub = AsyncSubscriber(ipc_address(tmp_path, "quiet.pub"))
    with pytest.raises(BusTimeout):
        await sub.recv(timeout=0.1)

    async def consume() -> list[AnyMessage]:
        return [message async for message in sub]

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    sub.close()
    assert await asyncio.wait_for(task, WAIT) == []
    with pytest.raises(BusError, match="closed"):
        await sub.recv(timeout=1.0)


def test_async_receiver_outside_a_running_loop_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BusError, match="running event loop"):
        AsyncSubscriber(ipc_address(tmp_path, "x.pub"))

"""REQ/REP: replies across processes, idempotency under re-sends, timeouts, bad requests."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import pynng
import pytest
from peers import Peer, ipc_address

from polybot.bus import codec
from polybot.bus.endpoints import AsyncHandler, Replier, Requester
from polybot.bus.ipc import SocketOptions
from polybot.bus.messages import Command, Response
from polybot.core.errors import BusTimeout

WAIT = 30.0


@contextmanager
def serving(address: str, handler: AsyncHandler) -> Iterator[Replier]:
    """Run a Replier in a thread of this process for the duration of the block."""
    replier = Replier(address, handler)
    stop = threading.Event()
    thread = threading.Thread(target=replier.serve, args=(stop, 0.05), daemon=True)
    thread.start()
    try:
        yield replier
    finally:
        stop.set()
        thread.join(WAIT)
        replier.close()


def responses(peer: Peer, count: int) -> list[dict[str, object]]:
    """Collect ``count`` JSON responses printed by a requester peer."""
    return [json.loads(peer.wait_for("response").split(" ", 1)[1]) for _ in range(count)]


def test_requests_from_another_process_get_their_responses(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "state.req")

    def handler(command: Command) -> Response:
        return Response(request_id=command.request_id, ok=True, result={"echo": command.command})

    with serving(address, handler), Peer("request", address, "a", "b", "c") as peer:
        got = responses(peer, 3)
    assert [r["request_id"] for r in got] == ["a", "b", "c"]
    assert all(r["ok"] and r["result"] == {"echo": "work"} for r in got)


def test_resent_and_repeated_requests_run_the_handler_once_per_request_id(
    tmp_path: Path,
) -> None:
    address = ipc_address(tmp_path, "state.req")
    calls: Counter[str] = Counter()

    def slow_handler(command: Command) -> Response:
        calls[command.request_id] += 1
        time.sleep(1.0)  # ten resend intervals: NNG re-sends the request meanwhile
        return Response(
            request_id=command.request_id, ok=True, result={"calls": calls[command.request_id]}
        )

    with (
        serving(address, slow_handler) as replier,
        Peer("request", address, "r1", "r1", "r2", "--resend", "0.1") as peer,
    ):
        got = responses(peer, 3)
        # A re-send held by NNG while the handler ran is only read after the reply went out,
        # so wait for it instead of reading the counters at once.
        # Under CPU load NNG may discard a queued re-send, so wait a little for one but require
        # only the deliberate repeat: the handler-ran-once assertions below are the point.
        deadline = time.monotonic() + 3.0
        while replier.stats.duplicates < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        stats = replier.stats
    assert [r["request_id"] for r in got] == ["r1", "r1", "r2"]
    assert [r["result"] for r in got] == [{"calls": 1}] * 3
    assert stats.duplicates >= 1  # the deliberate repeat, plus any NNG re-sends seen
    assert calls == {"r1": 1, "r2": 1}
    assert stats.handled == 2


def test_request_without_a_replier_times_out(tmp_path: Path) -> None:
    with Requester(ipc_address(tmp_path, "absent.req")) as req:
        started = time.monotonic()
        with pytest.raises(BusTimeout, match="no reply"):
            req.call("ping", timeout=0.3)
        assert time.monotonic() - started < WAIT


async def test_async_request_without_a_replier_times_out(tmp_path: Path) -> None:
    with (
        Requester(ipc_address(tmp_path, "absent.req")) as req,
        pytest.raises(BusTimeout, match="no reply"),
    ):
        await req.arequest(Command(request_id="x", command="ping"), timeout=0.3)


def test_malformed_requests_get_error_replies_and_the_replier_survives(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "state.req")

    def handler(command: Command) -> Response:
        return Response(request_id=command.request_id, ok=True, result="fine")

    with (
        serving(address, handler) as replier,
        pynng.Req0(recv_timeout=int(WAIT * 1000), send_timeout=int(WAIT * 1000)) as raw,
    ):
        raw.dial(address, block=False)
        raw.send(b"\xc1 not msgpack")
        garbage_reply = codec.decode_as(raw.recv(), Response)
        raw.send(msgspec.msgpack.encode({"type": "command", "request_id": "r9"}))  # no command
        invalid_reply = codec.decode_as(raw.recv(), Response)
        with Requester(address) as req:
            good = req.call("ping", timeout=WAIT)
        stats = replier.stats
    assert (garbage_reply.request_id, garbage_reply.ok) == ("unknown", False)
    assert "not a msgpack message" in garbage_reply.error
    assert (invalid_reply.request_id, invalid_reply.ok) == ("r9", False)
    assert "command" in invalid_reply.error
    assert good.ok
    assert good.result == "fine"
    assert stats.malformed == 2


def test_a_failing_handler_becomes_an_error_response(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "state.req")

    def handler(command: Command) -> Response:
        raise KeyError(command.args["missing"])

    with serving(address, handler) as replier, Requester(address) as req:
        response = req.call("lookup", {"present": 1}, timeout=WAIT)
        again = req.call("lookup", timeout=WAIT)  # the replier is still alive
    assert not response.ok
    assert response.error.startswith("KeyError")
    assert not again.ok
    assert replier.stats.errors == 2


async def test_async_serve_runs_async_handlers_for_async_requests(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "state.req")
    calls: Counter[str] = Counter()

    async def handler(command: Command) -> Response:
        calls[command.request_id] += 1
        await asyncio.sleep(0)
        return Response(request_id=command.request_id, ok=True, result=command.args["n"] * 2)

    replier = Replier(address, handler)
    server = asyncio.create_task(replier.aserve())
    try:
        with Requester(address) as req:
            results = [
                (
                    await req.arequest(
                        Command(request_id=f"q{n}", command="double", args={"n": n}), timeout=WAIT
                    )
                ).result
                for n in range(5)
            ]
            repeat = await req.arequest(
                Command(request_id="q3", command="double", args={"n": 100}), timeout=WAIT
            )
    finally:
        replier.close()
        await asyncio.wait_for(server, WAIT)
    assert results == [0, 2, 4, 6, 8]
    assert repeat.result == 6  # replayed from the cache, not recomputed with the new args
    assert calls == {f"q{n}": 1 for n in range(5)}


async def test_an_idle_async_replier_outlives_its_receive_timeout(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "idle.req")
    options = SocketOptions(recv_timeout_ms=100)
    replier = Replier(
        address, lambda c: Response(request_id=c.request_id, ok=True), options=options
    )
    server = asyncio.create_task(replier.aserve())
    try:
        await asyncio.sleep(0.5)  # several receive timeouts with no request
        assert not server.done()
        with Requester(address) as req:
            response = await req.arequest(Command(request_id="late", command="ping"), timeout=WAIT)
    finally:
        replier.close()
        await asyncio.wait_for(server, WAIT)
    assert response.ok

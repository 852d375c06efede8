"""Bus benchmark: the project's typed PUB/SUB path against raw pynng bytes, in one run.

The publisher always runs in another process (this script re-invoked with ``--role pub``).

1. burst: seed-format Price messages as fast as the publisher can go; the subscriber's receive
   rate is the capacity of the receive path (typed: encode → Publisher → Subscriber → decode,
   raw: pre-encoded bytes → Pub0 → Sub0 bytes). ``ratio_vs_raw`` = typed / raw.
2. paced: 20,000 msg/s through the asyncio ``add_reader`` path (AsyncSubscriber), counting loss
   via the sequence numbers and end-to-end latency (send → decoded on the loop; both sides use
   CLOCK_MONOTONIC, which is shared between processes).
3. prefix: CPU cost per published frame in the subscriber process, subscribed to one market of
   100 vs to everything.

Usage: ``python bench/bus.py [--quick]``. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

import pynng

from polybot.bus import codec
from polybot.bus.aio import AsyncSubscriber
from polybot.bus.ipc import DEFAULT_OPTIONS
from polybot.bus.messages import AnyMessage, Price
from polybot.bus.nng import Gap, Publisher, Subscriber
from polybot.core.errors import BusTimeout

MARKETS = [f"0x{i:064x}" for i in range(100)]


def make_prices(n: int = 1000) -> list[Price]:
    """Return ``n`` realistic seed-format prices (66-char condition ids, 77-digit token ids)."""
    prices = []
    for i in range(n):
        bid = round(0.01 + (i % 97) / 100, 2)
        prices.append(
            Price(
                market_id=MARKETS[i % len(MARKETS)],
                token_id=str(10**76 + i),
                bid=min(bid, 0.98),
                ask=min(bid + 0.01, 0.99),
                mid=min(bid + 0.005, 0.985),
                timestamp=1_764_000_000_000 + i,
            )
        )
    return prices


# ------------------------------------------------------------------------------------------
# publisher process


def run_publisher(args: argparse.Namespace) -> None:
    """Publish ``count`` prices (typed or raw) at ``rate`` (0: flat out); save send times."""
    prices = make_prices()
    pub = Publisher(args.address)
    pub.wait_for_peers(1, timeout=60)
    time.sleep(0.1)  # the subscriber's end of the pipe settles just after ours
    print("ready", flush=True)
    sent_ns = array("q", bytes(8 * args.count)) if args.times else None
    now = time.monotonic_ns
    if args.mode == "raw":
        frames = [codec.encode(codec.with_seq(p, i + 1)) for i, p in enumerate(prices)]
        send = pub.socket.send
        for i in range(args.count):
            send(frames[i % len(frames)])
    else:
        publish = pub.publish
        per_tick = max(args.rate // 1000, 1)
        start = time.monotonic()
        for i in range(args.count):
            if sent_ns is not None:
                sent_ns[i] = now()
            publish(prices[i % len(prices)])
            if args.rate and (i + 1) % per_tick == 0:
                ahead = start + (i + 1) / args.rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
    if sent_ns is not None:
        Path(args.times).write_bytes(sent_ns.tobytes())
    print("done", flush=True)
    sys.stdin.read()  # hold the socket open until the parent is finished
    pub.close()


class PublisherProcess:
    """This script as a publisher in a child process."""

    def __init__(self, address: str, mode: str, count: int, rate: int = 0, times: str = ""):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--role",
                "pub",
                "--address",
                address,
                "--mode",
                mode,
                "--count",
                str(count),
                "--rate",
                str(rate),
                "--times",
                times,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._pending = b""

    def wait_for(self, word: str, timeout: float = 120.0) -> None:
        """Block until the child prints ``word``."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if word in self.lines:
                self.lines.remove(word)
                return
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:  # os.read: a buffered readline could hide a second line from select()
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise RuntimeError("publisher exited early")
                self._pending += chunk
                *complete, self._pending = self._pending.split(b"\n")
                self.lines.extend(line.decode().strip() for line in complete)
        raise RuntimeError(f"publisher never said {word!r}")

    def stop(self) -> None:
        """Let the child close its socket and exit."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


# ------------------------------------------------------------------------------------------
# measurements (this process subscribes)


def burst_raw(address: str, count: int) -> tuple[float, int]:
    """Return (received msg/s, lost) for raw bytes through pynng."""
    sub = pynng.Sub0(
        topics=b"",
        recv_buffer_size=8192,
        recv_timeout=1000,
        reconnect_time_min=10,
        reconnect_time_max=100,
    )
    sub.dial(address, block=False)
    peer = PublisherProcess(address, "raw", count)
    try:
        peer.wait_for("ready")
        recv, clock = sub.recv, time.perf_counter
        received, first, last = 0, 0.0, 0.0
        while received < count:
            try:
                recv()
            except pynng.Timeout:
                break
            last = clock()
            if not received:
                first = last
            received += 1
    finally:
        peer.stop()
        sub.close()
    return (received - 1) / (last - first), count - received


def burst_typed(address: str, count: int) -> tuple[float, int]:
    """Return (received msg/s, lost) for typed messages through Publisher/Subscriber."""
    gaps: list[Gap] = []  # expected in a burst; collect instead of logging each one
    sub = Subscriber(address, on_gap=gaps.append)
    peer = PublisherProcess(address, "typed", count)
    try:
        peer.wait_for("ready")
        recv, clock = sub.recv, time.perf_counter
        received, first, last = 0, 0.0, 0.0
        while received < count:
            try:
                recv(1.0)
            except BusTimeout:
                break
            last = clock()
            if not received:
                first = last
            received += 1
    finally:
        peer.stop()
        sub.close()
    return (received - 1) / (last - first), count - received


async def paced_async(address: str, rate: int, seconds: float, workdir: Path) -> dict[str, Any]:
    """Publish at ``rate`` for ``seconds``; receive through AsyncSubscriber; loss and latency."""
    count = int(rate * seconds)
    recv_ns = array("q", bytes(8 * (count + 1)))
    now = time.monotonic_ns

    def on_message(message: AnyMessage) -> None:
        seq = message.seq  # type: ignore[union-attr]
        if seq <= count:
            recv_ns[seq] = now()

    times = workdir / "sent.bin"
    sub = AsyncSubscriber(address, callback=on_message)
    peer = PublisherProcess(address, "typed", count, rate, str(times))
    try:
        await asyncio.to_thread(peer.wait_for, "ready")
        cpu0 = time.process_time()
        await asyncio.to_thread(peer.wait_for, "done", seconds * 10 + 60)
        deadline = time.monotonic() + 5
        while sub.stats.received < count and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        cpu = time.process_time() - cpu0
        stats = sub.stats
    finally:
        sub.close()
        peer.stop()
    sent = array("q")
    sent.frombytes(times.read_bytes())
    latencies = sorted((recv_ns[i + 1] - sent[i]) / 1000 for i in range(count) if recv_ns[i + 1])
    return {
        "count": count,
        "received": stats.received,
        "lost": count - stats.received,
        "gaps": stats.gaps,
        "p50_us": _pct(latencies, 0.50),
        "p99_us": _pct(latencies, 0.99),
        "cpu_us_per_msg": cpu * 1e6 / max(stats.received, 1),
    }


def prefix_cost(address: str, rate: int, seconds: float) -> dict[str, float]:
    """CPU µs per *published* frame in this process: one market of 100 vs everything."""
    result: dict[str, float] = {}
    count = int(rate * seconds)
    for label, topics in (
        ("all", None),
        ("one_market", [codec.subscription_prefix(Price, MARKETS[0])]),
    ):
        sub = Subscriber(address, topics=topics, on_gap=lambda gap: None)
        peer = PublisherProcess(address, "typed", count, rate)
        try:
            peer.wait_for("ready")
            cpu0 = time.process_time()
            received = 0
            while True:
                try:
                    sub.recv(timeout=1.0)
                    received += 1
                except BusTimeout:
                    break
            # The idle second at the end costs (almost) no CPU: recv sleeps in NNG.
            result[f"{label}_cpu_us_per_frame"] = (time.process_time() - cpu0) * 1e6 / count
            result[f"{label}_received"] = received
        finally:
            peer.stop()
            sub.close()
    return result


def _pct(values: list[float], q: float) -> float:
    return round(values[min(int(len(values) * q), len(values) - 1)], 1) if values else -1.0


def main() -> None:
    """Run the benchmark (or the publisher role) and print the JSON summary last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages and rounds (<60 s)")
    parser.add_argument("--role", default="bench", choices=["bench", "pub"])
    parser.add_argument("--address", default="")
    parser.add_argument("--mode", default="typed", choices=["typed", "raw"])
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--rate", type=int, default=0)
    parser.add_argument("--times", default="")
    args = parser.parse_args()
    if args.role == "pub":
        run_publisher(args)
        return

    burst, rounds, paced_s = (100_000, 3, 2.0) if args.quick else (200_000, 5, 5.0)
    workdir = Path(tempfile.mkdtemp(prefix="pbbench-"))
    address = f"ipc://{workdir}/ipc/bench.pub"
    assert DEFAULT_OPTIONS.buffer_size == 8192
    try:
        raw_runs, typed_runs = [], []
        for _ in range(rounds):  # interleaved, so both see the same background load
            raw_runs.append(burst_raw(address, burst))
            typed_runs.append(burst_typed(address, burst))
        raw_rate, raw_lost = max(raw_runs)
        typed_rate, typed_lost = max(typed_runs)
        print(f"burst of {burst:,} Price msgs, best of {rounds} (publisher in another process)")
        print(f"  raw pynng bytes      : {raw_rate:10,.0f} msg/s received ({raw_lost:,} dropped)")
        print(
            f"  typed bus (decode)   : {typed_rate:10,.0f} msg/s received ({typed_lost:,} dropped)"
        )
        print(f"  ratio typed/raw      : {typed_rate / raw_rate:.2f}")
        paced = asyncio.run(paced_async(address, 20_000, paced_s, workdir))
        print(f"paced 20,000 msg/s for {paced_s:g} s through AsyncSubscriber (add_reader):")
        print(
            f"  received {paced['received']:,}/{paced['count']:,}, lost {paced['lost']}, "
            f"gaps {paced['gaps']}, latency p50 {paced['p50_us']} µs p99 {paced['p99_us']} µs, "
            f"{paced['cpu_us_per_msg']:.1f} µs CPU per message"
        )
        prefix = prefix_cost(address, 10_000, 1.0 if args.quick else 3.0)
        print("prefix subscription, 10,000 msg/s over 100 markets, CPU per published frame:")
        print(
            f"  everything  : {prefix['all_cpu_us_per_frame']:.2f} µs "
            f"({prefix['all_received']:,.0f} decoded)"
        )
        print(
            f"  one market  : {prefix['one_market_cpu_us_per_frame']:.2f} µs "
            f"({prefix['one_market_received']:,.0f} decoded)"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        json.dumps(
            {
                "bench": "bus",
                "quick": args.quick,
                "burst": burst,
                "msgs_per_s": round(typed_rate),
                "raw_msgs_per_s": round(raw_rate),
                "ratio_vs_raw": round(typed_rate / raw_rate, 3),
                "lost": typed_lost,
                "p50_us": paced["p50_us"],
                "p99_us": paced["p99_us"],
                "paced_rate": 20_000,
                "paced_lost": paced["lost"],
                "paced_gaps": paced["gaps"],
                "paced_cpu_us_per_msg": round(paced["cpu_us_per_msg"], 1),
                "prefix_all_cpu_us_per_frame": round(prefix["all_cpu_us_per_frame"], 2),
                "prefix_one_market_cpu_us_per_frame": round(
                    prefix["one_market_cpu_us_per_frame"], 2
                ),
            }
        )
    )


if __name__ == "__main__":
    main()

"""Does a kernel subscribed to the whole universe at >= 10k msg/s stay responsive?

A publisher process streams ``Price`` messages over ipc for 600 tokens (300 markets) at
``--rate`` msg/s. A real Jupyter kernel (jupyter_client) first runs a trivial cell many times
with no subscription (baseline), then creates a whole-universe ``LiveFeed`` with a live table
and runs the same cell again while the feed drains on the kernel's loop. Printed: the cell's
round-trip time p50/p99 in both phases, what the feed received, gaps and the achieved rate.
The last line is one JSON object ``{"bench": "notebook", ...}``.

    python bench/notebook.py [--quick] [--rate 12000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
MARKETS = 300


def publish(address: str, rate: float, seconds: float) -> None:
    """Publisher role (runs in a child process): paced prices round-robin over the universe."""
    from polybot.bus.messages import Price
    from polybot.bus.nng import Publisher

    pub = Publisher(address)
    tokens = [(f"0x{m:064x}", f"{m * 2 + o:077d}") for m in range(MARKETS) for o in range(2)]
    messages = [
        Price(market_id=mk, token_id=tk, bid=0.40, ask=0.42, mid=0.41, timestamp=1_800_000_000_000)
        for mk, tk in tokens
    ]
    print("ready", flush=True)
    pub.wait_for_peers(1, timeout=120)
    start = time.monotonic()
    sent = 0
    while time.monotonic() - start < seconds:
        target = int((time.monotonic() - start) * rate)
        while sent < target:
            pub.publish(messages[sent % len(messages)])
            sent += 1
        time.sleep(0.001)
    print(json.dumps({"sent": sent, "seconds": time.monotonic() - start}), flush=True)
    time.sleep(0.5)
    pub.close()


def cell_times(client: object, code: str, count: int) -> list[float]:
    """Return the round-trip seconds of ``count`` executions of ``code``."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        reply = client.execute_interactive(  # type: ignore[attr-defined]
            code, store_history=False, timeout=60, output_hook=lambda message: None
        )
        times.append(time.perf_counter() - start)
        assert reply["content"]["status"] == "ok", reply["content"]
    return times


def percentile(values: list[float], q: float) -> float:
    """Return the q-quantile (0..1) of ``values``."""
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def run(rate: float, cells: int, seconds: float) -> dict[str, object]:
    """Run both phases and return the results."""
    from jupyter_client.manager import start_new_kernel

    folder = Path(tempfile.mkdtemp(prefix="pbbench", dir="/tmp"))
    address = f"ipc://{folder}/prices.pub"
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(REPO_ROOT))
    publisher = None
    try:
        client.execute_interactive("import polybot.notebook, ipywidgets", timeout=120)
        baseline = cell_times(client, "1 + 1", cells)
        publisher = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--publish",
                address,
                "--rate",
                str(rate),
                "--seconds",
                str(seconds),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
        )
        assert publisher.stdout is not None
        publisher.stdout.readline()  # "ready"
        client.execute_interactive(
            "from polybot.notebook import LiveFeed\n"
            f"feed = LiveFeed({address!r}, refresh_s=0.5)\n"
            "table = feed.table()  # a live view redrawn by the feed's timer",
            timeout=60,
        )
        # Let the stream reach full speed before measuring.
        client.execute_interactive(
            "import asyncio, time\n"
            "t = time.monotonic()\n"
            "while feed.status.received < 5000 and time.monotonic() - t < 60:\n"
            "    await asyncio.sleep(0.05)",
            timeout=120,
        )
        start_count = json.loads(_value(client, "feed.status.received"))
        started = time.monotonic()
        subscribed = cell_times(client, "1 + 1", cells)
        elapsed = time.monotonic() - started
        end = json.loads(
            _value(
                client,
                "[feed.status.received, feed.status.gaps, feed.status.missed, len(feed.prices)]",
            )
        )
        result = json.loads(publisher.stdout.readline())
    finally:
        if publisher is not None:
            publisher.kill()
            publisher.wait()
        client.stop_channels()
        manager.shutdown_kernel(now=True)
        shutil.rmtree(folder, ignore_errors=True)
    received_during = end[0] - start_count
    return {
        "bench": "notebook",
        "rate_target": rate,
        "rate_received": round(received_during / elapsed) if elapsed else 0,
        "tokens": end[3],
        "gaps": end[1],
        "missed": end[2],
        "cells": cells,
        "cell_p50_ms_idle": round(statistics.median(baseline) * 1000, 2),
        "cell_p99_ms_idle": round(percentile(baseline, 0.99) * 1000, 2),
        "cell_p50_ms_subscribed": round(statistics.median(subscribed) * 1000, 2),
        "cell_p99_ms_subscribed": round(percentile(subscribed, 0.99) * 1000, 2),
        "published": result["sent"],
    }


def _value(client: object, expression: str) -> str:
    """Return ``json.dumps(expression)`` evaluated in the kernel."""
    outputs: list[str] = []

    def hook(message: dict[str, object]) -> None:
        content = message["content"]
        if isinstance(content, dict) and content.get("name") == "stdout":
            outputs.append(str(content["text"]))

    client.execute_interactive(  # type: ignore[attr-defined]
        f"import json; print(json.dumps({expression}))",
        output_hook=hook,
        timeout=60,
    )
    return "".join(outputs).strip()


def main() -> None:
    """Parse arguments and run (or act as the publisher child)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer cells (< 60 s)")
    parser.add_argument("--rate", type=float, default=12_000.0)
    parser.add_argument("--publish", metavar="ADDRESS")
    parser.add_argument("--seconds", type=float, default=0.0)
    args = parser.parse_args()
    if args.publish:
        publish(args.publish, args.rate, args.seconds)
        return
    cells = 100 if args.quick else 400
    # Long enough to cover the subscribed phase (a cell takes a few ms) with margin.
    seconds = 25.0 if args.quick else 90.0
    os.environ.setdefault("PYTHONPATH", str(REPO_ROOT))
    result = run(args.rate, cells, seconds)
    print(
        f"trivial cell, no subscription:     p50 {result['cell_p50_ms_idle']} ms, "
        f"p99 {result['cell_p99_ms_idle']} ms"
    )
    print(
        f"trivial cell, whole universe feed: p50 {result['cell_p50_ms_subscribed']} ms, "
        f"p99 {result['cell_p99_ms_subscribed']} ms "
        f"(feed {result['rate_received']:,} msg/s over {result['tokens']} tokens, "
        f"gaps {result['gaps']}, missed {result['missed']})"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()

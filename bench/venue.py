"""Benchmark the local venue: WS fan-out with >= 5,000 markets and POST /order round trips.

Starts ``polybot sim`` in a subprocess (so the server's CPU is measured on its own), then

1. subscribes every asset of every market over several market-channel sockets (<= 500 assets
   each, as the real venue advises) and counts the book messages the background flow produces
   over a window — messages/s received and the server process's CPU % over that window;
2. posts pre-signed resting orders one at a time from a single client and reports the POST /order
   round-trip latency p50/p99 (signing is done before the clock starts: this measures the venue).

Rate limits are switched off through the admin API for part 2: the per-signer Standard tier
(40 orders/s) would otherwise turn the measurement into a 429 test.

    .venv/bin/python bench/venue.py --quick      # < 60 s
    .venv/bin/python bench/venue.py              # longer windows, more orders

The last line printed is one JSON object:
``{"bench":"venue","markets":…,"ws_msgs_per_s":…,"server_cpu_pct":…,"order_rtt_p50_ms":…,
"order_rtt_p99_ms":…}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from polybot.localvenue.server.harness import LocalTrader

ASSETS_PER_SOCKET = 500
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def _start_server(
    markets: int, flow_rate: float, data_dir: str
) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from polybot.cli.main import run; run()",
            "sim",
            "--port",
            "0",
            "--markets",
            str(markets),
            "--flow-rate",
            str(flow_rate),
            "--data-dir",
            data_dir,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=data_dir,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        found = re.search(r"listening on (http://[\d.]+:\d+)", line)
        if found:
            return process, found.group(1)
    process.kill()
    raise RuntimeError("the venue did not start")


def _all_assets(http: httpx.Client) -> list[str]:
    assets: list[str] = []
    cursor = "MA=="
    while cursor != "LTE=":
        page = http.get("/simplified-markets", params={"next_cursor": cursor}).json()
        assets.extend(t["token_id"] for m in page["data"] for t in m["tokens"])
        cursor = page["next_cursor"]
    return assets


async def _stream(ws_url: str, assets: list[str], window_s: float, pid: int) -> tuple[int, float]:
    counts = {"book": 0, "other": 0}
    chunks = [assets[i : i + ASSETS_PER_SOCKET] for i in range(0, len(assets), ASSETS_PER_SOCKET)]
    measuring = asyncio.Event()

    async def reader(chunk: list[str]) -> None:
        async with connect(ws_url + "/ws/market", max_size=None) as ws:
            await ws.send(json.dumps({"type": "market", "assets_ids": chunk}))
            while True:
                data = json.loads(await ws.recv())
                events = data if isinstance(data, list) else [data]
                if measuring.is_set():
                    counts["other"] += len(events)

    tasks = [asyncio.create_task(reader(chunk)) for chunk in chunks]
    await asyncio.sleep(3.0)  # let the initial snapshots drain before measuring
    cpu0, t0 = _cpu_seconds(pid), time.monotonic()
    measuring.set()
    await asyncio.sleep(window_s)
    measuring.clear()
    cpu1, t1 = _cpu_seconds(pid), time.monotonic()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return counts["other"], (cpu1 - cpu0) / (t1 - t0) * 100


def _order_rtts(http: httpx.Client, n: int) -> tuple[list[float], int]:
    """Time ``n`` sequential POST /order round trips; return (RTTs in ms, rejected count).

    The background flow keeps resolving markets, so an order can land on one that closed after
    the list was read: its round trip still counts, and the rejection is counted, not fatal.
    """
    http.post("/_polybot/admin/ratelimits", json={"ip_enabled": False, "signer_enabled": False})
    trader = LocalTrader(http, fund="1000000")
    v1 = {
        m["conditionId"]
        for m in http.get("/gamma/markets", params={"limit": 500, "version": "v1"}).json()
    }
    markets = [
        m
        for m in http.get("/markets").json()["data"]
        if m["condition_id"] in v1 and m["accepting_orders"] and not m["closed"]
    ]
    signed: list[bytes] = []
    for i in range(n):
        market = markets[i % len(markets)]
        order = trader.order(
            market,
            price=float(market["minimum_tick_size"]),
            size=max(5.0, float(market["minimum_order_size"])),
        )
        signed.append(json.dumps(order, separators=(",", ":")).encode())
    from polybot.venues.polymarket import auth

    rtts, rejected = [], 0
    for body in signed:
        headers = auth.l2_headers(trader.address, trader.creds, "POST", "/order", body)
        start = time.perf_counter()
        response = http.post("/order", content=body, headers=headers)
        rtts.append((time.perf_counter() - start) * 1000)
        rejected += response.status_code != 200 or not response.json().get("success", False)
    if rejected > n // 10:
        raise RuntimeError(f"{rejected} of {n} orders rejected: the venue is not healthy")
    return rtts, rejected


def main() -> None:
    """Run the benchmark and print the JSON summary last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short windows (< 60 s in total)")
    parser.add_argument("--markets", type=int, default=5000)
    parser.add_argument(
        "--flow-rate",
        type=float,
        default=20.0,
        help="background flow actions per second (drives book updates)",
    )
    args = parser.parse_args()
    window_s, n_orders = (8.0, 400) if args.quick else (30.0, 3000)

    with tempfile.TemporaryDirectory() as data_dir:
        process, url = _start_server(args.markets, args.flow_rate, data_dir)
        try:
            with httpx.Client(base_url=url, timeout=30) as http:
                markets = http.get("/_polybot/admin/state").json()["markets"]
                assets = _all_assets(http)
                print(
                    f"venue {url}: {markets} markets, {len(assets)} assets, flow {args.flow_rate}/s"
                )
                received, cpu = asyncio.run(
                    _stream(url.replace("http", "ws", 1), assets, window_s, process.pid)
                )
                msgs_per_s = received / window_s
                print(
                    f"ws: {received} messages in {window_s:.0f} s over "
                    f"{-(-len(assets) // ASSETS_PER_SOCKET)} sockets = {msgs_per_s:,.0f} msg/s; "
                    f"server CPU {cpu:.0f}%"
                )
                rtts, rejected = _order_rtts(http, n_orders)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()  # our own child; a saturated loop may ignore SIGINT for long
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
    p50 = statistics.median(rtts)
    p99 = statistics.quantiles(rtts, n=100)[98]
    print(
        f"orders: {n_orders} sequential POST /order, p50 {p50:.2f} ms, p99 {p99:.2f} ms "
        f"({rejected} landed on markets that resolved meanwhile)"
    )
    summary: dict[str, Any] = {
        "bench": "venue",
        "markets": markets,
        "ws_msgs_per_s": round(msgs_per_s, 1),
        "server_cpu_pct": round(cpu, 1),
        "order_rtt_p50_ms": round(p50, 3),
        "order_rtt_p99_ms": round(p99, 3),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

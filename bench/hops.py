"""Per-hop latency of the market-data path: venue WebSocket → scanner → ``prices.pub`` → runner
(a strategy) → ``signals.push``, without the executor, next to raw pynng hops in the same run.

The stack is the venue, the scanner and the runner under the real supervisor; this script plays
the executor's part only as far as the bus goes: its tap process *listens* on ``signals.push``
(PULL), so every signal the runner sends lands there and nowhere else. Same method as
``bench/tick_to_order.py`` (whose relay, tap, ``Echo`` strategy and pairing it reuses):

* ``t0`` — a TCP relay child process reads the clock right before each venue→scanner chunk is
  written to the scanner's socket (the WebSocket messages are parsed after the run);
* ``t_bus`` — the tap child process reads it the moment a book/delta frame arrives on its SUB;
* ``t_signal`` — the same tap, the moment the runner's signal arrives on its PULL.

All three are ``CLOCK_MONOTONIC`` (``time.monotonic_ns``), one clock for every process on Linux.

Reported, each as p50/p90/p99/max: the **scanner hop** (``t_bus − t0``), the **runner hop**
(``t_signal − t_bus``) and both; how many book updates one WebSocket message carried and the
scanner hop of the first vs the last update of a message (the venue batches: the last update of
a big message waits for all before it); the CPU each process spent per update. The baseline,
measured in the same run after the stack stops: raw pynng PUB→SUB one way, and PUB→SUB→PUSH→PULL
through a child process — the two bus hops the runner hop contains, with no Python work between.

Usage: ``python bench/hops.py [--quick] [--seconds S] [--flow-rate R]``; the last line is one
JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from tick_to_order import (
    Relay,
    Stack,
    Tap,
    _free_port,
    clean,
    cpu_ms,
    cpu_per_event,
    group_counts,
    join,
    latencies,
    load_average,
    raw_hops,
    size_keys,
    stats,
    update_keys,
)
from tick_to_order import stack_env as _stack_env


def run(seconds: float, flow_rate: float, root: Path) -> dict[str, Any]:
    """Bring venue + scanner + runner up, measure for ``seconds``, bring them down."""
    venue_port = _free_port()
    relay = Relay(root, venue_port)
    env = _stack_env(root, venue_port, relay)
    env.pop("POLYBOT_VENUE__CLOB_URL")  # no executor: REST goes straight to the venue
    stack: Stack | None = None
    tap: Tap | None = None
    try:
        tap = Tap(
            root,
            prices=f"prices:{env['POLYBOT_BUS__PRICES_PUB']}",
            signals=f"pull:{env['POLYBOT_BUS__SIGNALS_PUSH']}",
            # No executor: without a publisher on events.pub the runner's SUB would redial it
            # every 100 ms, which costs it CPU a real stack does not spend.
            events=f"pub:{env['POLYBOT_BUS__EVENTS_PUB']}",
        )
        stack = Stack(env, {"venue", "scanner", "runner"}, flow_rate)
        stack.add_echo()
        time.sleep(3)  # the runner polls its configs every second; let the first book storm pass
        pids = {**stack.pids(), "relay": relay.pid, "tap": tap.pid}
        start, cpu_before, load_before = time.monotonic_ns(), cpu_ms(pids), load_average()
        time.sleep(seconds)
        end, cpu_after, load_after = time.monotonic_ns(), cpu_ms(pids), load_average()
    finally:
        if tap is not None:
            tap.stop()
        if stack is not None:
            stack.down()
        relay.stop()
    seen = relay.log()
    taps = tap.records()
    raw_updates = [(t0, token, ts) for token, ts, t0 in seen.updates]
    frames = update_keys(raw_updates)
    books = update_keys(taps["prices"])
    frames = clean(frames, group_counts(raw_updates), group_counts(taps["prices"]))
    signals = size_keys(taps["signals"])
    scanner, _ = join(frames, books)
    runner, _ = join(books, signals)
    both, unpaired = join(frames, signals)
    scanner_ms = latencies(scanner, start, end)
    # Updates per WebSocket message (messages that came in one TCP read count as one), and the
    # scanner hop of its first and last update: the venue batches, so the last one waits longest.
    by_message: dict[int, list[float]] = defaultdict(list)
    for t0, t_bus in scanner:
        if start <= t_bus <= end:
            by_message[t0].append((t_bus - t0) / 1e6)
    sizes = [len(v) for v in by_message.values()]
    measured = len(scanner_ms)
    return {
        "updates": measured,
        "unpaired_signals": unpaired,
        "scanner": stats(scanner_ms),
        "runner": stats(latencies(runner, start, end)),
        "scanner_and_runner": stats(latencies(both, start, end)),
        "updates_per_message": stats([float(n) for n in sizes]),
        "scanner_first_update": stats([min(v) for v in by_message.values()]),
        "scanner_last_update": stats([max(v) for v in by_message.values()]),
        "scanner_single_update_messages": stats([v[0] for v in by_message.values() if len(v) == 1]),
        "cpu_ms_per_update": cpu_per_event(cpu_before, cpu_after, measured),
        "load_avg": [load_before, load_after],
    }


def main() -> int:
    """Run the benchmark; print a summary and, last, one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 30 s in all")
    parser.add_argument("--seconds", type=float, default=0.0, help="how long to measure")
    parser.add_argument("--flow-rate", type=float, default=0.0, help="venue actions per second")
    parser.add_argument("--keep", action="store_true", help="keep the run's files (printed)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    seconds = args.seconds or (12.0 if args.quick else 120.0)
    flow_rate = args.flow_rate or 15.0
    root = Path(tempfile.mkdtemp(prefix="pbhops-"))
    try:
        started = time.monotonic()
        result = run(seconds, flow_rate, root)
        raw = raw_hops(max(result["updates"], 300), root)
        elapsed = time.monotonic() - started
    finally:
        if args.keep:
            print(f"files kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    raw_stats = {name: stats(values) for name, values in raw.items()}
    base = {"scanner": raw_stats["pub_sub"], "runner": raw_stats["round_trip"]}
    ratios = {
        hop: {
            q: round(result[hop][q] / base[hop][q], 1) if result[hop][q] and base[hop][q] else None
            for q in ("p50", "p99")
        }
        for hop in base
    }
    summary = {
        "bench": "hops",
        **result,
        "raw_ms": raw_stats,
        "ratio_vs_raw": ratios,
    }
    print(
        f"book updates measured: {result['updates']} ({elapsed:.0f} s in all); "
        f"load average {result['load_avg'][0]} → {result['load_avg'][1]}"
    )
    for name in (
        "scanner",
        "runner",
        "scanner_and_runner",
        "scanner_first_update",
        "scanner_last_update",
        "scanner_single_update_messages",
    ):
        s = result[name]
        if not s["n"]:
            continue
        print(
            f"  {name:<31} p50 {s['p50']}  p90 {s['p90']}  p99 {s['p99']}  max {s['max']} ms"
            f"  (n {s['n']})"
        )
    u = result["updates_per_message"]
    print(f"  book updates per WS message: p50 {u['p50']}  p90 {u['p90']}  max {u['max']}")
    print(
        "raw pynng (bytes, between two processes): "
        + "; ".join(f"{n} p50 {s['p50']} / p99 {s['p99']} ms" for n, s in raw_stats.items())
    )
    print(
        f"scanner hop = {ratios['scanner']['p50']}× (p50) / {ratios['scanner']['p99']}× (p99) a raw "
        f"PUB→SUB; runner hop = {ratios['runner']['p50']}× / {ratios['runner']['p99']}× a raw "
        "PUB→SUB→PUSH→PULL"
    )
    print(
        "CPU ms per update: "
        + ", ".join(f"{k} {v}" for k, v in sorted(result["cpu_ms_per_update"].items()))
    )
    print(json.dumps(summary))
    return 0 if result["updates"] else 1


if __name__ == "__main__":
    sys.exit(main())

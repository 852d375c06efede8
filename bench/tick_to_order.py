"""Tick-to-order latency: a book change leaving the venue's market WebSocket for the scanner, to
the order it causes arriving at the venue's ``POST /order`` — through the scanner, a strategy in
the runner and the executor, all real processes under the real supervisor, on the local venue.

How it is measured, without touching any service: this script sits between the stack and the
local venue as two thin proxies in one background thread — the scanner's market WebSocket
(``venue.ws_market_url``) and the executor's CLOB (``venue.clob_url``). ``t0`` is taken just
before a venue frame is handed to the scanner's socket, ``t1`` when a ``POST /order`` reaches
the proxy; both on this process's monotonic clock. The proxies' own forwarding cost lies outside
``t1 − t0`` (after ``t1``, before ``t0``).

The strategy (``Echo`` below, hosted by the runner) answers every book update with a FOK BUY at
0.01 (or the market's tick when that is coarser) — it never fills, so nothing accumulates — whose share count is ``100 + ts % 60000`` where
``ts`` is the update's venue timestamp (ms). The proxy decodes it from the order's amounts and
pairs the order with the latest frame of that token with that timestamp residue.

Next to it: the same number of raw pynng round trips through the same two hops (PUB→SUB in a
child process, then PUSH→PULL back), bytes only, measured in the same run after the stack stops.

Usage: ``python bench/tick_to_order.py [--quick] [--events N]``; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from bisect import bisect_left
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from polybot.strategies.base import BookView, Context, Strategy, StrategyConfig

MODULUS = 60_000  # ts residue carried in the order size: pairs stay unambiguous up to 60 s
BASE_SHARES = 100  # × 0.01 = $1: the executor's minimum for a marketable (FOK) BUY
CENT = Decimal("0.01")
BUS = (
    "prices_pub",
    "events_pub",
    "api_pub",
    "state_req",
    "signals_push",
    "analytics_req",
    "strategy_logs_req",
    "runner_pub",
    "snapshots_req",
)


class EchoConfig(StrategyConfig, frozen=True, kw_only=True):
    """No parameters: the bench strategy reacts to every book update of every token."""


class Echo(Strategy):
    """Answer each book update with a FOK BUY far below the ask; its size encodes the update's ts."""

    Config = EchoConfig

    def on_start(self, ctx: Context) -> None:
        """Subscribe to every token."""
        ctx.subscribe(None)

    def on_book(self, ctx: Context, book: BookView) -> None:
        """Send the order for this update."""
        shares = BASE_SHARES + book.timestamp_ms % MODULUS
        # Far below any ask, so the FOK is killed unfilled; on the grid of every tick size.
        price = max(ctx.market(book.token_id).tick_size or CENT, CENT)
        ctx.buy(book.token_id, shares, price, order_type="FOK", reason="bench")


# ---- the proxies (run in their own thread and loop) -----------------------------------------


class Recorder:
    """What the proxies saw: venue frames per token and order arrivals."""

    def __init__(self) -> None:
        self.frames: dict[str, list[tuple[int, int]]] = defaultdict(list)  # token → [(t0, ts)]
        self.orders: list[tuple[int, str, int]] = []  # (t1, token, shares)
        self.lock = threading.Lock()

    def frame(self, t0: int, raw: str | bytes) -> None:
        """Note each token a venue frame (book or price_change) was about, with its timestamp."""
        try:
            data = json.loads(raw)
        except ValueError:
            return
        for event in data if isinstance(data, list) else [data]:
            if not isinstance(event, dict):
                continue
            ts = int(event.get("timestamp") or 0)
            assets = {c.get("asset_id") for c in event.get("price_changes", [])}
            assets.add(event.get("asset_id"))
            with self.lock:
                for asset in assets - {None}:
                    self.frames[str(asset)].append((t0, ts))

    def order(self, t1: int, body: bytes) -> None:
        """Note an order POST: its token and share count (which carries the update's ts)."""
        try:
            order = json.loads(body)["order"]
            shares = round(int(order["takerAmount"]) / 1_000_000)
            token = str(order["tokenId"])
        except (ValueError, KeyError, TypeError):
            return
        with self.lock:
            self.orders.append((t1, token, shares))

    def pairs(self, skip: int) -> tuple[list[tuple[str, int, int, int, int]], int]:
        """Pair each order with its frame: ``[(token, ts, shares, t0, t1)]`` and the unpaired."""
        out: list[tuple[str, int, int, int, int]] = []
        unpaired = 0
        with self.lock:
            orders = sorted(self.orders)[skip:]
            frames = {k: list(v) for k, v in self.frames.items()}
        for t1, token, shares in orders:
            residue = shares - BASE_SHARES
            seen = frames.get(token, [])
            end = bisect_left(seen, (t1, 0))
            match = next(
                ((t, ts) for t, ts in reversed(seen[:end]) if ts % MODULUS == residue), None
            )
            if match is None or t1 - match[0] > 55_000_000_000:
                unpaired += 1  # e.g. an update that came from a REST snapshot, not the socket
                continue
            out.append((token, match[1], shares, match[0], t1))
        return out, unpaired


class BusTap:
    """Where the time goes: when each book reached ``prices.pub`` and each signal was accepted.

    Reads the scanner's PUB and the executor's fate events from a thread of this process (same
    clock as the proxies); an extra subscriber costs the publishers next to nothing.
    """

    def __init__(self, prices_addr: str, events_addr: str) -> None:
        from polybot.bus import codec
        from polybot.bus.messages import BookDelta, BookSnapshot, Event
        from polybot.bus.nng import Subscriber

        self.books: dict[tuple[str, int], int] = {}
        self.accepted: dict[tuple[str, int], list[int]] = defaultdict(list)
        self._stop = threading.Event()
        self._prices = Subscriber(
            prices_addr,
            topics=[codec.subscription_prefix(BookDelta), codec.subscription_prefix(BookSnapshot)],
        )
        self._events = Subscriber(events_addr, topics=[codec.subscription_prefix(Event)])
        self._threads = [
            threading.Thread(target=self._read, args=(sub,), daemon=True)
            for sub in (self._prices, self._events)
        ]
        for thread in self._threads:
            thread.start()

    def _read(self, sub: Any) -> None:
        from polybot.bus.messages import BookDelta, BookSnapshot, Event
        from polybot.core.errors import BusError

        while not self._stop.is_set():
            try:
                message = sub.recv(timeout=0.2)
            except BusError:
                continue
            now = time.perf_counter_ns()
            if isinstance(message, BookDelta | BookSnapshot):
                self.books.setdefault((message.token_id, message.timestamp), now)
            elif isinstance(message, Event) and message.event_type == "signal_accepted":
                key = (str(message.data.get("token_id")), round(float(message.data["size"])))
                self.accepted[key].append(now)

    def close(self) -> None:
        """Stop reading and close both sockets."""
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self._prices.close()
        self._events.close()

    def segments(self, pairs: list[tuple[str, int, int, int, int]]) -> dict[str, float]:
        """Return median ms of venue→prices.pub, prices.pub→accepted, accepted→POST."""
        bus, accept, post = [], [], []
        for token, ts, shares, t0, t1 in pairs:
            t_bus = self.books.get((token, ts))
            t_acc = max(
                (t for t in self.accepted.get((token, shares), []) if t <= t1), default=None
            )
            if t_bus is None or t_acc is None or not t0 <= t_bus <= t_acc:
                continue
            bus.append((t_bus - t0) / 1e6)
            accept.append((t_acc - t_bus) / 1e6)
            post.append((t1 - t_acc) / 1e6)
        med = statistics.median
        return {
            "venue_to_prices_pub": med(bus) if bus else float("nan"),
            "prices_pub_to_accepted": med(accept) if accept else float("nan"),
            "accepted_to_post": med(post) if post else float("nan"),
            "samples": float(len(bus)),
        }


async def _serve_proxies(
    recorder: Recorder,
    venue: str,
    ws_port: int,
    http_port: int,
    ready: threading.Event,
    stop: asyncio.Event,
) -> None:
    import httpx
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    client = httpx.AsyncClient(base_url=f"http://{venue}", timeout=30)
    hop_by_hop = {"content-length", "transfer-encoding", "connection", "content-encoding", "host"}

    async def forward(request: Request) -> Response:
        arrived = time.perf_counter_ns()
        body = await request.body()
        if request.method == "POST" and request.url.path == "/order":
            recorder.order(arrived, body)
        upstream = await client.request(
            request.method,
            request.url.path,
            params=request.query_params,
            content=body,
            headers={k: v for k, v in request.headers.items() if k.lower() not in hop_by_hop},
        )
        headers = {k: v for k, v in upstream.headers.items() if k.lower() not in hop_by_hop}
        return Response(upstream.content, upstream.status_code, headers)

    methods = ["GET", "POST", "DELETE", "PUT", "PATCH"]
    app = Starlette(routes=[Route("/{path:path}", forward, methods=methods)])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=http_port, log_level="warning", lifespan="off")
    )

    async def relay(downstream: ServerConnection) -> None:
        path = downstream.request.path if downstream.request else "/ws/market"
        async with connect(f"ws://{venue}{path}", max_size=None) as upstream:

            async def up() -> None:
                async for message in downstream:
                    await upstream.send(message)

            task = asyncio.create_task(up())
            try:
                async for message in upstream:
                    t0 = time.perf_counter_ns()
                    await downstream.send(message)
                    recorder.frame(t0, message)
            except ConnectionClosed:
                pass  # the scanner went away (the stack is stopping)
            finally:
                task.cancel()

    async with serve(relay, "127.0.0.1", ws_port, max_size=None):
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
            await asyncio.sleep(0.01)
        ready.set()
        await stop.wait()
        server.should_exit = True
        await serving
    await client.aclose()


class Proxies:
    """Run the two proxies on a background loop."""

    def __init__(self, venue: str) -> None:
        self.recorder = Recorder()
        self.ws_port, self.http_port = _free_port(), _free_port()
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        ready = threading.Event()
        coro = _serve_proxies(self.recorder, venue, self.ws_port, self.http_port, ready, self._stop)
        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(coro,), daemon=True
        )
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("the proxies did not start")

    def close(self) -> None:
        """Stop both proxies and their loop."""
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


# ---- the stack --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _percentile(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def run_stack(
    events: int, flow_rate: float, root: Path
) -> tuple[list[float], int, int, dict[str, float]]:
    """Bring the stack up behind the proxies, collect ``events`` orders, bring it down."""
    from polybot.config import load_settings
    from polybot.stack import control
    from polybot.stack.plan import StackPlan, default_plan
    from polybot.statecmd.files import StrategyModes, write_strategy_modes
    from polybot.storage.models import StrategyConfig as ConfigRow
    from polybot.storage.sqlite import make_engine, make_session_factory

    venue_port = _free_port()
    venue = f"127.0.0.1:{venue_port}"
    proxies = Proxies(venue)
    env = {
        "POLYBOT_DATA_DIR": str(root / "data"),
        "POLYBOT_EXECUTOR_MODE": "live",
        "POLYBOT_VENUE__LOCAL_PORT": str(venue_port),
        # Enough markets that resolutions (the venue resolves some as time goes by) leave plenty.
        "POLYBOT_VENUE__LOCAL_MARKETS": "20",
        "POLYBOT_VENUE__WS_MARKET_URL": f"ws://127.0.0.1:{proxies.ws_port}/ws/market",
        "POLYBOT_VENUE__CLOB_URL": f"http://127.0.0.1:{proxies.http_port}",
        "POLYBOT_LOG_LEVEL": "WARNING",
        # Sizes carry the timestamp residue (up to 60,100 shares × ≤ 0.1): lift the notional
        # limits and fund the wallet so the risk gate passes every bench order to the venue.
        "POLYBOT_RISK__MAX_ORDER_NOTIONAL": "1000000",
        "POLYBOT_RISK__MAX_MARKET_POSITION": "1000000",
        "POLYBOT_RISK__MAX_TOTAL_EXPOSURE": "1000000",
        "POLYBOT_RISK__MAX_EVENT_EXPOSURE": "1000000",
        "POLYBOT_VENUE__LOCAL_FUND_USDC": "100000000",  # per-request INFO lines would cost CPU on the hot path
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parent), os.environ.get("PYTHONPATH", "")]
        ),
        **{f"POLYBOT_BUS__{n.upper()}": f"ipc://{root}/ipc/{n}" for n in BUS},
    }
    os.environ.update(env)
    settings = load_settings()
    full = default_plan(settings)
    wanted = {"venue", "executor", "scanner", "runner"}  # the path under test, nothing else
    services = []
    for spec in full.services:
        if spec.name == "venue":
            spec = msgspec.structs.replace(spec, argv=[*spec.argv, "--flow-rate", str(flow_rate)])
        if spec.name in wanted:
            services.append(spec)
    plan = StackPlan(data_dir=full.data_dir, services=services)
    log: list[str] = []
    try:
        if control.up(plan, timeout_s=240, echo=log.append) != 0:
            raise RuntimeError("the stack did not come up:\n" + "\n".join(log))
        tap = BusTap(settings.bus.prices_pub, settings.bus.events_pub)
        # New strategies run in shadow until enabled as live (what `strategy.enable` writes).
        write_strategy_modes(settings.data_dir, StrategyModes(modes={"echo": "live"}))
        engine = make_engine(settings.sqlite_path)
        with make_session_factory(engine)() as session, session.begin():
            session.add(
                ConfigRow(
                    strategy="echo",
                    strategy_class="tick_to_order:Echo",
                    config_hash="bench",
                    config="{}",
                )
            )
        engine.dispose()
        warmup = 20
        # Bounded: the executor's throughput (not this script) sets the pace; report what came.
        deadline = time.monotonic() + min(600.0, max(120.0, events / flow_rate * 6))
        next_note = time.monotonic() + 30
        while len(proxies.recorder.orders) < events + warmup and time.monotonic() < deadline:
            time.sleep(0.5)
            if time.monotonic() >= next_note:
                print(f"… {len(proxies.recorder.orders)} orders so far", file=sys.stderr)
                next_note += 30
        tap.close()
        pairs, unpaired = proxies.recorder.pairs(skip=warmup)
        latencies = [(t1 - t0) / 1e6 for _, _, _, t0, t1 in pairs]
        return latencies, unpaired, len(proxies.recorder.orders), tap.segments(pairs)
    finally:
        control.down(Path(plan.data_dir), echo=log.append)
        proxies.close()


# ---- raw pynng hops ---------------------------------------------------------------------------


def _echo_child(pub: str, pull: str) -> None:
    import pynng

    with pynng.Sub0(recv_buffer_size=8192) as sub, pynng.Push0(send_buffer_size=8192) as push:
        sub.subscribe(b"")
        sub.dial(pub, block=False)
        push.dial(pull, block=False)
        while True:
            frame = sub.recv()
            if frame == b"stop":
                return
            push.send(frame)


def raw_hops(count: int, root: Path) -> list[float]:
    """Return ``count`` latencies (ms) of PUB→SUB→PUSH→PULL with a child doing the middle."""
    import pynng

    from polybot.bus import codec
    from polybot.bus.messages import BookDelta, LevelChange

    pub_addr, pull_addr = f"ipc://{root}/raw.pub", f"ipc://{root}/raw.pull"
    frame = codec.encode(
        BookDelta(
            market_id="0x" + "ab" * 32,
            token_id="1" * 77,
            changes=[LevelChange("BUY", 0.45, 100.0)],
            timestamp=1,
        )
    )
    out: list[float] = []
    with (
        pynng.Pub0(send_buffer_size=8192) as pub,
        pynng.Pull0(recv_buffer_size=8192, recv_timeout=5000) as pull,
    ):
        pub.listen(pub_addr)
        pull.listen(pull_addr)
        child = subprocess.Popen([sys.executable, __file__, "--role", "echo", pub_addr, pull_addr])
        try:
            while not pub.pipes or not pull.pipes:
                time.sleep(0.01)
            time.sleep(0.2)  # let the child's subscription reach the publisher
            for _ in range(count + 50):
                start = time.perf_counter_ns()
                pub.send(frame)
                pull.recv()
                out.append((time.perf_counter_ns() - start) / 1e6)
            pub.send(b"stop")
        finally:
            child.wait(10)
    return out[50:]


def main() -> int:
    """Run the benchmark; print a summary and, last, one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events (< 60 s in all)")
    parser.add_argument("--events", type=int, default=0, help="orders to measure")
    parser.add_argument("--flow-rate", type=float, default=0.0, help="venue actions per second")
    parser.add_argument("--role", default="", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.role == "echo":
        _echo_child(*rest)
        return 0
    # SIGTERM (e.g. `timeout`) must still run the finally blocks that bring the stack down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    events = args.events or (200 if args.quick else 2000)
    # Below the executor's throughput on a busy 2-core box: latency, not an ever-growing queue.
    flow_rate = args.flow_rate or (15.0 if args.quick else 4.0)
    root = Path(tempfile.mkdtemp(prefix="pbt2o-"))
    try:
        started = time.monotonic()
        latencies, unpaired, orders, segments = run_stack(events, flow_rate, root)
        raw = raw_hops(max(len(latencies), 100), root)
        elapsed = time.monotonic() - started
    finally:
        shutil.rmtree(root, ignore_errors=True)
    summary: dict[str, Any] = {
        "bench": "tick_to_order",
        "events": len(latencies),
        "p50_ms": _ms(_percentile(latencies, 0.50)),
        "p99_ms": _ms(_percentile(latencies, 0.99)),
        "raw_hops_p50_ms": _ms(_percentile(raw, 0.50)),
        "raw_hops_p99_ms": _ms(_percentile(raw, 0.99)),
    }
    print(
        f"orders seen at the venue: {orders}; paired with their book frame: {len(latencies)}; "
        f"unpaired: {unpaired}; {elapsed:.0f} s in all"
    )
    if latencies:
        print(
            f"tick→order  p50 {summary['p50_ms']} ms  p90 {_ms(_percentile(latencies, 0.9))} ms  "
            f"p99 {summary['p99_ms']} ms  max {max(latencies):.3f} ms  "
            f"mean {statistics.fmean(latencies):.3f} ms"
        )
    print("median split (ms): " + ", ".join(f"{k} {v:.3f}" for k, v in segments.items()))
    print(
        f"raw 2 hops  p50 {summary['raw_hops_p50_ms']} ms  p99 {summary['raw_hops_p99_ms']} ms "
        "(PUB→SUB→PUSH→PULL, bytes only)"
    )
    met = summary["p99_ms"] is not None and summary["p99_ms"] <= 2
    print("goal: p99 ≤ 2 ms on this machine:", "met" if met else "NOT met")
    print(json.dumps(summary))
    return 0 if latencies else 1


if __name__ == "__main__":
    sys.exit(main())

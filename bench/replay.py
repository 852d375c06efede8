"""Benchmark replay/backtest throughput: book events per second on a large recorded file.

1. Records the local venue in-process (``polybot.testing.sample.record_local_venue``) once,
   then tiles that recording (fresh market/token ids per copy, time-shifted) into one large
   Parquet file, cached under ``data/bench/`` so later runs skip generation.
2. Loads it (Parquet -> columnar lists, timed separately) and replays it through the engine:
   - with no strategy: the engine's ceiling (book upkeep + message boundaries);
   - with a simple strategy (a fade of sharp mid moves) subscribed to every token, trading
     through ``SimVenue`` and the shared matcher;
   - with the same strategy subscribed to 10% of the tokens (strategies are only called when
     something they subscribed to changes).

"Book events" are venue book messages (snapshots and deltas); rows are level changes.

    .venv/bin/python bench/replay.py --quick    # < 60 s
    .venv/bin/python bench/replay.py            # a larger file, best of 3

The last line printed is one JSON object:
``{"bench":"replay","events":N,"events_per_s":…,"engine_only_events_per_s":…,…}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from polybot.backtest.run import backtest_many  # noqa: E402
from polybot.engine import Engine  # noqa: E402
from polybot.model.market import Market, Outcome  # noqa: E402
from polybot.recording import RecordStore, ReplayData  # noqa: E402
from polybot.strategies.base import BookView, Context, Strategy, StrategyConfig  # noqa: E402
from polybot.testing.sample import SampleSpec, record_local_venue  # noqa: E402


class FadeConfig(StrategyConfig, frozen=True, kw_only=True):
    """Parameters of the benchmark's simple strategy."""

    edge: float = 0.03
    size: Decimal = Decimal(10)
    every_nth_token: int = 1


class Fade(Strategy):
    """Fade sharp moves in the mid by taking the touch on the other side."""

    name = "fade"
    Config = FadeConfig
    config: FadeConfig

    def __init__(self, config: FadeConfig | None = None, /, **params: object) -> None:
        super().__init__(config, **params)
        self._last: dict[str, float] = {}

    def on_start(self, ctx: Context) -> None:
        for i, market in enumerate(ctx.markets()):
            if i % self.config.every_nth_token == 0:
                ctx.subscribe(market.asset_ids[0])

    def on_book(self, ctx: Context, book: BookView) -> None:
        mid = book.mid
        if mid is None:
            return
        last = self._last.get(book.token_id)
        self._last[book.token_id] = mid
        if last is None:
            return
        if mid - last >= self.config.edge and ctx.position(book.token_id) >= self.config.size:
            ctx.sell(book.token_id, self.config.size, book.best_bid or mid, order_type="FAK")
        elif last - mid >= self.config.edge and book.best_ask is not None:
            ctx.buy(book.token_id, self.config.size, book.best_ask, order_type="FAK")


def build_file(path: Path, base_minutes: float, copies: int) -> None:
    """Record the local venue once and tile it ``copies`` times into one Parquet file."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        store = record_local_venue(
            tmp,
            SampleSpec(
                seed=5, minutes=base_minutes, n_binary=40, n_neg_risk_events=4, actions_per_s=8.0
            ),
        )
        base = store.read()
        markets = store.markets()
        print(
            f"recorded {base_minutes:g} min of the local venue: {base.num_rows:,} rows "
            f"in {time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
    span = (
        int(pc.max(base["ts_recv"]).as_py()) - int(pc.min(base["ts_recv"]).as_py()) + 1_000_000_000
    )
    parts, all_markets = [], []
    for k in range(copies):

        def rename(column: pa.ChunkedArray, k: int = k) -> pa.ChunkedArray:
            return pc.binary_join_element_wise(column, pa.scalar(f"~{k}"), "") if k else column

        shift = k * span
        parts.append(
            base.set_column(0, "ts_recv", pc.add(base["ts_recv"], shift))
            .set_column(1, "ts", pc.add(base["ts"], shift // 1_000_000))
            .set_column(4, "market", rename(base["market"]))
            .set_column(5, "token", rename(base["token"]))
            .set_column(2, "msg", pc.add(base["msg"], k * 10_000_000))
        )
        suffix = f"~{k}" if k else ""
        all_markets += [
            Market(
                **{
                    **{f: getattr(m, f) for f in m.__struct_fields__},
                    "condition_id": m.condition_id + suffix,
                    "outcomes": tuple(
                        Outcome(name=o.name, asset_id=o.asset_id + suffix) for o in m.outcomes
                    ),
                }
            )
            for m in markets
        ]
    path.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.concat_tables(parts), path / "replay.parquet", compression="zstd")
    RecordStore(path).write_markets(all_markets)


def load(path: Path) -> ReplayData:
    """Load the tiled file (one large Parquet file, already in replay order)."""
    # Dictionary-encoded strings skip materializing millions of 77-digit token ids.
    table = pq.read_table(
        path / "replay.parquet", read_dictionary=["market", "token", "hash", "text"]
    )
    return ReplayData.from_table(table, RecordStore(path).markets())


def best_of(runs: int, fn: object) -> tuple[float, float]:
    """Return the smallest ``(cpu seconds, wall seconds)`` of ``runs`` calls.

    CPU time of this process is the "one core" figure: on a shared machine wall time also
    counts the time other processes held the core. Both are reported.
    """
    assert callable(fn)
    cpu, wall = [], []
    for _ in range(runs):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return min(cpu), min(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="smaller file, one run each (< 60 s)")
    parser.add_argument("--cache", type=Path, default=ROOT / "data" / "bench")
    args = parser.parse_args()
    base_minutes, copies, runs = (8.0, 6, 1) if args.quick else (20.0, 12, 3)
    path = args.cache / f"replay-{base_minutes:g}m-x{copies}"
    if not (path / "replay.parquet").exists():
        build_file(path, base_minutes, copies)
    t0 = time.perf_counter()
    data = load(path)
    load_s = time.perf_counter() - t0
    events = data.book_message_count
    messages = data.message_count
    print(
        f"file: {len(data):,} rows, {messages:,} messages, {events:,} book events, "
        f"{len(data.tokens):,} tokens; load {load_s:.2f} s",
        file=sys.stderr,
    )

    engine_s = best_of(
        runs,
        lambda: Engine([], markets=data.market_info.values(), sample_every_s=0).run_replay(data),
    )
    fills: list[int] = []

    def with_strategy(nth: int) -> None:
        [result] = backtest_many([Fade(every_nth_token=nth)], data, progress=False)
        fills.append(len(result.fills))

    strategy_s = best_of(runs, lambda: with_strategy(1))
    tenth_s = best_of(runs, lambda: with_strategy(10))
    print(f"{'':>34}  {'book events/s (CPU)':>20} {'(wall)':>12}")
    for label, (cpu, wall) in (
        ("engine only (no strategy)", engine_s),
        ("fade on every token + SimVenue", strategy_s),
        ("fade on 10% of tokens + SimVenue", tenth_s),
    ):
        print(f"{label:>34}: {events / cpu:>20,.0f} {events / wall:>12,.0f}")
    print(
        json.dumps(
            {
                "bench": "replay",
                "quick": args.quick,
                "events": events,
                "messages": messages,
                "rows": len(data),
                "events_per_s": round(events / strategy_s[0]),
                "engine_only_events_per_s": round(events / engine_s[0]),
                "events_per_s_10pct_subscribed": round(events / tenth_s[0]),
                "events_per_s_wall": round(events / strategy_s[1]),
                "engine_only_events_per_s_wall": round(events / engine_s[1]),
                "rate_basis": "process CPU time, best of runs",
                "fills": fills[0],
                "load_s": round(load_s, 3),
                "load_rows_per_s": round(len(data) / load_s),
            }
        )
    )


if __name__ == "__main__":
    main()

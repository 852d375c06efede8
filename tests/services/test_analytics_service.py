"""The analytics service as a real process: bus frames in, DuckDB rows and queries out, SIGTERM."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pytest

from polybot.analytics.queries import AnalyticsClient
from polybot.bus import codec
from polybot.bus.messages import Event, Message, Price, Trade
from polybot.bus.nng import Publisher
from polybot.testing.stack import child_env, isolated_stack_env, wait_until

REPO = Path(__file__).resolve().parents[2]
D1_MS = int(datetime(2026, 11, 20, tzinfo=UTC).timestamp() * 1000)
HOUR_MS = 3_600_000
# (side, price, size, fee, hour of day 1; hour ≥ 24 = day 2): the stats test's fills
FILLS = [
    ("BUY", 0.40, 100, 0.10, 10),
    ("BUY", 0.50, 100, 0.10, 11),
    ("SELL", 0.60, 50, 0.05, 12),
    ("SELL", 0.35, 100, 0.10, 13),
    ("SELL", 0.70, 80, 0.0, 33),
    ("BUY", 0.60, 30, 0.0, 34),
]


class Feed:
    """A publisher that stamps seq itself, so a test can leave a hole in the numbers."""

    def __init__(self, address: str) -> None:
        self.publisher = Publisher(address)
        self.seq = 0

    def send(self, message: Message, *, skip: int = 0) -> None:
        self.seq += 1 + skip
        self.publisher.publish_frame(codec.encode(codec.with_seq(message, self.seq)))

    def send_raw(self, frame: bytes) -> None:
        self.publisher.publish_frame(frame)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    env = isolated_stack_env(
        tmp_path,
        pythonpath=[REPO],
        extra={
            "POLYBOT_ANALYTICS__STATS_INTERVAL_S": "0.2",
            "POLYBOT_ANALYTICS__SEGMENTS_INTERVAL_S": "0.3",
            "POLYBOT_ANALYTICS__SNAPSHOT_INTERVAL_S": "0.5",
            "POLYBOT_ANALYTICS__CORRELATION_INTERVAL_S": "0.5",
            "POLYBOT_ANALYTICS__CORRELATION_MIN_OBSERVATIONS": "3",
        },
    )
    Path(env["POLYBOT_BUS__IPC_DIR"]).mkdir(mode=0o700)
    prices, events = Feed(env["POLYBOT_BUS__PRICES_PUB"]), Feed(env["POLYBOT_BUS__EVENTS_PUB"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.analytics"],
        cwd=tmp_path,
        env=child_env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield {"proc": proc, "env": env, "prices": prices, "events": events, "tmp": tmp_path}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
        prices.publisher.close()
        events.publisher.close()


def _fill_event(index: int, side: str, price: float, size: float, fee: float, hour: int) -> Event:
    data = {
        "strategy": "s1",
        "market_id": "M",
        "token_id": "T",
        "side": side,
        "price": str(price),
        "size": str(size),
        "fee": str(fee),
        "fill_id": f"f{index}",
        "client_order_id": f"o{index}",
        "signal_id": f"sig{index}",
        "status": "MATCHED",
    }
    return Event(
        source="executor", event_type="order_filled", data=data, timestamp=D1_MS + hour * HOUR_MS
    )


def test_analytics_ingests_serves_queries_dead_letters_and_stops(stack: dict[str, Any]) -> None:
    proc, env, prices, events = stack["proc"], stack["env"], stack["prices"], stack["events"]
    data_dir = Path(env["POLYBOT_DATA_DIR"])
    wait_until(
        lambda: (data_dir / "run" / "analytics.ready").exists() or proc.poll() is not None,
        60,
        "the service to be ready",
    )
    assert proc.poll() is None, "the analytics service exited during startup"
    prices.publisher.wait_for_peers(1, timeout=10)
    events.publisher.wait_for_peers(1, timeout=10)
    now_ms = int(time.time() * 1000)

    client = AnalyticsClient(env["POLYBOT_BUS__ANALYTICS_REQ"])
    try:
        sent = 0
        counts = []
        for batch in range(5):  # write while a second process (this one) keeps querying
            for i in range(40):
                t = now_ms - (200 - sent) * 1000
                mid_a, mid_b = 0.5 + 0.01 * ((sent * 7) % 5), 0.3 + 0.01 * ((sent * 3) % 4)
                prices.send(
                    Price(
                        market_id="MA",
                        token_id="A",
                        bid=mid_a - 0.01,
                        ask=mid_a + 0.01,
                        mid=mid_a,
                        timestamp=t,
                    ),
                    skip=3 if (batch, i) == (2, 0) else 0,
                )
                prices.send(
                    Price(
                        market_id="MB",
                        token_id="B",
                        bid=mid_b - 0.01,
                        ask=mid_b + 0.01,
                        mid=mid_b,
                        timestamp=t,
                    )
                )
                sent += 1
            counts.append(client.query("SELECT count(*) AS n FROM price_history")["n"][0].as_py())
        prices.send(
            Trade(market_id="MA", token_id="A", price=0.52, size=10, side="BUY", timestamp=now_ms)
        )
        prices.send_raw(b"\xc1 not msgpack")
        prices.send_raw(
            msgspec.msgpack.encode(
                {  # well-formed map, impossible price
                    "type": "price",
                    "market_id": "MA",
                    "token_id": "A",
                    "bid": 2.0,
                    "ask": 0.2,
                    "mid": 0.15,
                    "timestamp": now_ms,
                }
            )
        )
        for index, (side, price, size, fee, hour) in enumerate(FILLS):
            events.send(_fill_event(index, side, price, size, fee, hour))
        bad = _fill_event(99, "BUY", 0.5, 1, 0, 10)
        events.send(
            Event(
                source="executor",
                event_type="order_filled",
                data={**bad.data, "price": "not a price"},
                timestamp=bad.timestamp,
            )
        )

        assert counts == sorted(counts), "row counts only grow while the service writes"
        wait_until(
            lambda: (
                client.query("SELECT count(*) AS n FROM price_history")["n"][0].as_py() == 2 * sent
            ),
            20,
            "every price row",
        )
        assert client.query("SELECT count(*) AS n FROM trade_history")["n"][0].as_py() == 1
        pnl = wait_until(lambda: (t := client.pnl("s1")).num_rows == 2 and t, 20, "strategy stats")
        day1, day2 = pnl.to_pylist()
        assert (day1["fills"], day1["trades"], day1["wins"], day1["signals"]) == (4, 2, 1, 4)
        assert day1["realized_pnl"] == pytest.approx(-2.85)
        assert day1["win_rate"] == pytest.approx(0.5)
        assert day1["max_drawdown"] == pytest.approx(10.10)
        assert day2["realized_pnl"] == pytest.approx(15.5)
        assert day2["win_rate"] == pytest.approx(1.0)
        ohlc = client.ohlc("A", bucket_s=3600, since_ms=now_ms - 10 * HOUR_MS)
        assert sum(ohlc["ticks"].to_pylist()) == sent
        latest = client.latest_prices("MB").to_pylist()
        assert [row["token_id"] for row in latest] == ["B"]
        corr = wait_until(lambda: (t := client.correlations()).num_rows and t, 20, "correlations")
        assert corr.to_pylist()[0]["market_a"] == "MA"
    finally:
        client.close()

    def counters() -> dict[str, int]:
        return dict(json.loads((data_dir / "run" / "analytics.ready").read_text())["counters"])

    status = wait_until(
        lambda: (c := counters()).get("malformed_frames") == 2 and c,
        10,
        "the counters in the status file",
    )
    assert (status["prices_gaps"], status["prices_missed"]) == (1, 3)
    assert status["fills_ingested"] == len(FILLS)
    with sqlite3.connect(data_dir / "polybot.db") as db:
        letters = db.execute("SELECT source, reason FROM dead_letters ORDER BY id").fetchall()
    sources = [source for source, _ in letters]
    assert sources.count("analytics:prices.pub") == 2
    assert sources.count("analytics:events.pub") == 1
    reasons = dict(letters)  # the last per source
    assert "bid" in reasons["analytics:prices.pub"]  # the reason names the bad field
    assert "unusable order_filled data" in reasons["analytics:events.pub"]

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    with duckdb.connect(str(data_dir / "analytics.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM price_history").fetchone() == (2 * sent,)
        assert con.execute("SELECT count(*) FROM fills").fetchone() == (len(FILLS),)
    exports = data_dir / "analytics"
    assert list((exports / "segments" / "price_history").glob("part-*.parquet"))
    assert list((exports / "snapshots").glob("analytics-*.duckdb"))

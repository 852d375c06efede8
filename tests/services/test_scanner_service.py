"""The scanner as a real process against the real local venue (also a real process)."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from polybot.bus.endpoints import Requester
from polybot.bus.messages import AnyMessage, BookSnapshot, FeedHealth, Price
from polybot.bus.nng import Subscriber
from polybot.core.errors import BusTimeout
from polybot.marketdata.snapshots import request_books
from polybot.testing.stack import child_env, isolated_stack_env, wait_until

REPO = Path(__file__).resolve().parents[2]
MAX_TOKENS = 12
_LISTENING = re.compile(rb"listening on http://127\.0\.0\.1:(\d+)")


def _start_venue(data_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
    data_dir.mkdir(parents=True)
    log_path = data_dir / "venue.log"
    with log_path.open("wb") as log:  # a pipe nobody reads could fill up and block the venue
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "polybot.cli.main",
                "sim",
                "--port",
                "0",
                "--markets",
                "20",
                "--data-dir",
                str(data_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    match = wait_until(
        lambda: _LISTENING.search(log_path.read_bytes()) or proc.poll() is not None,
        60,
        "the local venue to listen",
    )
    assert proc.poll() is None, log_path.read_text()
    return proc, int(match.group(1))


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.fixture
def scanner(tmp_path: Path) -> Iterator[dict[str, Any]]:
    venue, port = _start_venue(tmp_path / "venue")
    env = isolated_stack_env(
        tmp_path,
        venue_port=port,
        pythonpath=[REPO],
        extra={
            "POLYBOT_SCANNER__MAX_TOKENS": str(MAX_TOKENS),
            "POLYBOT_SCANNER__HEALTH_INTERVAL_S": "1",
            "POLYBOT_SCANNER__RECORD_FLUSH_INTERVAL_S": "0.5",
        },
    )
    Path(env["POLYBOT_BUS__IPC_DIR"]).mkdir(mode=0o700)
    sub = Subscriber(env["POLYBOT_BUS__PRICES_PUB"])  # dials now, connects when it listens
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.scanner"],
        cwd=tmp_path,
        env=child_env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield {
            "proc": proc,
            "env": env,
            "port": port,
            "sub": sub,
            "data": Path(env["POLYBOT_DATA_DIR"]),
        }
    finally:
        _stop(proc)
        sub.close()
        _stop(venue)


def _collect(
    sub: Subscriber, until: Callable[[list[AnyMessage]], bool], within_s: float, what: str
) -> list[AnyMessage]:
    got: list[AnyMessage] = []
    deadline = time.monotonic() + within_s
    while not until(got):
        if time.monotonic() > deadline:
            kinds = sorted({type(m).__name__ for m in got})
            raise AssertionError(f"timed out waiting for {what}; got {len(got)} ({kinds})")
        try:
            got.append(sub.recv(timeout=0.5))
        except BusTimeout:
            continue
    return got


def _counters(data: Path) -> dict[str, int]:
    path = data / "run" / "scanner.ready"
    return dict(json.loads(path.read_text())["counters"]) if path.exists() else {}


def test_scanner_publishes_verified_books_survives_ws_drop_and_stops(
    scanner: dict[str, Any],
) -> None:
    proc, sub, data, env = scanner["proc"], scanner["sub"], scanner["data"], scanner["env"]
    wait_until(
        lambda: (data / "run" / "scanner.ready").exists() or proc.poll() is not None,
        60,
        "the scanner to be ready",
    )
    assert proc.poll() is None, "the scanner exited during startup"

    got = _collect(
        sub,
        lambda ms: (
            any(isinstance(m, BookSnapshot) for m in ms)
            and any(isinstance(m, Price) for m in ms)
            and any(isinstance(m, FeedHealth) for m in ms)
        ),
        30,
        "books, prices and feed health",
    )
    tokens = {m.token_id for m in got if isinstance(m, BookSnapshot | Price | FeedHealth)}
    assert 0 < len(tokens) <= MAX_TOKENS
    assert all(m.hash for m in got if isinstance(m, BookSnapshot))
    assert all(m.hash_mismatches == 0 for m in got if isinstance(m, FeedHealth))
    for price in (m for m in got if isinstance(m, Price)):
        assert price.bid <= price.ask
        assert price.mid == pytest.approx((price.bid + price.ask) / 2)
    seqs = [m.seq for m in got]
    assert seqs == sorted(seqs)
    assert sub.stats.gaps == 0
    counters = wait_until(
        lambda: (c := _counters(data)).get("hashes_matched") and c,
        10,
        "hash verifications in the status counters",
    )
    assert counters.get("hash_mismatches", 0) == 0

    with Requester(env["POLYBOT_BUS__SNAPSHOTS_REQ"]) as requester:
        snap = request_books(requester, timeout=5)
    assert snap.seq >= seqs[-1]
    assert tokens <= {b.token_id for b in snap.books} | set(snap.missing)
    assert len(snap.books) + len(snap.missing) <= MAX_TOKENS
    assert snap.books

    with sqlite3.connect(data / "polybot.db") as db:
        rows = db.execute("SELECT yes_token_id, no_token_id FROM markets").fetchall()
    assert rows
    assert tokens <= {t for row in rows for t in row}

    dropped = httpx.post(f"http://127.0.0.1:{scanner['port']}/_polybot/admin/drop-ws").json()
    assert dropped["dropped"] >= 1
    dropped_at = sub.stats.received
    _collect(
        sub,
        lambda ms: (
            sum(isinstance(m, BookSnapshot) for m in ms) >= len(snap.books)
            and any(isinstance(m, Price) for m in ms)
        ),
        30,
        "books and prices after the drop",
    )
    assert sub.stats.received > dropped_at
    wait_until(lambda: _counters(data).get("ws_disconnects", 0) >= 1, 10, "the disconnect count")

    recordings = data / "recordings"
    wait_until(
        lambda: (
            list(recordings.glob("raw/**/*.parquet"))
            and list(recordings.glob("normalized/**/*.parquet"))
        ),
        15,
        "recording files",
    )
    assert (recordings / "markets.json").exists()

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert not (data / "run" / "scanner.ready").exists()

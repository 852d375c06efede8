"""Two real processes: a writer owns analytics.duckdb and appends continuously while this process
reads through the query endpoint, the snapshots and the Parquet segments — and cannot open the
live file directly, which is why those doors exist."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from polybot.storage.duck_read import (
    DuckQueryClient,
    RemoteQueryError,
    latest_snapshot,
    open_segments,
    open_snapshot,
)

WRITER = Path(__file__).with_name("duck_writer_process.py")
DEADLINE_S = 60.0  # generous: two cores shared with other test runs


class Owner:
    def __init__(self, root: Path, address: str) -> None:
        self.db = root / "analytics.duckdb"
        self.snapshots = root / "snapshots"
        self.segments = root / "segments"
        self.address = address
        self.process = subprocess.Popen(
            [sys.executable, str(WRITER), str(self.db), address, str(self.snapshots),
             str(self.segments)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # blocks until READY or the process dies
        if line.strip() != "READY":
            self.process.kill()
            _, err = self.process.communicate(timeout=DEADLINE_S)
            raise AssertionError(f"writer did not start: {line!r} {err}")

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=DEADLINE_S)
        return self.process.returncode, out + err


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[Owner]:
    # ipc paths must stay short (unix socket limit ~107 bytes), so not under tmp_path.
    socket_dir = tempfile.mkdtemp(prefix="pbduck-", dir="/tmp")
    running = Owner(tmp_path, f"ipc://{socket_dir}/q.ipc")
    yield running
    if running.process.poll() is None:
        running.process.kill()
    running.process.communicate(timeout=DEADLINE_S)  # reaps it and closes the pipes
    for leftover in Path(socket_dir).iterdir():
        leftover.unlink()
    os.rmdir(socket_dir)


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_direct_read_only_open_of_the_live_file_fails(owner: Owner) -> None:
    with pytest.raises(duckdb.IOException, match="lock"):
        duckdb.connect(str(owner.db), read_only=True)
    with duckdb.connect() as con, pytest.raises(duckdb.IOException, match="lock"):
        con.execute(f"ATTACH '{owner.db}' AS live (READ_ONLY)")


def test_endpoint_answers_while_the_owner_keeps_writing(owner: Owner) -> None:
    with DuckQueryClient(owner.address) as client:
        counts = []
        for _ in range(3):
            wait_until(
                lambda: client.query("SELECT count(*) AS n FROM price_history", timeout=30)
                .column("n")[0].as_py() > (counts[-1] if counts else 0),
                "the row count to grow",
            )
            counts.append(client.query("SELECT count(*) AS n FROM price_history", timeout=30)
                          .column("n")[0].as_py())
        per_market = client.query(
            "SELECT market_id, count(*) AS n FROM price_history WHERE market_id = $m "
            "GROUP BY market_id", {"m": "m3"}, timeout=30,
        )
        with pytest.raises(RemoteQueryError, match="read-only"):
            client.query("DELETE FROM price_history", timeout=30)

    assert counts == sorted(counts)
    assert len(set(counts)) == 3
    assert per_market.column("market_id").to_pylist() == ["m3"]
    code, output = owner.stop()
    assert code == 0, output
    closed_rows = int(output.split("CLOSED ")[1].split()[0])
    with duckdb.connect(str(owner.db), read_only=True) as con:  # free once the owner is gone
        assert con.execute("SELECT count(*) FROM price_history").fetchone() == (closed_rows,)


def test_snapshots_and_segments_are_readable_while_the_owner_writes(owner: Owner) -> None:
    wait_until(lambda: latest_snapshot(owner.snapshots, "analytics") is not None, "a snapshot")
    seen = []
    for _ in range(2):
        wait_until(lambda: latest_snapshot(owner.snapshots, "analytics") not in seen,
                   "a newer snapshot")
        path = latest_snapshot(owner.snapshots, "analytics")
        seen.append(path)
        with open_snapshot(owner.snapshots, "analytics") as con:
            rows = con.execute("SELECT count(*) FROM price_history").fetchone()
            assert rows is not None
            assert rows[0] > 0

    wait_until(lambda: len(list((owner.segments / "price_history").glob("part-*.parquet"))) >= 2,
               "two parquet segments")
    reader = open_segments(owner.segments)
    total = reader.execute("SELECT count(*), count(DISTINCT ts) FROM price_history").fetchone()
    reader.close()
    assert total is not None
    assert total[0] == total[1] > 0
    assert owner.process.poll() is None  # the writer never crashed because of a reader

"""A real owning writer process for the read-while-write tests (not collected by pytest).

Usage: python duck_writer_process.py DB_PATH QUERY_ADDRESS SNAPSHOT_DIR SEGMENT_DIR

Owns DB_PATH, serves queries on QUERY_ADDRESS, appends 200 price_history rows every ~20 ms,
publishes a snapshot and Parquet segments every ~0.3 s, prints READY once serving, and closes
cleanly (flush, checkpoint) on SIGTERM.
"""

from __future__ import annotations

import signal
import sys
import threading
from datetime import UTC, datetime, timedelta

from polybot.storage.duck_owner import DuckWriter
from polybot.storage.duck_query import QueryServer
from polybot.storage.duck_schema import ANALYTICS

BATCH = 200


def main(db_path: str, address: str, snapshot_dir: str, segment_dir: str) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    start = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    with DuckWriter(db_path, ANALYTICS, flush_rows=1_000, flush_interval_s=0.05) as writer:
        writer.start()
        with QueryServer(address, writer.cursor):
            print("READY", flush=True)
            sequence = 0
            ticks = 0
            while not stop.wait(0.02):
                rows = []
                for _ in range(BATCH):
                    mid = 0.5 + (sequence % 100) / 1000
                    ts = start + timedelta(milliseconds=sequence)
                    rows.append((f"m{sequence % 5}", f"t{sequence % 5}", mid - 0.01, mid + 0.01,
                                 mid, ts))
                    sequence += 1
                writer.extend("price_history", rows)
                ticks += 1
                if ticks % 15 == 0:
                    writer.write_snapshot(snapshot_dir)
                    writer.export_segments(segment_dir)
    print(f"CLOSED {sequence}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])

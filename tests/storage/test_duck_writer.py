"""The DuckDB owner in one process: batching, rejects, checkpoint, snapshots, segments, queries."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from polybot.storage.duck_owner import DuckWriter
from polybot.storage.duck_query import QueryRejected, answer_query, read_arrow_stream
from polybot.storage.duck_read import latest_snapshot, open_segments, open_snapshot
from polybot.storage.duck_schema import ANALYTICS, STRATEGY_LOG

T0 = datetime(2026, 1, 1)


def ticks(n: int, start: int = 0) -> list[tuple[object, ...]]:
    return [(f"m{i % 3}", f"t{i % 3}", 0.4, 0.6, 0.5, T0 + timedelta(seconds=i))
            for i in range(start, start + n)]


def count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_rows_are_buffered_until_flush_rows_then_written(tmp_path: Path) -> None:
    with DuckWriter(tmp_path / "a.duckdb", ANALYTICS, flush_rows=100) as writer:
        writer.extend("price_history", ticks(99))
        cursor = writer.cursor()
        assert count(cursor, "price_history") == 0
        assert writer.stats.buffered == 99

        writer.append("price_history", ticks(1, 99)[0])

        assert count(cursor, "price_history") == 100
        assert writer.stats.rows_written == 100
        cursor.close()


def test_background_flusher_writes_within_the_interval(tmp_path: Path) -> None:
    with DuckWriter(tmp_path / "a.duckdb", ANALYTICS, flush_interval_s=0.05) as writer:
        writer.start()
        writer.extend("price_history", ticks(10))
        cursor = writer.cursor()
        deadline = time.monotonic() + 10
        while count(cursor, "price_history") < 10:
            assert time.monotonic() < deadline, "the periodic flush never happened"
            time.sleep(0.01)
        cursor.close()


def test_bad_rows_are_reported_and_good_rows_of_the_batch_still_land(tmp_path: Path) -> None:
    rejected: list[tuple[str, object]] = []
    with DuckWriter(tmp_path / "a.duckdb", ANALYTICS,
                    on_reject=lambda table, row, _exc: rejected.append((table, row))) as writer:
        bad = ("m9", "t9", 0.4, 0.6, 0.5, "not a time")
        writer.extend("price_history", [*ticks(5), bad, *ticks(5, 5)])
        writer.flush()
        cursor = writer.cursor()
        assert count(cursor, "price_history") == 10
        assert rejected == [("price_history", bad)]
        assert writer.stats.rows_rejected == 1
        with pytest.raises(ValueError, match="6 values"):
            writer.append("price_history", ("too", "short"))
        with pytest.raises(KeyError, match="price_history"):
            writer.append("no_such_table", ())
        cursor.close()


def test_close_flushes_and_the_file_reopens_with_every_row(tmp_path: Path) -> None:
    path = tmp_path / "logs.duckdb"
    writer = DuckWriter(path, STRATEGY_LOG, flush_rows=1_000_000)
    writer.append("strategy_logs", ("run-1", "fade", T0, "INFO", "started", "{}"))
    writer.close()

    with duckdb.connect(str(path), read_only=True) as con:
        assert count(con, "strategy_logs") == 1
        assert not Path(f"{path}.wal").exists() or Path(f"{path}.wal").stat().st_size == 0


def test_second_owner_in_another_process_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "a.duckdb"
    with DuckWriter(path, ANALYTICS):
        code = (
            "import sys\nfrom polybot.storage.duck_owner import DuckWriter, DuckOwnershipError\n"
            "from polybot.storage.duck_schema import ANALYTICS\n"
            "try:\n    DuckWriter(sys.argv[1], ANALYTICS)\n"
            "except DuckOwnershipError as e:\n    print(e); sys.exit(3)\n"
        )
        result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                                text=True, timeout=60, check=False)
    assert result.returncode == 3, result.stderr
    assert "Only one process may open a DuckDB file" in result.stdout


def test_snapshots_get_new_names_and_old_ones_are_pruned(tmp_path: Path) -> None:
    snapshots = tmp_path / "snapshots"
    with DuckWriter(tmp_path / "analytics.duckdb", ANALYTICS) as writer:
        paths = []
        for batch in range(4):
            writer.extend("price_history", ticks(10, batch * 10))
            paths.append(writer.write_snapshot(snapshots, keep=2))
        assert len(set(paths)) == 4
        assert sorted(p.name for p in snapshots.iterdir()) == [paths[2].name, paths[3].name]
        assert latest_snapshot(snapshots, "analytics") == paths[3]
        with open_snapshot(snapshots, "analytics") as con:
            assert count(con, "price_history") == 40


def test_segments_cover_every_row_exactly_once(tmp_path: Path) -> None:
    segments = tmp_path / "segments"
    with DuckWriter(tmp_path / "analytics.duckdb", ANALYTICS) as writer:
        writer.extend("price_history", ticks(25))
        first = writer.export_segments(segments)
        assert writer.export_segments(segments) == []  # nothing new, no empty file
        writer.extend("price_history", ticks(15, 25))
        second = writer.export_segments(segments)

    assert [p.name for p in first + second] == ["part-00000001.parquet", "part-00000002.parquet"]
    reader = open_segments(segments)
    assert count(reader, "price_history") == 40
    row = reader.execute("SELECT count(DISTINCT ts) FROM price_history").fetchone()
    assert row == (40,)
    reader.close()


@pytest.mark.parametrize(
    "sql",
    ["SELECT count(*) FROM price_history", "  -- note\n WITH x AS (SELECT 1 AS a) SELECT a FROM x",
     "DESCRIBE price_history", "SHOW TABLES", "SUMMARIZE price_history", "(SELECT 1)"],
)
def test_answer_query_accepts_read_only_statements(tmp_path: Path, sql: str) -> None:
    with DuckWriter(tmp_path / "a.duckdb", ANALYTICS) as writer:
        cursor = writer.cursor()
        table = read_arrow_stream(answer_query(cursor, sql))
        assert table.num_rows >= 1
        cursor.close()


@pytest.mark.parametrize(
    ("sql", "match"),
    [("INSERT INTO price_history VALUES ('m','t',0,0,0,NULL)", "read-only"),
     ("DELETE FROM price_history", "read-only"),
     ("SELECT 1; DROP TABLE price_history", "exactly one statement"),
     ("WITH x AS (SELECT 1) INSERT INTO price_history SELECT 'm','t',0,0,0,NULL FROM x",
      "read-only"),
     ("COPY price_history TO '/tmp/x.parquet'", "read-only"),
     ("ATTACH ':memory:' AS other", "read-only"),
     ("CHECKPOINT", "read-only"),
     ("", "empty")],
)
def test_answer_query_refuses_anything_that_writes(tmp_path: Path, sql: str, match: str) -> None:
    with DuckWriter(tmp_path / "a.duckdb", ANALYTICS) as writer:
        cursor = writer.cursor()
        with pytest.raises(QueryRejected, match=match):
            answer_query(cursor, sql)
        assert count(cursor, "price_history") == 0
        cursor.close()


def test_answer_query_binds_parameters(tmp_path: Path) -> None:
    with DuckWriter(tmp_path / "a.duckdb", ANALYTICS) as writer:
        writer.extend("price_history", ticks(9))
        writer.flush()
        cursor = writer.cursor()
        table = read_arrow_stream(
            answer_query(cursor, "SELECT * FROM price_history WHERE market_id = ?", ["m1"])
        )
        assert table.column("market_id").to_pylist() == ["m1"] * 3
        cursor.close()

"""The single owning writer of one DuckDB file: buffered batch appends, snapshots, Parquet segments.

DuckDB allows one process per file while it is written (even read-only opens from elsewhere fail),
so exactly one service opens each file through a ``DuckWriter``. Rows are buffered in memory and
written in batches with the native ``Appender`` (~1M rows/s; ``executemany`` manages ~3k rows/s)
when a table's buffer reaches ``flush_rows`` or every ``flush_interval_s``.

Other processes read through three doors, none of which opens the live file:

* ``QueryServer`` (``duck_query``) answers SQL over REQ/REP with Arrow — fresh data, small results;
* ``write_snapshot`` copies the checkpointed file to a new name (tmp + rename) — whole database;
* ``export_segments`` writes immutable Parquet files per append-only table (tmp + rename).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb

from polybot.core.errors import PolybotError
from polybot.storage.duck_schema import DuckSchema, DuckTable

log = logging.getLogger(__name__)

Row = Sequence[Any]
RejectHandler = Callable[[str, Row, Exception], None]

SEGMENT_STATE_TABLE = "_polybot_segments"  # per table: the first row id not yet exported
# Errors that mean "this row's values do not fit the table", as opposed to I/O trouble.
_ROW_ERRORS = (
    duckdb.ConversionException, duckdb.InvalidInputException, duckdb.ConstraintException,
    duckdb.TypeMismatchException, duckdb.OutOfRangeException,
)
_SNAPSHOT_NAME = re.compile(r"^(?P<stem>.+)-(?P<seq>\d{8})\.duckdb$")


class DuckOwnershipError(PolybotError):
    """Another process already holds the DuckDB file; there can be only one writer."""


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters of one writer (a snapshot)."""

    rows_written: int
    rows_rejected: int
    flushes: int
    buffered: int
    last_flush_s: float       # duration of the last flush
    last_flush_rows: int


class DuckWriter:
    """Own one DuckDB file: create its schema, buffer rows, flush them in batches, publish copies.

    Thread-safe: ``append``/``extend`` may be called from any thread; writes to the file are
    serialized by one lock. Use as a context manager or call ``close()``.

    Args:
        path: the DuckDB file to own.
        schema: the tables to create and accept rows for.
        flush_rows: flush a table as soon as this many rows are buffered for it.
        flush_interval_s: the background flusher's period (``start()``), bounding staleness.
        on_reject: called with ``(table, row, error)`` for each row DuckDB refused (e.g. a value
            of the wrong type); default logs a warning. The rest of the batch is still written.
    """

    def __init__(
        self,
        path: Path | str,
        schema: DuckSchema,
        *,
        flush_rows: int = 10_000,
        flush_interval_s: float = 0.5,
        on_reject: RejectHandler | None = None,
    ) -> None:
        if flush_rows < 1 or flush_interval_s <= 0:
            raise ValueError("flush_rows must be >= 1 and flush_interval_s > 0")
        self.path = Path(path)
        self.schema = schema
        self.flush_rows = flush_rows
        self.flush_interval_s = flush_interval_s
        self._on_reject = on_reject or _log_reject
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(self.path))
        except duckdb.IOException as exc:
            raise DuckOwnershipError(
                f"cannot own {self.path}: {exc}. Only one process may open a DuckDB file that is "
                "being written; query the owner's endpoint or read its snapshots instead"
            ) from None
        # Statements run on their own cursor: DuckDB refuses new work on a connection whose
        # last result was not consumed, and the appenders live on the main connection.
        self._sql = self._con.cursor()
        for table in schema.tables:
            self._run(table.create_sql())
        self._run(
            f"CREATE TABLE IF NOT EXISTS {SEGMENT_STATE_TABLE} "
            "(table_name VARCHAR PRIMARY KEY, next_rowid BIGINT, next_seq BIGINT)"
        )
        self._buffers: dict[str, list[Row]] = {table.name: [] for table in schema.tables}
        self._appenders: dict[str, duckdb.Appender] = {}
        self._buffer_lock = threading.Lock()   # guards _buffers (held only for list swaps)
        self._write_lock = threading.RLock()   # serializes every write to the file
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self._closed = False
        self._rows_written = 0
        self._rows_rejected = 0
        self._flushes = 0
        self._last_flush_s = 0.0
        self._last_flush_rows = 0

    # -- rows in -------------------------------------------------------------------------------

    def append(self, table: str, row: Row) -> None:
        """Buffer one row (values in the table's column order); flush if the buffer is full."""
        self.extend(table, (row,))

    def extend(self, table: str, rows: Iterable[Row]) -> None:
        """Buffer rows for ``table``; flush that table when ``flush_rows`` are waiting."""
        if self._closed:
            raise RuntimeError(f"the writer of {self.path} is closed")
        width = len(self.schema.table(table).columns)
        incoming = list(rows)
        for row in incoming:
            if len(row) != width:
                # Refused here, at the caller, rather than poisoning a whole batch later.
                raise ValueError(f"{table} rows have {width} values, got {len(row)}: {row!r}")
        with self._buffer_lock:
            buffer = self._buffers[table]
            buffer.extend(incoming)
            is_full = len(buffer) >= self.flush_rows
        if is_full:
            self.flush(table)

    # -- writing -------------------------------------------------------------------------------

    def flush(self, table: str | None = None) -> int:
        """Write buffered rows (of one table, or all) to the file; return how many were written."""
        names = [table] if table is not None else list(self._buffers)
        with self._write_lock:
            started = time.perf_counter()
            written = 0
            for name in names:
                with self._buffer_lock:
                    rows, self._buffers[name] = self._buffers[name], []
                if rows:
                    written += self._write(name, rows)
            if written:
                self._flushes += 1
                self._last_flush_s = time.perf_counter() - started
                self._last_flush_rows = written
            return written

    def checkpoint(self) -> None:
        """Flush, then fold the WAL into the main file (what snapshots and clean closes need)."""
        with self._write_lock:
            self.flush()
            self._run("CHECKPOINT")

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run a write statement the Appender cannot express (e.g. closing a strategy run)."""
        with self._write_lock:
            self.flush()
            self._run(sql, params)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """Return a new connection to the owned database for one thread's reads (close it)."""
        return self._con.cursor()

    # -- background flushing -------------------------------------------------------------------

    def start(self) -> None:
        """Start the background thread that flushes every ``flush_interval_s``."""
        if self._flusher is not None:
            return
        self._flusher = threading.Thread(target=self._flush_loop, name=f"duck-flush {self.path}")
        self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.flush_interval_s):
            try:
                self.flush()
            except duckdb.Error:
                # Keep flushing later batches; the failed rows were reported via on_reject.
                log.exception("periodic flush of %s failed", self.path)

    # -- copies for other processes ------------------------------------------------------------

    def write_snapshot(self, directory: Path | str, *, keep: int = 3) -> Path:
        """Publish a consistent, read-only-openable copy of the database; return its path.

        The copy is taken right after a CHECKPOINT while writes are held off, written to a
        temporary name and renamed, so readers never see a partial file. Each snapshot gets a new
        name (readers' locks block overwriting); only the newest ``keep`` are kept (unlinking a
        file a reader still has open is safe on POSIX).
        """
        if keep < 1:
            raise ValueError("keep must be >= 1: the snapshot just written is always kept")
        target_dir = Path(directory)
        target_dir.mkdir(parents=True, exist_ok=True)
        stem = self.path.stem
        existing = sorted(list_snapshots(target_dir, stem))
        seq = existing[-1][0] + 1 if existing else 1
        final = target_dir / f"{stem}-{seq:08d}.duckdb"
        temporary = target_dir / f".{final.name}.tmp"
        with self._write_lock:
            self.checkpoint()
            shutil.copyfile(self.path, temporary)
        os.replace(temporary, final)
        for _, old in (*existing, (seq, final))[:-keep]:
            old.unlink(missing_ok=True)
        return final

    def export_segments(self, directory: Path | str) -> list[Path]:
        """Write each append-only table's rows not yet exported as a new immutable Parquet file.

        Files go to ``<directory>/<table>/part-<seq>.parquet`` (tmp + rename). Progress is kept
        in the owned file by row id: append-only tables never delete, so ids only grow.
        """
        written: list[Path] = []
        with self._write_lock:
            self.flush()
            for table in self.schema.tables:
                if table.is_append_only:
                    path = self._export_segment(table, Path(directory) / table.name)
                    if path is not None:
                        written.append(path)
        return written

    def _export_segment(self, table: DuckTable, directory: Path) -> Path | None:
        state = self._run(
            f"SELECT next_rowid, next_seq FROM {SEGMENT_STATE_TABLE} WHERE table_name = ?",
            [table.name],
        )
        start, seq = (int(state[0][0]), int(state[0][1])) if state else (0, 1)
        end_row = self._run(f"SELECT max(rowid) + 1 FROM {table.name}")
        end = int(end_row[0][0]) if end_row and end_row[0][0] is not None else 0
        if end <= start:
            return None
        directory.mkdir(parents=True, exist_ok=True)
        final = directory / f"part-{seq:08d}.parquet"
        temporary = directory / f".{final.name}.tmp"
        columns = ", ".join(table.column_names)
        self._run(
            f"COPY (SELECT {columns} FROM {table.name} WHERE rowid >= {start} AND rowid < {end}) "
            f"TO '{_sql_string(temporary)}' (FORMAT parquet)"
        )
        os.replace(temporary, final)
        # Recorded after the rename: a crash in between re-exports the same rows under the same
        # seq, overwriting the file with identical content rather than skipping rows.
        self._run(
            f"INSERT OR REPLACE INTO {SEGMENT_STATE_TABLE} VALUES (?, ?, ?)",
            [table.name, end, seq + 1],
        )
        return final

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def stats(self) -> WriterStats:
        """Return the writer's counters."""
        with self._buffer_lock:
            buffered = sum(len(rows) for rows in self._buffers.values())
        return WriterStats(
            rows_written=self._rows_written, rows_rejected=self._rows_rejected,
            flushes=self._flushes, buffered=buffered, last_flush_s=self._last_flush_s,
            last_flush_rows=self._last_flush_rows,
        )

    def close(self) -> None:
        """Stop the flusher, write what is buffered, checkpoint and release the file."""
        if self._closed:
            return
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join()
            self._flusher = None
        try:
            self.checkpoint()
        finally:
            self._closed = True
            self._appenders.clear()  # appenders flush on destruction; they are empty by now
            self._sql.close()
            self._con.close()

    def __enter__(self) -> DuckWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------

    def _run(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self._sql.execute(sql, params).fetchall()
        return rows

    def _appender(self, table: str) -> duckdb.Appender:
        appender = self._appenders.get(table)
        if appender is None:
            appender = self._appenders[table] = self._con.appender(table)
        return appender

    def _write(self, table: str, rows: list[Row]) -> int:
        appender = self._appender(table)
        try:
            appender.append_rows(rows)
            appender.flush()
        except duckdb.Error:
            # One bad value fails the whole batch. Drop the half-built batch and retry row by
            # row so good rows land and each bad one is reported: nothing is lost silently.
            appender.clear()
            return self._write_one_by_one(table, appender, rows)
        self._rows_written += len(rows)
        return len(rows)

    def _write_one_by_one(self, table: str, appender: duckdb.Appender, rows: list[Row]) -> int:
        written = 0
        for index, row in enumerate(rows):
            try:
                appender.append_row(*row)
                appender.flush()
            except _ROW_ERRORS as exc:
                appender.clear()
                self._rows_rejected += 1
                self._on_reject(table, row, exc)
            except duckdb.Error:
                # Not this row's fault (disk full, I/O): put the unwritten rows back in front
                # of the buffer so a later flush retries them, and let the caller see the error.
                appender.clear()
                with self._buffer_lock:
                    self._buffers[table][:0] = rows[index:]
                self._rows_written += written
                raise
            else:
                written += 1
        self._rows_written += written
        return written


def list_snapshots(directory: Path, stem: str) -> list[tuple[int, Path]]:
    """Return ``(seq, path)`` of every snapshot of database ``stem`` in ``directory``."""
    found = []
    for path in directory.iterdir():
        match = _SNAPSHOT_NAME.match(path.name)
        if match and match.group("stem") == stem:
            found.append((int(match.group("seq")), path))
    return found


def _sql_string(path: Path) -> str:
    return str(path).replace("'", "''")


def _log_reject(table: str, row: Row, error: Exception) -> None:
    log.warning("%s: row refused by DuckDB (%s): %r", table, error, row)

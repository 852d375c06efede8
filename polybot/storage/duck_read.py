"""Reading DuckDB data from any process *other than* the owner, without touching the live file.

* ``DuckQueryClient`` / ``query_owner``: SQL to the owner's ``QueryServer``, Arrow back. Fresh to
  the last flush (≤ the owner's flush interval); best for small, recent results.
* ``open_snapshot``: the newest checkpointed copy, opened read-only (many readers at once).
* ``open_segments``: an in-memory DuckDB with one view per table over its Parquet segments; new
  segments show up in the views without reopening.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa

from polybot.bus.endpoints import Requester
from polybot.bus.ipc import DEFAULT_OPTIONS, SocketOptions
from polybot.core.errors import BusError, PolybotError
from polybot.storage.duck_owner import list_snapshots
from polybot.storage.duck_query import QUERY_COMMAND, QueryParams, read_arrow_stream

MAX_REPLY_BYTES = 512 * 1024 * 1024  # NNG drops bigger frames; use snapshots for bulk reads


class RemoteQueryError(PolybotError):
    """The owner refused or failed the query; the message is the owner's reason."""


class DuckQueryClient:
    """A ``Requester`` (REQ) to one owner's query endpoint. Not for concurrent use: one per thread."""

    def __init__(
        self, address: str, *, options: SocketOptions = DEFAULT_OPTIONS, resend_s: float = 30.0
    ) -> None:
        self.address = address
        # A re-send re-runs the query on the owner (replies are too big to cache), so re-send
        # only after a long silence, not NNG's default minute-or-less for commands.
        self._requester = Requester(address, options=options, resend_time=resend_s)
        self._requester.socket.recv_max_size = MAX_REPLY_BYTES

    def query(self, sql: str, params: QueryParams = None, *, timeout: float = 10.0) -> pa.Table:
        """Run ``sql`` on the owner and return the result; raise ``RemoteQueryError`` if refused.

        Raises ``BusTimeout`` when no answer arrives within ``timeout`` seconds (owner down or
        busy with a big query).
        """
        args: dict[str, Any] = {"sql": sql}
        if params is not None:
            args["params"] = params if isinstance(params, Mapping) else list(params)
        reply = self._requester.call(QUERY_COMMAND, args, timeout=timeout)
        if not reply.ok:
            raise RemoteQueryError(reply.error)
        if not isinstance(reply.result, bytes):
            raise BusError(f"the owner's reply carries {type(reply.result).__name__}, not Arrow")
        return read_arrow_stream(reply.result)

    def close(self) -> None:
        """Close the socket."""
        self._requester.close()

    def __enter__(self) -> DuckQueryClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def query_owner(
    address: str, sql: str, params: QueryParams = None, *, timeout: float = 10.0
) -> pa.Table:
    """Run one query on the owner at ``address`` (opens and closes a socket; see DuckQueryClient)."""
    with DuckQueryClient(address) as client:
        return client.query(sql, params, timeout=timeout)


def latest_snapshot(directory: Path | str, stem: str) -> Path | None:
    """Return the newest snapshot of database ``stem`` (e.g. ``"analytics"``) in ``directory``."""
    folder = Path(directory)
    if not folder.is_dir():
        return None
    found = list_snapshots(folder, stem)
    return max(found)[1] if found else None


def open_snapshot(directory: Path | str, stem: str) -> duckdb.DuckDBPyConnection:
    """Open the newest snapshot of ``stem`` read-only; raise ``FileNotFoundError`` if none."""
    path = latest_snapshot(directory, stem)
    if path is None:
        raise FileNotFoundError(f"no snapshot of {stem!r} in {directory} yet")
    return duckdb.connect(str(path), read_only=True)


def open_segments(
    directory: Path | str, con: duckdb.DuckDBPyConnection | None = None
) -> duckdb.DuckDBPyConnection:
    """Return a DuckDB connection with a view per table over ``<directory>/<table>/*.parquet``.

    Uses an in-memory database unless ``con`` is given. The views re-list the files on every
    query, so segments published later are included; a table with no segment yet gets no view.
    """
    target = con if con is not None else duckdb.connect()
    root = Path(directory)
    if not root.is_dir():
        return target
    for table_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if not any(table_dir.glob("part-*.parquet")):
            continue
        pattern = str(table_dir / "part-*.parquet").replace("'", "''")
        name = table_dir.name.replace('"', '""')
        target.execute(f"CREATE OR REPLACE VIEW \"{name}\" AS SELECT * FROM read_parquet('{pattern}')")
    return target

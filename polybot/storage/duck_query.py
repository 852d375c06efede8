"""The owner's query endpoint: other processes send SQL, the owner answers with Arrow IPC bytes.

Why this exists: DuckDB lets only one process open a file that is being written — a second
process's ``duckdb.connect(path, read_only=True)`` fails with "Could not set lock on file". So the
owning process answers queries for everyone else over REQ/REP.

Wire: the request is a ``Command(command="duck.query", args={"sql": ..., "params": ...})`` and the
reply a ``Response`` whose ``result`` is an Arrow IPC *stream* (bytes) on success, or ``ok=False``
with ``error`` saying why. Only read-only statements are answered, each inside a
``BEGIN TRANSACTION READ ONLY`` so that even a statement the parser check missed cannot write.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from polybot.bus.endpoints import Replier
from polybot.bus.ipc import DEFAULT_OPTIONS, SocketOptions
from polybot.bus.messages import Command, Response
from polybot.core.clock import wall_ms
from polybot.core.errors import PolybotError

log = logging.getLogger(__name__)

QUERY_COMMAND = "duck.query"
ALLOWED_KEYWORDS = ("SELECT", "WITH", "DESCRIBE", "SHOW", "SUMMARIZE")
QueryParams = Sequence[Any] | Mapping[str, Any] | None

# Leading whitespace, SQL comments and opening parentheses before the first keyword.
_LEADING_NOISE = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*", re.DOTALL)
_FIRST_WORD = re.compile(r"[A-Za-z_]+")


class QueryRejected(PolybotError, ValueError):
    """The SQL is not a single read-only statement, so the owner refuses to run it."""


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise ``QueryRejected`` unless ``sql`` is one SELECT/WITH/DESCRIBE/SHOW/SUMMARIZE statement.

    Two checks: the first keyword (so the rule is the documented one) and DuckDB's own parser
    (so ``SELECT 1; DROP TABLE t`` or a CTE in front of an INSERT cannot slip through).
    """
    head = _FIRST_WORD.match(_LEADING_NOISE.sub("", sql, count=1))
    keyword = head.group(0).upper() if head else ""
    if keyword not in ALLOWED_KEYWORDS:
        raise QueryRejected(
            f"refused {keyword or 'an empty'} statement: the query endpoint is read-only because "
            "the serving process is the only writer of this DuckDB file and other processes "
            f"must not change it; allowed statements start with {', '.join(ALLOWED_KEYWORDS)}"
        )
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRejected(f"cannot parse the query: {exc}") from None
    if len(statements) != 1:
        raise QueryRejected(f"send exactly one statement per request, got {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise QueryRejected(f"refused a {kind.name} statement: the query endpoint is read-only")


def answer_query(con: duckdb.DuckDBPyConnection, sql: str, params: QueryParams = None) -> bytes:
    """Run one read-only query on ``con`` and return the result as Arrow IPC stream bytes.

    ``con`` should be a cursor of the owner's connection dedicated to the calling thread
    (``DuckWriter.cursor()``). Raises ``QueryRejected`` for anything but a read-only statement and
    ``duckdb.Error`` when the query itself fails.
    """
    check_read_only(con, sql)
    con.execute("BEGIN TRANSACTION READ ONLY")
    try:
        relation = con.sql(sql, params=params)
        if relation is None:  # only statements without a result return None
            raise QueryRejected("the statement produced no result set")
        reader = relation.to_arrow_reader()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
    finally:
        con.execute("ROLLBACK")  # read-only: nothing to keep, and it ends the snapshot at once
    result: bytes = sink.getvalue().to_pybytes()
    return result


def read_arrow_stream(data: bytes) -> pa.Table:
    """Return the table carried by Arrow IPC stream ``data`` (the reply of ``answer_query``)."""
    return pa.ipc.open_stream(data).read_all()


class QueryServer:
    """Answer ``duck.query`` commands on a ``Replier`` (REP) from a background thread.

    ``cursor_factory`` returns the DuckDB connection the serving thread queries (usually
    ``DuckWriter.cursor``, so reads see every flushed row). Requests are answered one at a time.
    The replier's idempotency cache is kept tiny: replies can be megabytes of Arrow, and re-running
    a read-only query for a re-sent request is harmless.
    """

    def __init__(
        self,
        address: str,
        cursor_factory: Callable[[], duckdb.DuckDBPyConnection],
        *,
        options: SocketOptions = DEFAULT_OPTIONS,
        cache_size: int = 4,
        poll_s: float = 0.2,
    ) -> None:
        self.address = address
        self._cursor_factory = cursor_factory
        self._options = options
        self._cache_size = cache_size
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._replier: Replier | None = None
        self.answered = 0
        self.refused = 0

    def start(self) -> None:
        """Listen and start serving (listen errors, e.g. address in use, raise here)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._replier = Replier(self.address, cache_size=self._cache_size, options=self._options)
        self._thread = threading.Thread(
            target=self._serve, args=(self._replier,), name=f"duck-query {self.address}"
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving (after the request in flight) and close the socket."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._replier is not None:
            self._replier.close()
            self._replier = None

    def __enter__(self) -> QueryServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def handle(self, con: duckdb.DuckDBPyConnection, command: Command) -> Response:
        """Return the response to one command, running it on ``con``."""
        if command.command != QUERY_COMMAND:
            self.refused += 1
            return _error(command, f"unknown command {command.command!r}; "
                                   f"this endpoint answers {QUERY_COMMAND!r} only")
        sql = command.args.get("sql")
        params = command.args.get("params")
        if not isinstance(sql, str):
            self.refused += 1
            return _error(command, "args.sql must be a string")
        try:
            data = answer_query(con, sql, params)
        except (QueryRejected, duckdb.Error) as exc:
            self.refused += 1
            return _error(command, f"{type(exc).__name__}: {exc}")
        self.answered += 1
        return Response(request_id=command.request_id, ok=True, result=data, timestamp=wall_ms())

    def _serve(self, replier: Replier) -> None:
        con = self._cursor_factory()
        try:
            replier.handler = lambda command: self.handle(con, command)
            replier.serve(self._stop, poll=self._poll_s)
        except Exception:
            log.exception("query server on %s stopped", self.address)
            raise
        finally:
            con.close()


def _error(command: Command, error: str) -> Response:
    return Response(request_id=command.request_id, ok=False, error=error, timestamp=wall_ms())

"""The runner's REP endpoint on ``bus.strategy_logs_req``: DuckDB queries and ``runner.status``.

The runner owns ``strategy_logs.duckdb`` (only one process may open it), so other processes
query it here with ``duck.query`` (Arrow IPC back, read-only statements only — see
``polybot.storage.duck_query``). ``runner.status`` returns every instance's state; the state
service asks it for the ``strategies`` query. Queries run in a worker thread so a slow query
never stalls the strategies; requests are answered one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import duckdb

from polybot.bus.endpoints import Replier
from polybot.bus.ipc import SocketOptions
from polybot.bus.messages import Command, Response
from polybot.core.clock import wall_ms
from polybot.statecmd.server import serve_replier
from polybot.storage.duck_query import QUERY_COMMAND, QueryServer

STATUS_COMMAND = "runner.status"


class RunnerEndpoint:
    """Serve ``duck.query`` and ``runner.status`` on the running loop."""

    def __init__(
        self,
        address: str,
        cursor_factory: Callable[[], duckdb.DuckDBPyConnection],
        status: Callable[[], dict[str, Any]],
        *,
        options: SocketOptions,
    ) -> None:
        self._queries = QueryServer(address, cursor_factory)  # used for its handler only
        self._cursor = cursor_factory()
        self._status = status
        # Arrow replies can be large: cache only a few for REQ resends (re-running is harmless).
        self._replier = Replier(address, self._handle, cache_size=8, options=options)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start answering on the running loop."""
        self._task = asyncio.create_task(serve_replier(self._replier))

    async def _handle(self, command: Command) -> Response:
        if command.command == STATUS_COMMAND:
            return Response(
                request_id=command.request_id, ok=True, result=self._status(), timestamp=wall_ms()
            )
        if command.command == QUERY_COMMAND:
            return await asyncio.to_thread(self._queries.handle, self._cursor, command)
        return Response(
            request_id=command.request_id,
            ok=False,
            error=f"unknown command {command.command!r}; this endpoint answers "
            f"{QUERY_COMMAND!r} and {STATUS_COMMAND!r}",
            timestamp=wall_ms(),
        )

    async def close(self) -> None:
        """Stop answering and close the socket and the cursor."""
        self._replier.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._cursor.close()

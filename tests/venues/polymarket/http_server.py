"""A small real HTTP server for client tests: uvicorn on 127.0.0.1 (ephemeral port) in a thread.

Tests register replies per (method, path): a fixed ``Reply`` or a function of the recorded request.
One-shot ``script`` replies are consumed first, which is how faults are injected: 5xx, 425, 429
with ``Retry-After``, slow answers (the client times out) and connection resets (the server
starts a response and drops the connection mid-body). Every request is recorded with its exact
body bytes and headers, so tests can verify what went on the wire (e.g. L2 signatures).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    def param(self, name: str) -> str | None:
        """Return the first value of a query parameter."""
        return next((v for k, v in self.query if k == name), None)

    def params(self, name: str) -> list[str]:
        """Return every value of a (repeated) query parameter."""
        return [v for k, v in self.query if k == name]


@dataclass
class Reply:
    """What to answer: JSON (``json``) or raw ``body``; optional delay or connection reset."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    reset: bool = False


Handler = Callable[[Recorded], Reply]


class _ResetConnection(Exception):
    """Raised inside the app after a partial body: uvicorn then drops the connection."""


class FixtureServer:
    """The server. ``base_url`` is ``http://127.0.0.1:<port>``; mount APIs under any prefix."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], Reply | Handler] = {}
        self._scripts: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self.recorded: list[Recorded] = []
        config = uvicorn.Config(self._app, host="127.0.0.1", port=0, log_level="critical",
                                access_log=False, lifespan="off", interface="asgi3")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fixture-http",
                                        daemon=True)
        self.base_url = ""

    def start(self) -> FixtureServer:
        """Start serving and wait until the port is bound."""
        self._thread.start()
        for _ in range(500):
            if self._server.started:
                break
            self._thread.join(0.01)
        else:
            raise RuntimeError("test HTTP server did not start")
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.should_exit = True
        self._thread.join(10)

    def reset(self) -> None:
        """Forget routes, scripts and recorded requests (between tests)."""
        with self._lock:
            self._routes.clear()
            self._scripts.clear()
            self.recorded.clear()

    def route(self, method: str, path: str, reply: Reply | Handler) -> None:
        """Answer every ``method path`` request with ``reply`` (after any scripted replies)."""
        with self._lock:
            self._routes[(method.upper(), path)] = reply

    def script(self, method: str, path: str, *replies: Reply) -> None:
        """Queue one-shot replies for ``method path``, used in order before the route."""
        with self._lock:
            self._scripts[(method.upper(), path)].extend(replies)

    def requests(self, path: str | None = None, method: str | None = None) -> list[Recorded]:
        """Return the recorded requests, optionally only those for ``path``/``method``."""
        with self._lock:
            return [r for r in self.recorded
                    if (path is None or r.path == path) and (method is None or r.method == method)]

    def _pick(self, request: Recorded) -> Reply:
        key = (request.method, request.path)
        with self._lock:
            self.recorded.append(request)
            queue = self._scripts.get(key)
            if queue:
                return queue.popleft()
            handler = self._routes.get(key)
        if handler is None:
            return Reply(status=404, json={"error": f"no route for {request.method} {request.path}"})
        return handler(request) if callable(handler) else handler

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        request = Recorded(
            method=scope["method"], path=scope["path"],
            query=parse_qsl(scope["query_string"].decode(), keep_blank_values=True),
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body=b"".join(chunks),
        )
        reply = self._pick(request)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        content = reply.body if reply.body is not None else json.dumps(reply.json).encode()
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(content) + (100 if reply.reset else 0)).encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in reply.headers.items()]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        if reply.reset:
            await send({"type": "http.response.body", "body": content[:1], "more_body": True})
            raise _ResetConnection("scripted connection reset")
        await send({"type": "http.response.body", "body": content})


_shared: FixtureServer | None = None


def shared_server() -> FixtureServer:
    """Return the process-wide server, starting it on first use (one port for the whole run)."""
    global _shared
    if _shared is None:
        _shared = FixtureServer().start()
    return _shared

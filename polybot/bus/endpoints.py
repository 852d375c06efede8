"""Request/reply over NNG: ``Requester`` (REQ, dials) and ``Replier`` (REP, listens).

* ``Requester.request`` / ``arequest`` send a ``Command`` and return its ``Response`` or raise
  ``BusTimeout`` — a REQ with no REP would otherwise wait forever.
* NNG's REQ re-sends a request after ``resend_time`` and whenever its pipe changes, so a REP can
  receive the same request twice. ``Replier`` is idempotent: it caches the encoded response of
  recent ``request_id``s (LRU) and replays it for a duplicate instead of running the handler
  again. ``request_id`` must therefore be unique per logical request (``new_request_id()``).
* A request that does not decode never kills the replier: it is answered with
  ``Response(ok=False, error=reason)``, using the request's id when it can be read and
  ``"unknown"`` otherwise. A handler that raises becomes ``ok=False`` with the error text.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import pynng

from polybot.bus import codec
from polybot.bus.ipc import DEFAULT_OPTIONS, SocketOptions, dial, listen, open_socket
from polybot.bus.messages import Command, Response
from polybot.bus.nng import Endpoint
from polybot.core.clock import wall_ms
from polybot.core.errors import BusError, BusTimeout, WireError

log = logging.getLogger(__name__)

Handler = Callable[[Command], Response]
AsyncHandler = Callable[[Command], Response | Awaitable[Response]]

UNKNOWN_REQUEST = "unknown"
_raw_decoder = msgspec.msgpack.Decoder()


def new_request_id() -> str:
    """Return a fresh, globally unique request id."""
    return uuid.uuid4().hex


class Requester(Endpoint):
    """REQ socket dialing a replier at ``address``.

    ``resend_time`` (seconds) is how long NNG waits for a reply before re-sending the request;
    the replier's cache makes the duplicates harmless. Sync ``request`` calls are serialised
    per requester; concurrent ``arequest`` calls each get their own NNG context.
    """

    def __init__(
        self, address: str, *, options: SocketOptions = DEFAULT_OPTIONS,
        resend_time: float = 1.0,
    ) -> None:
        sock = open_socket(pynng.Req0, options, resend_time=int(resend_time * 1000))
        try:
            dial(sock, address)
        except BaseException:
            sock.close()
            raise
        super().__init__(sock, address, options)
        self._lock = threading.Lock()

    def request(self, command: Command, timeout: float | None = None) -> Response:
        """Send ``command`` and return its response; ``BusTimeout`` after ``timeout`` seconds.

        ``timeout`` (default: the socket's receive timeout) covers the send and the reply.
        """
        budget = self._budget(timeout)
        deadline = time.monotonic() + budget
        frame = codec.encode(command)
        with self._lock:
            try:
                self._sock.send_timeout = _ms(budget)
                self._sock.send(frame)
                self._sock.recv_timeout = _ms(max(deadline - time.monotonic(), 0.001))
                reply: bytes = self._sock.recv()
            except pynng.Timeout:
                raise self._timeout(command, budget) from None
            except pynng.Closed:
                raise BusError(f"{self._address}: requester is closed") from None
        return self._check(command, reply)

    # timeout= (not asyncio.timeout) mirrors request() and raises BusTimeout like it.
    async def arequest(
        self, command: Command, timeout: float | None = None,  # noqa: ASYNC109
    ) -> Response:
        """Async ``request``: the same semantics, without blocking the event loop.

        Uses pynng's ``asend``/``arecv`` on a per-call context; their per-message overhead is
        irrelevant at request/reply rates.
        """
        budget = self._budget(timeout)
        frame = codec.encode(command)
        try:
            context = self._sock.new_context()
        except pynng.Closed:
            raise BusError(f"{self._address}: requester is closed") from None
        try:
            async with asyncio.timeout(budget):
                await context.asend(frame)
                reply: bytes = await context.arecv()
        except TimeoutError:
            raise self._timeout(command, budget) from None
        except pynng.Closed:
            raise BusError(f"{self._address}: requester is closed") from None
        finally:
            context.close()
        return self._check(command, reply)

    def call(
        self, command: str, args: dict[str, Any] | None = None, *, token: str = "",
        timeout: float | None = None,
    ) -> Response:
        """Build a ``Command`` with a fresh request id, send it, and return the response."""
        return self.request(
            Command(
                request_id=new_request_id(), command=command, args=args or {}, token=token,
                timestamp=wall_ms(),
            ),
            timeout,
        )

    def _budget(self, timeout: float | None) -> float:
        return self._options.recv_timeout_ms / 1000 if timeout is None else timeout

    def _timeout(self, command: Command, budget: float) -> BusTimeout:
        return BusTimeout(
            f"no reply to {command.command!r} ({command.request_id}) from {self._address} "
            f"within {budget:g} s (is the service running?)"
        )

    def _check(self, command: Command, reply: bytes) -> Response:
        response = codec.decode_as(reply, Response)
        if response.request_id not in (command.request_id, UNKNOWN_REQUEST):
            raise BusError(
                f"{self._address} answered request {response.request_id!r} to "
                f"{command.request_id!r}: the replier is not following the protocol"
            )
        return response


@dataclass(frozen=True, slots=True)
class ReplierStats:
    """Counters of a ``Replier``."""

    handled: int       # handler invocations
    duplicates: int    # re-sent requests answered from the cache
    malformed: int     # requests that did not decode
    errors: int        # handler invocations that raised or returned a non-Response


class Replier(Endpoint):
    """REP socket listening on ``address``; answers each ``Command`` with ``handler``'s Response.

    Serve it with ``serve()`` (a thread), ``serve_once()`` (your own loop) or ``await aserve()``
    (asyncio; the handler may be async). Requests are handled one at a time, in arrival order.
    ``cache_size`` bounds the idempotency cache: a duplicate arriving after that many newer
    requests would run the handler again, so keep it well above requests per resend interval.
    """

    def __init__(
        self, address: str, handler: AsyncHandler | None = None, *, cache_size: int = 1024,
        options: SocketOptions = DEFAULT_OPTIONS,
    ) -> None:
        if cache_size < 1:
            raise ValueError("cache_size must be at least 1")
        sock = open_socket(pynng.Rep0, options)
        try:
            listen(sock, address)
        except BaseException:
            sock.close()
            raise
        super().__init__(sock, address, options)
        self.handler = handler
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_size = cache_size
        self._handled = 0
        self._duplicates = 0
        self._malformed = 0
        self._errors = 0
        self._timeout_ms = options.recv_timeout_ms

    @property
    def stats(self) -> ReplierStats:
        """Return the counters."""
        return ReplierStats(self._handled, self._duplicates, self._malformed, self._errors)

    def serve_once(self, timeout: float | None = None) -> bool:
        """Answer one request; return False if none arrived within ``timeout`` seconds.

        Only sync handlers can run here (an awaitable result is answered as an error).
        """
        wanted = self._options.recv_timeout_ms if timeout is None else max(_ms(timeout), 1)
        try:
            if wanted != self._timeout_ms:
                self._sock.recv_timeout = wanted
                self._timeout_ms = wanted
            frame: bytes = self._sock.recv()
        except pynng.Timeout:
            return False
        except pynng.Closed:
            raise BusError(f"{self._address}: replier is closed") from None
        command, reply = self._lookup(frame)
        if command is not None:
            reply = self._run_sync(command)
        self._reply(reply)
        return True

    def serve(self, stop: threading.Event | None = None, poll: float = 0.25) -> None:
        """Answer requests until ``close()`` is called or ``stop`` is set (checked every ``poll`` s)."""
        while not self._closed and not (stop is not None and stop.is_set()):
            try:
                self.serve_once(poll)
            except BusError:
                if self._closed:
                    return
                raise

    async def aserve(self) -> None:
        """Answer requests on the running loop until the replier is closed or the task cancelled."""
        while not self._closed:
            try:
                frame: bytes = await self._sock.arecv()
            except pynng.Timeout:
                continue  # an idle endpoint just keeps waiting; close() or cancel() ends it
            except pynng.Closed:
                return
            command, reply = self._lookup(frame)
            if command is not None:
                try:
                    result: Any = self._invoke(command)
                    if inspect.isawaitable(result):
                        result = await result
                except Exception as exc:
                    result = exc
                reply = self._store(command, result)
            try:
                await self._sock.asend(reply)
            except pynng.Closed:
                return
            except pynng.NNGException as exc:
                log.warning("%s: could not send a reply: %s", self._address, exc)

    def _invoke(self, command: Command) -> Any:
        if self.handler is None:
            raise BusError(f"{self._address}: replier has no handler")
        self._handled += 1
        return self.handler(command)

    def _run_sync(self, command: Command) -> bytes:
        try:
            result = self._invoke(command)
            if inspect.isawaitable(result):
                close = getattr(result, "close", None)
                if close is not None:
                    close()  # a never-awaited coroutine would warn; this is a usage error
                raise TypeError("the handler is async: serve it with aserve()")
        except Exception as exc:
            return self._store(command, exc)
        return self._store(command, result)

    def _lookup(self, frame: bytes) -> tuple[Command | None, bytes]:
        """Return (command to run, b"") or (None, reply to send right away)."""
        try:
            command = codec.decode_as(frame, Command)
        except WireError as exc:
            self._malformed += 1
            log.warning("%s: malformed request: %s", self._address, exc.reason)
            request_id = _salvage_request_id(frame)
            return None, codec.encode(
                Response(request_id=request_id, ok=False, error=exc.reason, timestamp=wall_ms())
            )
        cached = self._cache.get(command.request_id)
        if cached is not None:
            self._duplicates += 1
            self._cache.move_to_end(command.request_id)
            return None, cached
        return command, b""

    def _store(self, command: Command, result: Any) -> bytes:
        if isinstance(result, Response):
            response = result
            if response.request_id != command.request_id:
                response = msgspec.structs.replace(response, request_id=command.request_id)
        else:
            self._errors += 1
            if isinstance(result, BaseException):
                error = f"{type(result).__name__}: {result}"
                log.warning("%s: handler failed on %r: %s", self._address, command.command, error)
            else:
                error = f"internal error: the handler returned {type(result).__name__}, not Response"
                log.error("%s: %s", self._address, error)
            response = Response(
                request_id=command.request_id, ok=False, error=error, timestamp=wall_ms()
            )
        # Handler errors are cached too: a re-sent request must see the same answer, and a
        # client that wants a retry sends a new request id.
        reply = codec.encode(response)
        self._cache[command.request_id] = reply
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return reply

    def _reply(self, reply: bytes) -> None:
        try:
            self._sock.send(reply)
        except pynng.Closed:
            raise BusError(f"{self._address}: replier is closed") from None
        except pynng.NNGException as exc:
            # The requester may be gone; it will re-send (and hit the cache) if it is not.
            log.warning("%s: could not send a reply: %s", self._address, exc)


def _salvage_request_id(frame: bytes) -> str:
    try:
        raw = _raw_decoder.decode(frame)
    except msgspec.DecodeError:
        return UNKNOWN_REQUEST
    request_id = raw.get("request_id") if isinstance(raw, dict) else None
    return request_id if isinstance(request_id, str) and request_id else UNKNOWN_REQUEST


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 0)

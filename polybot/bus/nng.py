"""The streaming bus over NNG: Publisher/Subscriber (PUB/SUB) and Pusher/Puller (PUSH/PULL).

Request/reply lives in ``polybot.bus.endpoints``; the asyncio receive path in ``polybot.bus.aio``.
The rules (docs/bus.md):

* Listeners: ``Publisher`` and ``Puller`` (one per address; a second live one is a ``BusError``).
  Dialers: ``Subscriber`` and ``Pusher`` (dial without blocking, reconnect within ~100 ms).
* Every blocking call has a timeout and raises ``BusTimeout``; nothing waits forever.
* A Publisher stamps ``seq`` 1, 2, 3, … on every message. A Subscriber that receives everything
  checks the numbers: a jump is a *gap* (messages lost while connected: buffers overflowed), a
  step back — or any jump right after the connection dropped — is a *reset* (the publisher
  restarted). Both call ``on_gap`` so the consumer can re-snapshot over REQ/REP.
* A frame that does not decode is counted and handed to ``on_malformed`` (services dead-letter
  it); the receiver carries on with the next frame.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import msgspec
import pynng

from polybot.bus import codec
from polybot.bus.ipc import DEFAULT_OPTIONS, SocketOptions, dial, listen, open_socket
from polybot.bus.messages import AnyMessage, Message
from polybot.core.errors import BusError, BusTimeout, WireError

log = logging.getLogger(__name__)

_raw_decoder = msgspec.msgpack.Decoder()


@dataclass(frozen=True, slots=True)
class Gap:
    """A discontinuity in a publisher's sequence numbers.

    ``reset`` is True when the stream restarted (publisher restart or reconnection) rather than
    dropped messages while connected; then ``missed`` is 0 because it cannot be known.
    """

    expected: int
    received: int
    missed: int
    reset: bool


@dataclass(frozen=True, slots=True)
class ReceiveStats:
    """Counters of one receiving endpoint (a snapshot; read ``.stats`` again for fresh ones)."""

    received: int          # valid messages decoded
    malformed: int         # frames that failed to decode (handed to on_malformed)
    gaps: int              # forward jumps in seq while connected
    missed: int            # messages lost in those gaps
    resets: int            # publisher restarts / reconnections seen
    last_seq: int          # last seq seen (0: none yet, or tracking off)
    callback_errors: int   # exceptions raised by on_gap / on_malformed / message callbacks


GapHandler = Callable[[Gap], None]
MalformedHandler = Callable[[bytes, WireError], None]


class Inbox:
    """Decoding, sequence tracking and malformed-frame accounting for one receiving socket.

    Shared by the sync receivers and the asyncio path so both count exactly the same way.
    """

    __slots__ = (
        "_gaps", "_last_seq", "_lost_after", "_malformed", "_missed", "_name",
        "_on_gap", "_on_malformed", "_resets", "callback_errors", "received", "track_seq",
    )

    def __init__(
        self, name: str, *, track_seq: bool, on_gap: GapHandler | None = None,
        on_malformed: MalformedHandler | None = None,
    ) -> None:
        self._name = name
        self.track_seq = track_seq
        self._on_gap = on_gap
        self._on_malformed = on_malformed
        self.received = 0
        self.callback_errors = 0
        self._malformed = 0
        self._gaps = 0
        self._missed = 0
        self._resets = 0
        self._last_seq = 0
        self._lost_after = -1  # value of `received` when a pipe last dropped (-1: none)

    def accept(self, frame: bytes) -> AnyMessage | None:
        """Return the decoded message, or None after accounting for a malformed frame."""
        try:
            message = codec.decode(frame)
        except WireError as exc:
            self._reject(frame, exc)
            return None
        self.received += 1
        if self.track_seq:
            seq = getattr(message, "seq", 0)
            # Hot path: in-order frames cost one comparison; everything else goes out of line.
            if seq == self._last_seq + 1:
                self._last_seq = seq
            elif seq:
                self._discontinuity(seq)
        return message

    def connection_lost(self) -> None:
        """Note that the pipe to the publisher dropped (called from an NNG thread)."""
        self._lost_after = self.received

    def resync(self) -> None:
        """Forget the last seq (tracking was just switched on): the next one is a fresh start."""
        self._last_seq = 0
        self._lost_after = -1

    @property
    def stats(self) -> ReceiveStats:
        """Return a snapshot of the counters."""
        return ReceiveStats(
            received=self.received, malformed=self._malformed, gaps=self._gaps,
            missed=self._missed, resets=self._resets, last_seq=self._last_seq,
            callback_errors=self.callback_errors,
        )

    def _discontinuity(self, seq: int) -> None:
        last = self._last_seq
        self._last_seq = seq
        # "Right after the pipe dropped" = nothing was read between the drop and this frame.
        # Frames the old pipe left in the buffer are read after the drop and make it stale.
        lost = self._lost_after >= 0 and self._lost_after >= self.received - 1
        self._lost_after = -1
        if last == 0:
            return  # first frame after joining mid-stream: nothing to compare with
        if seq <= last or lost:
            # A step back means a new publisher incarnation (it restarts at 1). A jump right
            # after the pipe dropped cannot be told apart from one, so it is a reset too:
            # either way the consumer must re-snapshot, and `missed` would be a guess.
            self._resets += 1
            gap = Gap(expected=last + 1, received=seq, missed=0, reset=True)
        else:
            missed = seq - last - 1
            self._gaps += 1
            self._missed += missed
            gap = Gap(expected=last + 1, received=seq, missed=missed, reset=False)
        if self._on_gap is not None:
            try:
                self._on_gap(gap)
            except Exception:
                self.callback_errors += 1
                log.exception("%s: on_gap callback failed", self._name)
        elif not gap.reset and (self._gaps == 1 or self._gaps % 100 == 0):
            log.warning(
                "%s: %d gap(s), latest %d message(s) lost before seq %d",
                self._name, self._gaps, gap.missed, seq,
            )

    def _reject(self, frame: bytes, exc: WireError) -> None:
        self._malformed += 1
        if self.track_seq:
            # The frame still used up a sequence number; without this its slot would look lost.
            seq = _salvage_seq(frame)
            if seq:
                if seq == self._last_seq + 1:
                    self._last_seq = seq
                else:
                    self._discontinuity(seq)
        if self._on_malformed is not None:
            try:
                self._on_malformed(frame, exc)
            except Exception:
                self.callback_errors += 1
                log.exception("%s: on_malformed callback failed", self._name)
        elif self._malformed == 1 or self._malformed % 1000 == 0:
            log.warning("%s: %d malformed frame(s), latest: %s", self._name, self._malformed, exc)


def _salvage_seq(frame: bytes) -> int:
    try:
        raw = _raw_decoder.decode(frame)
    except msgspec.DecodeError:
        return 0
    seq = raw.get("seq") if isinstance(raw, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) and seq > 0 else 0


class Endpoint:
    """One NNG socket bound to one address; closes on ``with`` exit and on ``close()``."""

    def __init__(self, sock: pynng.Socket, address: str, options: SocketOptions) -> None:
        self._sock = sock
        self._address = address
        self._options = options
        self._closed = False

    @property
    def address(self) -> str:
        """Return the address this endpoint listens on or dials."""
        return self._address

    @property
    def socket(self) -> Any:
        """Return the underlying ``pynng`` socket (for advanced use; keep the bus rules)."""
        return self._sock

    @property
    def closed(self) -> bool:
        """Return True once ``close()`` ran."""
        return self._closed

    @property
    def peers(self) -> int:
        """Return how many peers are connected right now."""
        return len(self._sock.pipes)

    def wait_for_peers(self, count: int = 1, timeout: float = 5.0) -> None:
        """Block until at least ``count`` peers are connected, or raise ``BusTimeout``.

        A publisher that must not lose its first messages waits for its subscribers first:
        PUB drops everything sent before a subscriber's pipe exists.
        """
        deadline = time.monotonic() + timeout
        while len(self._sock.pipes) < count:
            if time.monotonic() >= deadline:
                raise BusTimeout(
                    f"{self._address}: {len(self._sock.pipes)} of {count} peer(s) connected "
                    f"after {timeout:g} s"
                )
            time.sleep(0.005)

    def close(self) -> None:
        """Close the socket (idempotent)."""
        if not self._closed:
            self._closed = True
            self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self.peers} peer(s)"
        return f"{type(self).__name__}({self._address!r}, {state})"


class Receiver(Endpoint):
    """A socket that receives: typed ``recv``, raw ``recv_raw``, non-blocking ``try_recv``."""

    def __init__(self, sock: pynng.Socket, address: str, options: SocketOptions, inbox: Inbox):
        super().__init__(sock, address, options)
        self.inbox = inbox
        self._timeout_ms = options.recv_timeout_ms
        self._lock = threading.Lock()

    @property
    def stats(self) -> ReceiveStats:
        """Return the receive counters."""
        return self.inbox.stats

    def recv(self, timeout: float | None = None) -> AnyMessage:
        """Return the next valid message; raise ``BusTimeout`` after ``timeout`` seconds.

        ``timeout`` defaults to the socket's ``recv_timeout_ms``. Malformed frames are counted,
        passed to ``on_malformed`` and skipped, within the same deadline.
        """
        message = self.inbox.accept(self._recv_frame(timeout))
        if message is None:  # rare: keep the deadline bookkeeping off the hot path
            message = self._recv_after_malformed(timeout)
        return message

    def _recv_after_malformed(self, timeout: float | None) -> AnyMessage:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            message = self.inbox.accept(self._recv_frame(timeout))
            if message is not None:
                return message
            if deadline is not None:
                timeout = max(deadline - time.monotonic(), 0.0)

    def recv_raw(self, timeout: float | None = None) -> bytes:
        """Return the next frame undecoded (benchmarks, tap); bypasses the counters."""
        return self._recv_frame(timeout)

    def try_recv(self) -> AnyMessage | None:
        """Return the next valid message if one is queued, else None (never blocks)."""
        while True:
            try:
                frame = self._sock.recv(block=False)
            except pynng.TryAgain:
                return None
            except pynng.Closed:
                raise BusError(f"{self._address}: socket is closed") from None
            message = self.inbox.accept(frame)
            if message is not None:
                return message

    def __iter__(self) -> Iterator[AnyMessage]:
        """Yield messages until the endpoint is closed (idle periods just keep waiting)."""
        while not self._closed:
            try:
                yield self.recv()
            except BusTimeout:
                continue
            except BusError:
                if self._closed:
                    return
                raise

    def _recv_frame(self, timeout: float | None) -> bytes:
        if timeout is None:
            wanted = self._options.recv_timeout_ms
        else:
            wanted = int(timeout * 1000) if timeout > 0 else 0
        try:
            if wanted != self._timeout_ms:  # setting an NNG option per call would cost ~1 µs
                with self._lock:
                    self._sock.recv_timeout = wanted
                    self._timeout_ms = wanted
            frame: bytes = self._sock.recv()
        except pynng.Timeout:
            raise BusTimeout(f"no message on {self._address} within {wanted / 1000:g} s") from None
        except pynng.Closed:
            raise BusError(f"{self._address}: socket is closed") from None
        return frame


class Publisher(Endpoint):
    """PUB socket, listening on ``address``. Stamps ``seq`` (1, 2, …) on every message.

    ``publish`` never blocks: NNG's PUB drops for a subscriber whose buffer is full (the
    subscriber then sees a gap). Publish synchronously even in asyncio code — ``asend`` costs
    ~10× more per message and gains nothing because PUB does not wait.
    """

    def __init__(self, address: str, *, options: SocketOptions = DEFAULT_OPTIONS) -> None:
        sock = open_socket(pynng.Pub0, options)
        try:
            listen(sock, address)
        except BaseException:
            sock.close()
            raise
        super().__init__(sock, address, options)
        self._seq = 0
        self._send_lock = threading.Lock()

    @property
    def seq(self) -> int:
        """Return the last sequence number stamped (0 before the first publish)."""
        return self._seq

    def publish(self, message: Message) -> int:
        """Stamp ``message`` with the next seq, send it, and return that seq."""
        with self._send_lock:  # seq order must equal send order when threads share a publisher
            seq = self._seq + 1
            self._send(codec.encode(codec.with_seq(message, seq)))
            self._seq = seq
        return seq

    def publish_frame(self, frame: bytes) -> None:
        """Send an already-encoded frame as is (relays and benchmarks; no seq is stamped)."""
        self._send(frame)

    def _send(self, frame: bytes) -> None:
        try:
            self._sock.send(frame)
        except pynng.Timeout:
            raise BusTimeout(f"publish on {self._address} timed out") from None
        except pynng.Closed:
            raise BusError(f"{self._address}: publisher is closed") from None


class Subscriber(Receiver):
    """SUB socket dialing a publisher at ``address``.

    ``topics`` are byte prefixes matched by NNG in C before Python sees a frame; build them with
    ``codec.subscription_prefix(MessageType, market_id)`` or ``subscribe_to``. ``None`` (the
    default) receives everything. Sequence gaps can only be judged when receiving everything, so
    tracking is on exactly while the empty topic is subscribed; resets and gaps then call
    ``on_gap``.
    """

    def __init__(
        self, address: str, *, topics: Iterable[bytes] | None = None,
        on_gap: GapHandler | None = None, on_malformed: MalformedHandler | None = None,
        options: SocketOptions = DEFAULT_OPTIONS,
    ) -> None:
        wanted = [b""] if topics is None else list(topics)
        inbox = Inbox(
            f"sub {address}", track_seq=b"" in wanted, on_gap=on_gap, on_malformed=on_malformed,
        )
        sock = open_socket(pynng.Sub0, options)
        try:
            sock.add_post_pipe_remove_cb(lambda _pipe: inbox.connection_lost())
            self._topics: list[bytes] = []
            super().__init__(sock, address, options, inbox)
            for topic in wanted:
                self.subscribe(topic)
            dial(sock, address)
        except BaseException:
            sock.close()
            raise

    @property
    def topics(self) -> tuple[bytes, ...]:
        """Return the subscribed prefixes (``b""`` means everything)."""
        return tuple(self._topics)

    @property
    def gap_detection(self) -> bool:
        """Return True when sequence numbers are being checked (subscribed to everything)."""
        return self.inbox.track_seq

    def subscribe(self, topic: bytes) -> None:
        """Add a prefix subscription."""
        if topic in self._topics:
            return
        self._sock.subscribe(topic)
        self._topics.append(topic)
        if topic == b"" and not self.inbox.track_seq:
            self.inbox.resync()
            self.inbox.track_seq = True

    def unsubscribe(self, topic: bytes) -> None:
        """Remove a prefix subscription (frames already queued still arrive)."""
        if topic not in self._topics:
            return
        self._sock.unsubscribe(topic)
        self._topics.remove(topic)
        if topic == b"":
            self.inbox.track_seq = False

    def subscribe_to(self, message_type: type[Message], market_id: str | None = None) -> bytes:
        """Subscribe to one message type (for one market, if given); return the prefix used."""
        prefix = codec.subscription_prefix(message_type, market_id)
        self.subscribe(prefix)
        return prefix


class Pusher(Endpoint):
    """PUSH socket dialing a puller at ``address`` (many pushers, one puller).

    ``send`` waits while no puller is connected or the buffers are full, for at most the send
    timeout, then raises ``BusTimeout`` — a PUSH without a timeout would wait forever. NNG would
    happily queue 8192 messages with no puller at all; ``send`` refuses to (``require_peer``),
    so a sender learns at once that the executor is not there instead of filling a queue that
    dies with the process.

    **Closing discards whatever NNG still has queued.** ``close`` therefore lingers: it waits
    until ``linger`` seconds have passed since the last send. That is best effort, not an
    acknowledgement; a signal sender must wait for the executor's fate event (accepted /
    rejected / filled) on the events bus to know a signal arrived.
    """

    def __init__(
        self, address: str, *, options: SocketOptions = DEFAULT_OPTIONS, linger: float = 0.5,
        require_peer: bool = True,
    ) -> None:
        sock = open_socket(pynng.Push0, options)
        try:
            dial(sock, address)
        except BaseException:
            sock.close()
            raise
        super().__init__(sock, address, options)
        self.linger = linger
        self.require_peer = require_peer
        self._last_send = 0.0
        self._timeout_ms = options.send_timeout_ms
        self._lock = threading.Lock()

    def send(self, message: Message, timeout: float | None = None) -> None:
        """Encode and send ``message``; raise ``BusTimeout`` if no puller takes it in time."""
        self.send_frame(codec.encode(message), timeout)

    def send_frame(self, frame: bytes, timeout: float | None = None) -> None:
        """Send an already-encoded frame (``timeout`` in seconds; default: the socket's)."""
        wanted = self._options.send_timeout_ms if timeout is None else max(int(timeout * 1000), 0)
        if self.require_peer and not self._sock.pipes:
            self._await_puller(wanted / 1000)
        try:
            if wanted != self._timeout_ms:
                with self._lock:
                    self._sock.send_timeout = wanted
                    self._timeout_ms = wanted
            self._sock.send(frame)
        except pynng.Timeout:
            raise BusTimeout(
                f"no puller took the message on {self._address} within {wanted / 1000:g} s "
                "(is the receiving service running?)"
            ) from None
        except pynng.Closed:
            raise BusError(f"{self._address}: pusher is closed") from None
        self._last_send = time.monotonic()

    def _await_puller(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._sock.pipes:
            if self._closed:
                raise BusError(f"{self._address}: pusher is closed")
            if time.monotonic() >= deadline:
                raise BusTimeout(
                    f"no puller connected on {self._address} within {timeout:g} s "
                    "(is the receiving service running?)"
                )
            time.sleep(0.002)

    def close(self, linger: float | None = None) -> None:
        """Close after lingering (default ``self.linger`` s after the last send) to drain."""
        if self._closed:
            return
        wait = (self.linger if linger is None else linger) - (time.monotonic() - self._last_send)
        if self._last_send and wait > 0:
            time.sleep(wait)
        super().close()


class Puller(Receiver):
    """PULL socket listening on ``address``: the single consumer of many pushers.

    No sequence tracking (several pushers interleave); malformed frames go to ``on_malformed``.
    """

    def __init__(
        self, address: str, *, on_malformed: MalformedHandler | None = None,
        options: SocketOptions = DEFAULT_OPTIONS,
    ) -> None:
        sock = open_socket(pynng.Pull0, options)
        try:
            listen(sock, address)
        except BaseException:
            sock.close()
            raise
        inbox = Inbox(f"pull {address}", track_seq=False, on_malformed=on_malformed)
        super().__init__(sock, address, options, inbox)

"""Address and socket plumbing shared by every bus endpoint.

* ``ipc://`` listeners get an owner-only (0700) directory: created if missing, tightened if looser.
  A shared sticky directory such as ``/tmp`` is never touched (chmod-ing it would break the host).
* Every socket gets large buffers (pynng's defaults of 16/128 drop bursts), short reconnect times
  (a restarted peer is found within ~100 ms) and finite timeouts, so nothing blocks forever.
* NNG errors become ``BusError``/``BusTimeout`` with a sentence that says what to do.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pynng

from polybot.core.errors import BusError

log = logging.getLogger(__name__)

IPC_SCHEME = "ipc://"
IPC_DIR_MODE = 0o700
MAX_BUFFER = 8192  # NNG's maximum for send/recv buffers (messages, not bytes)


@dataclass(frozen=True, slots=True)
class SocketOptions:
    """Options applied to every endpoint's socket. Times are milliseconds.

    ``reconnect_min_ms``/``reconnect_max_ms`` bound the dialer's retry backoff; pynng's defaults
    (1000/0) make a restarted publisher take ~0.5 s to be found, 10/100 takes ~0.15 s.
    """

    buffer_size: int = MAX_BUFFER
    send_timeout_ms: int = 1000
    recv_timeout_ms: int = 2000
    reconnect_min_ms: int = 10
    reconnect_max_ms: int = 100

    def __post_init__(self) -> None:
        if not 1 <= self.buffer_size <= MAX_BUFFER:
            raise ValueError(f"buffer_size must be within 1..{MAX_BUFFER}, got {self.buffer_size}")
        if self.send_timeout_ms <= 0 or self.recv_timeout_ms <= 0:
            raise ValueError("timeouts must be positive: a socket without one can block forever")

    @classmethod
    def from_settings(cls, bus: Any) -> SocketOptions:
        """Build options from a ``polybot.config.settings.BusSettings``."""
        return cls(
            buffer_size=bus.buffer_size,
            send_timeout_ms=bus.send_timeout_ms,
            recv_timeout_ms=bus.recv_timeout_ms,
        )

    def kwargs(self) -> dict[str, int]:
        """Return the pynng socket constructor keyword arguments."""
        return {
            "send_buffer_size": self.buffer_size,
            "recv_buffer_size": self.buffer_size,
            "send_timeout": self.send_timeout_ms,
            "recv_timeout": self.recv_timeout_ms,
            "reconnect_time_min": self.reconnect_min_ms,
            "reconnect_time_max": self.reconnect_max_ms,
        }


DEFAULT_OPTIONS = SocketOptions()


def ipc_path(address: str) -> Path | None:
    """Return the filesystem path of an ``ipc://`` address, or None for other transports."""
    if not address.startswith(IPC_SCHEME):
        return None
    return Path(address[len(IPC_SCHEME):])


def prepare_ipc_dir(address: str) -> Path | None:
    """Make sure the directory of an ``ipc://`` address exists with owner-only permissions.

    Returns the directory (None for non-ipc addresses). A directory that is shared by design
    (sticky bit, e.g. ``/tmp``) or owned by someone else is left alone with a warning: the socket
    then relies on its own file permissions.
    """
    path = ipc_path(address)
    if path is None:
        return None
    directory = path.parent
    try:
        directory.mkdir(mode=IPC_DIR_MODE, parents=True, exist_ok=True)
        info = directory.stat()
    except OSError as exc:
        raise BusError(f"cannot create the ipc directory {directory} for {address}: {exc}") from exc
    if info.st_mode & stat.S_ISVTX or info.st_uid != os.geteuid():
        log.warning("ipc directory %s is shared or not ours; not changing its permissions", directory)
        return directory
    if stat.S_IMODE(info.st_mode) != IPC_DIR_MODE:
        # mkdir's mode is filtered by the umask and an old directory may be group/world readable:
        # anyone who can reach the socket file can inject frames, so tighten it.
        try:
            directory.chmod(IPC_DIR_MODE)
        except OSError as exc:
            raise BusError(f"cannot restrict {directory} to its owner (0700): {exc}") from exc
    return directory


def listen(sock: pynng.Socket, address: str) -> None:
    """Listen on ``address``; a live listener elsewhere becomes a clear ``BusError``.

    A stale ipc file left by a crashed listener is fine: NNG removes it and listens again.
    """
    prepare_ipc_dir(address)
    try:
        sock.listen(address)
    except pynng.AddressInUse:
        raise BusError(
            f"another process is already serving {address} (address in use); stop it, or "
            "configure a different address for this instance"
        ) from None
    except pynng.NNGException as exc:
        raise BusError(f"cannot listen on {address}: {exc}") from exc


def dial(sock: pynng.Socket, address: str) -> None:
    """Dial ``address`` without blocking; NNG keeps retrying in the background until it connects.

    A non-blocking dial never fails because the peer is not up yet, and avoids pynng's noisy
    "Synchronous dial failed" log of the default mode.
    """
    try:
        sock.dial(address, block=False)
    except pynng.NNGException as exc:
        raise BusError(f"cannot dial {address}: {exc}") from exc


def open_socket(
    factory: type[pynng.Socket], options: SocketOptions, **extra: Any
) -> pynng.Socket:
    """Open a pynng socket with ``options`` applied (before any dial/listen, as NNG requires)."""
    try:
        return factory(**options.kwargs(), **extra)
    except pynng.NNGException as exc:
        raise BusError(f"cannot open a {factory.__name__} socket: {exc}") from exc

"""``polybot bus tap``: print live bus traffic, one decoded message per line.

Filters become NNG prefix subscriptions wherever the wire layout allows (type, and type+market
for market-data messages whose first field is ``market_id``), so tapping one market of a busy
price bus costs Python nothing for the other markets' frames. Types that carry ``market_id``
later in the map (``signal``) are subscribed by type and filtered in Python.
"""

from __future__ import annotations

import selectors
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from polybot.bus.codec import subscription_prefix
from polybot.bus.ipc import DEFAULT_OPTIONS, SocketOptions
from polybot.bus.messages import MESSAGE_TYPES, TYPE_BY_TAG, AnyMessage, Message
from polybot.bus.nng import Gap, Subscriber
from polybot.core.errors import WireError

Output = Callable[[str], Any]
MessageFilter = Callable[[AnyMessage], bool]


def pub_addresses(bus: Any) -> list[str]:
    """Return the PUB addresses of a ``BusSettings`` (what ``tap`` listens to by default)."""
    return [bus.prices_pub, bus.events_pub, bus.api_pub]


def subscription_plan(
    types: Sequence[str] | None, market: str | None
) -> tuple[list[bytes], MessageFilter | None]:
    """Return (NNG prefixes, Python filter or None) for a type/market selection.

    Raises ``ValueError`` for an unknown type, or a type that never carries ``market`` when one
    is given.
    """
    if types:
        unknown = sorted(set(types) - set(TYPE_BY_TAG))
        if unknown:
            raise ValueError(f"unknown message type(s) {unknown}; known: {sorted(TYPE_BY_TAG)}")
        classes = [TYPE_BY_TAG[name] for name in dict.fromkeys(types)]
    elif market is None:
        return [b""], None
    else:
        classes = [cls for cls in MESSAGE_TYPES if "market_id" in cls.__struct_fields__]
    if market is None:
        return [subscription_prefix(cls) for cls in classes], None
    prefixes: list[bytes] = []
    needs_filter = False
    for cls in classes:
        fields = cls.__struct_fields__
        if "market_id" not in fields:
            raise ValueError(f"{_tag(cls)} messages carry no market_id; drop --market or the type")
        if fields[0] == "market_id":
            prefixes.append(subscription_prefix(cls, market))
        else:
            prefixes.append(subscription_prefix(cls))
            needs_filter = True
    if not needs_filter:
        return prefixes, None
    return prefixes, lambda message: getattr(message, "market_id", None) == market


def tap(
    addresses: str | Sequence[str], types: Sequence[str] | None = None,
    market: str | None = None, *, limit: int | None = None, timeout: float | None = None,
    out: Output = print, options: SocketOptions = DEFAULT_OPTIONS,
) -> int:
    """Print messages from the PUB ``addresses`` until ``limit`` messages or ``timeout`` seconds.

    Each line is ``HH:MM:SS.mmm <bus> <compact JSON>`` (UTC). Malformed frames print as
    ``!malformed`` lines and sequence gaps as ``# gap`` lines (gaps only when unfiltered).
    Returns the number of messages printed. Either bound may be None (run until interrupted).
    """
    address_list = [addresses] if isinstance(addresses, str) else list(addresses)
    if not address_list:
        raise ValueError("tap needs at least one address")
    prefixes, keep = subscription_plan(types, market)
    selector = selectors.DefaultSelector()
    subscribers: list[Subscriber] = []
    printed = 0
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        for address in address_list:
            label = address.rstrip("/").rsplit("/", 1)[-1]
            subscriber = Subscriber(
                address, topics=prefixes, options=options,
                on_gap=_gap_printer(out, label), on_malformed=_malformed_printer(out, label),
            )
            subscribers.append(subscriber)
            selector.register(subscriber.socket.recv_fd, selectors.EVENT_READ, (subscriber, label))
        while limit is None or printed < limit:
            wait = 0.5 if deadline is None else min(deadline - time.monotonic(), 0.5)
            if wait <= 0:
                break
            for key, _ in selector.select(wait):
                subscriber, label = key.data
                while limit is None or printed < limit:
                    message = subscriber.try_recv()
                    if message is None:
                        break
                    if keep is None or keep(message):
                        out(f"{_now()} {label} {msgspec.json.encode(message).decode()}")
                        printed += 1
    finally:
        selector.close()
        for subscriber in subscribers:
            subscriber.close()
    return printed


def _gap_printer(out: Output, label: str) -> Callable[[Gap], None]:
    def on_gap(gap: Gap) -> None:
        if gap.reset:
            out(f"{_now()} {label} # publisher reset (seq {gap.received} after {gap.expected - 1})")
        else:
            out(f"{_now()} {label} # gap: {gap.missed} message(s) lost before seq {gap.received}")

    return on_gap


def _malformed_printer(out: Output, label: str) -> Callable[[bytes, WireError], None]:
    def on_malformed(frame: bytes, error: WireError) -> None:
        head = frame[:48].hex() + ("…" if len(frame) > 48 else "")
        out(f"{_now()} {label} !malformed {error.reason} ({len(frame)} B: {head})")

    return on_malformed


def _now() -> str:
    return datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]


def _tag(cls: type[Message]) -> str:
    return str(cls.__struct_config__.tag)

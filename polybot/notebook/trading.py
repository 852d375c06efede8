"""Trade from a cell through the production path: a Signal into the executor's PULL socket.

The notebook never talks to a venue. ``Trader.send`` pushes a ``Signal`` (with a fresh
``signal_id``) to ``bus.signals_push`` — the same socket and the same risk checks as any
production strategy — and returns a ``Ticket``. The executor announces the signal's fate on
``bus.events_pub``: an ``Event`` whose ``data`` carries the signal's fields (accepted / rejected
with the rule), then ``OrderUpdate``/``Fill`` messages carrying its ``signal_id``. PUSH gives no
acknowledgement (closing a pusher can even discard what is queued), so the events bus is the
only proof a signal arrived; the ticket listens there before the signal leaves.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal

import msgspec
import pandas as pd

from polybot.bus import codec
from polybot.bus.messages import AnyMessage, Event, Fill, OrderUpdate, Signal
from polybot.bus.nng import Pusher
from polybot.config import Settings
from polybot.core.errors import BusError, BusTimeout
from polybot.notebook.connection import not_running_error
from polybot.notebook.display import AMBER, GREEN, GREY, RED, Markup, badge, key_values
from polybot.notebook.reader import LoopReader

# Orders placed by hand from a notebook go out under the executor's "manual" strategy, which is
# live by default; any other name starts in shadow mode until enabled (`strategy.enable`).
MANUAL = "manual"

Fate = Literal[
    "sent", "accepted", "rejected", "partially_filled", "filled", "cancelled", "shadowed"
]
DECIDED: frozenset[str] = frozenset(
    {"accepted", "rejected", "partially_filled", "filled", "cancelled", "shadowed"}
)
FINAL: frozenset[str] = frozenset({"rejected", "filled", "cancelled", "shadowed"})
# The executor's ``data.fate`` words (polybot.execution.fates) → the ticket's status.
FATE_WORDS: dict[str, Fate] = {
    "accepted": "accepted",
    "placed": "accepted",
    "rejected": "rejected",
    "failed": "rejected",
    "filled": "filled",
    "partially_filled": "partially_filled",
    "canceled": "cancelled",
    "cancelled": "cancelled",
    "shadow": "shadowed",
}
_COLORS = {
    "sent": GREY,
    "accepted": GREEN,
    "rejected": RED,
    "partially_filled": AMBER,
    "filled": GREEN,
    "cancelled": GREY,
}


def classify_event(event_type: str) -> Fate | None:
    """Return the fate an executor event announces (None when it says nothing about one)."""
    kind = event_type.lower()
    if any(word in kind for word in ("reject", "invalid", "fail", "dead_letter", "refused")):
        return "rejected"
    if "cancel" in kind:
        return "cancelled"
    if "shadow" in kind:
        return "shadowed"
    if any(word in kind for word in ("accept", "placed", "submitted", "live", "order_open")):
        return "accepted"
    return None


class Ticket:
    """What became of one signal: status, the rule that rejected it, order id and fills.

    Updated in the background as the executor's messages arrive; ``wait()`` blocks the cell
    until the fate is known, ``await ticket.wait_async()`` does the same without blocking.
    """

    def __init__(self, signal: Signal, trader: Trader) -> None:
        self.signal = signal
        self.signal_id = signal.signal_id
        self.status: Fate = "sent"
        self.rule = ""
        self.reason = ""
        self.order_id = ""
        self.client_order_id = ""
        self.fills: list[Fill] = []
        self.messages: list[AnyMessage] = []
        self.sent_at = time.time()
        self.decided_after_s: float | None = None
        self._trader = trader

    @property
    def filled_size(self) -> Decimal:
        """Return the shares filled so far."""
        return sum((fill.size for fill in self.fills), Decimal(0))

    @property
    def is_decided(self) -> bool:
        """Return True once the executor said anything about the signal."""
        return self.status in DECIDED

    @property
    def is_final(self) -> bool:
        """Return True once nothing more will happen (rejected, filled or cancelled)."""
        return self.status in FINAL

    def apply(self, message: AnyMessage) -> None:
        """Fold one executor message about this signal into the ticket."""
        self.messages.append(message)
        if isinstance(message, Event):
            data = message.data
            # ``data`` starts with the signal's own fields (its ``reason`` is the sender's text),
            # then the executor's: ``fate``, ``rule``/``detail`` of a rejection, order ids.
            fate = FATE_WORDS.get(str(data.get("fate", ""))) or classify_event(message.event_type)
            self.rule = str(data.get("rule") or self.rule)
            self.reason = str(data.get("detail") or data.get("error") or self.reason)
            self.order_id = str(data.get("order_id") or self.order_id)
            self.client_order_id = str(data.get("client_order_id") or self.client_order_id)
            if fate == "shadowed":
                self.reason = self.reason or f"shadow mode: would be {data.get('would_be', '?')}"
            if fate is not None and not (fate == "accepted" and self.is_decided):
                self._set(fate)
        elif isinstance(message, OrderUpdate):
            self.order_id = message.order_id or self.order_id
            self.client_order_id = message.client_order_id or self.client_order_id
            self.reason = message.reason or self.reason
            status = message.status.upper()
            if status == "INVALID":
                self._set("rejected")
            elif status in ("CANCELED", "CANCELLED"):
                self._set("cancelled")
            elif status == "MATCHED":
                self._set("filled")
            elif not self.is_decided:
                self._set("accepted")
        elif isinstance(message, Fill):
            if all(f.fill_id != message.fill_id for f in self.fills):
                self.fills.append(message)
            self.order_id = message.order_id or self.order_id
            whole = self.filled_size >= Decimal(repr(self.signal.size))
            self._set("filled" if whole else "partially_filled")

    def _set(self, fate: Fate) -> None:
        if self.status in FINAL and fate != "filled":
            return  # a late "accepted" must not undo a rejection or a fill
        self.status = fate
        if self.decided_after_s is None:
            self.decided_after_s = time.time() - self.sent_at

    def wait(
        self, timeout: float = 10.0, *, until: Literal["decided", "final"] = "decided"
    ) -> Ticket:
        """Block until the fate is known (or final); return self. Raises ``BusTimeout``."""
        done = (lambda: self.is_decided) if until == "decided" else (lambda: self.is_final)
        if not self._trader.events.wait_for(done, timeout):
            raise BusTimeout(
                f"no fate for signal {self.signal_id} within {timeout:g} s: is the executor "
                "running? (`polybot status`)"
            )
        return self

    # timeout= mirrors wait() and raises BusTimeout like it (not asyncio's TimeoutError).
    async def wait_async(
        self,
        timeout: float = 10.0,  # noqa: ASYNC109
        *,
        until: Literal["decided", "final"] = "decided",
    ) -> Ticket:
        """Like ``wait`` but lets the event loop (and the live feeds) run meanwhile."""
        deadline = time.monotonic() + timeout
        done = self.is_decided if until == "decided" else self.is_final
        while not done:
            if time.monotonic() >= deadline:
                raise BusTimeout(f"no fate for signal {self.signal_id} within {timeout:g} s")
            if self._trader.events.loop is None:
                self._trader.events.poll(0.05)
            else:
                await asyncio.sleep(0.02)
            done = self.is_decided if until == "decided" else self.is_final
        return self

    def __repr__(self) -> str:
        extra = f" rule={self.rule!r}" if self.rule else ""
        return (
            f"Ticket({self.signal.action} {self.signal.size:g} @ {self.signal.price:g}: "
            f"{self.status}{extra}, filled {self.filled_size})"
        )

    def _repr_html_(self) -> str:
        s = self.signal
        items: list[tuple[str, object]] = [
            ("status", Markup(badge(self.status, _COLORS[self.status]))),
            ("signal", f"{s.action} {s.size:g} @ {s.price:g} ({s.order_type})"),
            ("token", s.token_id),
            ("signal id", self.signal_id),
        ]
        if self.rule or self.reason:
            items.append(
                (
                    "rejected by" if self.status == "rejected" else "reason",
                    " — ".join(x for x in (self.rule, self.reason) if x),
                )
            )
        if self.order_id:
            items.append(("order id", self.order_id))
        if self.fills:
            items.append(("filled", f"{self.filled_size} in {len(self.fills)} fill(s)"))
        if self.decided_after_s is not None:
            items.append(("answered in", f"{self.decided_after_s * 1000:.0f} ms"))
        return key_values(f"ticket · {s.strategy}", items)


class Trader:
    """Pushes signals and routes the executor's answers to their tickets."""

    def __init__(self, settings: Settings, *, strategy: str = MANUAL) -> None:
        self._settings = settings
        self.strategy = strategy
        self.tickets: dict[str, Ticket] = {}
        self.recent: deque[AnyMessage] = deque(maxlen=500)
        self.listeners: list[Callable[[AnyMessage], None]] = []
        topics = [codec.subscription_prefix(t) for t in (Event, OrderUpdate, Fill)]
        self.events = LoopReader(settings.bus.events_pub, self._on_message, topics=topics)
        self._pusher: Pusher | None = None

    def _on_message(self, message: AnyMessage) -> None:
        self.recent.append(message)
        key = ""
        if isinstance(message, Event):
            key = str(message.data.get("signal_id", ""))
        elif isinstance(message, OrderUpdate | Fill):
            key = message.signal_id or message.client_order_id
        ticket = self.tickets.get(key) if key else None
        if ticket is not None:
            ticket.apply(message)
        for listener in self.listeners:
            listener(message)

    def send(self, signal: Signal, *, wait: bool = True, timeout: float = 10.0) -> Ticket:
        """Push ``signal`` to the executor and return its ticket (after its fate, if ``wait``)."""
        if not signal.signal_id:
            signal = msgspec.structs.replace(signal, signal_id=new_signal_id())
        # PUB drops what it sends before our pipe exists: be connected before the signal leaves.
        if not self.events.wait_connected(min(timeout, 5.0)):
            raise not_running_error(self._settings, "events_pub", "no events publisher")
        ticket = Ticket(signal, self)
        self.tickets[signal.signal_id] = ticket
        try:
            if self._pusher is None:
                self._pusher = Pusher(self._settings.bus.signals_push)
            self._pusher.send(signal, timeout=min(timeout, 5.0))
        except BusError as exc:
            del self.tickets[signal.signal_id]
            raise not_running_error(self._settings, "signals_push", str(exc)) from None
        return ticket.wait(timeout) if wait else ticket

    def order(
        self, market_id: str, token_id: str, action: str, size: float, price: float, **extra: Any
    ) -> Signal:
        """Return a validated ``Signal`` from this notebook (``strategy`` defaults to its name)."""
        fields = {
            "strategy": extra.pop("strategy", self.strategy),
            "market_id": market_id,
            "token_id": token_id,
            "action": action,
            "size": float(size),
            "price": float(price),
            "signal_id": new_signal_id(),
            **extra,
        }
        try:
            # convert() applies the wire contract's constraints (0 ≤ price ≤ 1, size > 0…).
            return msgspec.convert(fields, Signal)
        except msgspec.ValidationError as exc:
            raise ValueError(f"not a valid signal: {exc}") from None

    def ticket_frame(self) -> pd.DataFrame:
        """Return every ticket of this session as a DataFrame, newest first."""
        rows = [
            {
                "signal_id": t.signal_id,
                "action": t.signal.action,
                "size": t.signal.size,
                "price": t.signal.price,
                "status": t.status,
                "rule": t.rule,
                "reason": t.reason,
                "order_id": t.order_id,
                "filled": float(t.filled_size),
            }
            for t in reversed(self.tickets.values())
        ]
        return pd.DataFrame(
            rows,
            columns=[
                "signal_id",
                "action",
                "size",
                "price",
                "status",
                "rule",
                "reason",
                "order_id",
                "filled",
            ],
        )

    def close(self) -> None:
        """Close the sockets (the pusher lingers briefly so a just-sent signal is not lost)."""
        self.events.close()
        if self._pusher is not None:
            self._pusher.close()
            self._pusher = None


def new_signal_id() -> str:
    """Return a fresh signal id (the idempotency key the executor journals)."""
    return f"nb-{uuid.uuid4().hex[:20]}"

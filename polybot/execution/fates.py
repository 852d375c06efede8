"""Fate events: what the executor announces on ``events.pub`` about each signal and order.

Every event's ``data`` starts with the original signal's fields (strategy, market_id, token_id,
action, price, size, reason, confidence, signal_id, order_type, ...) so a sender that only knows
what it sent can recognise its signal, then adds the fate: ``fate`` (a word), the rule and
numbers of a rejection, the order ids, fills. Money is a string (exact); the signal's own
``price``/``size`` stay the floats the sender sent.

Event types (``event_type``):

* ``signal_accepted`` — validation and risk passed; an order is about to be submitted.
* ``signal_rejected`` — refused; ``rule``, ``detail`` and ``numbers`` say why.
* ``signal_shadowed`` — the strategy is in shadow mode: ``would_be`` is ``accepted`` or
  ``rejected`` (with the rule); nothing reached the venue.
* ``order_placed`` / ``order_filled`` / ``order_canceled`` / ``order_failed`` — the order's life.
* ``dead_letter`` — a frame or signal that could not be processed (stored in ``dead_letters``).
* ``risk_halt`` — the kill switch went on: new orders stop and resting orders are cancelled.
* ``command_applied`` — a runtime command (limits, modes, cancels) took effect.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from polybot.bus import codec
from polybot.bus.messages import Event, Signal
from polybot.core.clock import wall_ms
from polybot.core.errors import WireError

SOURCE = "executor"

SIGNAL_ACCEPTED = "signal_accepted"
SIGNAL_REJECTED = "signal_rejected"
SIGNAL_SHADOWED = "signal_shadowed"
ORDER_PLACED = "order_placed"
ORDER_FILLED = "order_filled"
ORDER_CANCELED = "order_canceled"
ORDER_FAILED = "order_failed"
DEAD_LETTER = "dead_letter"
RISK_HALT = "risk_halt"
COMMAND_APPLIED = "command_applied"


def signal_fields(signal: Signal) -> dict[str, Any]:
    """Return the signal as the plain map its sender encoded (minus the bus ``seq``)."""
    data = codec.to_dict(signal)
    data.pop("type", None)
    data.pop("seq", None)
    return data


def signal_fields_from_frame(payload: bytes) -> dict[str, Any]:
    """Return the signal fields stored in a journal row's frame (empty if it does not decode)."""
    try:
        signal = codec.decode_as(payload, Signal)
    except WireError:
        return {}
    return signal_fields(signal)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def fate_event(event_type: str, signal: dict[str, Any], fate: str, **details: Any) -> Event:
    """Return an ``Event`` carrying the signal's fields plus ``fate`` and ``details``."""
    data = dict(signal)
    data["fate"] = fate
    data.update({key: _plain(value) for key, value in details.items()})
    return Event(source=SOURCE, event_type=event_type, data=data, timestamp=wall_ms())


def system_event(event_type: str, **details: Any) -> Event:
    """Return an ``Event`` that is not about one signal (dead letters, halts, commands)."""
    data = {key: _plain(value) for key, value in details.items()}
    return Event(source=SOURCE, event_type=event_type, data=data, timestamp=wall_ms())

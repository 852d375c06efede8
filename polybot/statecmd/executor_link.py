"""How the state service reaches the executor: Command frames on its PULL, answers on events.

Contract (docs/operations-services.md, "Executor control"):

* The state service pushes a ``Command`` (``request_id``, ``command``, ``args``; no token — the
  state service already authenticated the caller) to ``bus.signals_push``, the executor's PULL,
  which already carries signals. Commands: ``kill_switch {on, reason}``, ``cancel_all
  {strategy?, market_id?}``, ``set_risk_limits {limits}`` (the full effective ``RiskLimits``).
* The executor applies it and publishes ``Event(source="executor",
  event_type="command_applied" | "command_failed", data={"request_id", "command", "result" |
  "error"})`` on ``bus.events_pub``. It must be idempotent by ``request_id``.
* On start the executor reads the persisted ``data/risk_state.json`` (``polybot.statecmd.files``)
  so a kill switch set while it was down still holds.

The state service also listens to ``events.pub`` for the executor's ``balance`` events and keeps
the latest one for the ``balances`` query.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from polybot.bus import codec
from polybot.bus.aio import AsyncSubscriber
from polybot.bus.ipc import SocketOptions
from polybot.bus.messages import AnyMessage, Command, Event
from polybot.bus.nng import Pusher
from polybot.core.clock import wall_ms
from polybot.core.errors import BusError

log = logging.getLogger(__name__)

APPLIED = "command_applied"
FAILED = "command_failed"
BALANCE_EVENTS = ("balance", "balances", "balance_update")


@dataclass(frozen=True, slots=True)
class Forwarded:
    """What became of a command forwarded to the executor."""

    delivered: bool  # a PULL peer took the frame
    applied: bool | None  # True/False from the executor's answer; None: no answer in time
    detail: Any = None

    def as_dict(self) -> dict[str, Any]:
        """Return the outcome as plain data for a response."""
        return {"delivered": self.delivered, "applied": self.applied, "detail": self.detail}


class ExecutorControl:
    """Push commands to the executor and wait (bounded) for its answer on the events bus."""

    def __init__(
        self,
        signals_addr: str,
        events_addr: str,
        *,
        options: SocketOptions,
        answer_timeout_s: float = 5.0,
        send_timeout_s: float = 0.5,
    ) -> None:
        self._pusher = Pusher(signals_addr, options=options)
        self._events = AsyncSubscriber(
            events_addr,
            topics=[codec.subscription_prefix(Event)],
            callback=self._on_event,
            options=options,
        )
        self._pending: dict[str, asyncio.Future[Event]] = {}
        self._answer_timeout_s = answer_timeout_s
        self._send_timeout_s = send_timeout_s
        self.balances: dict[str, Any] | None = None
        self.balances_ms = 0

    async def send(self, request_id: str, command: str, args: dict[str, Any]) -> Forwarded:
        """Forward one command; return whether it was delivered and what the executor said."""
        frame = Command(request_id=request_id, command=command, args=args, timestamp=wall_ms())
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            try:
                # The pusher waits for a peer in a blocking loop: keep it off the event loop.
                await asyncio.to_thread(self._pusher.send, frame, self._send_timeout_s)
            except BusError as exc:
                return Forwarded(delivered=False, applied=None, detail=str(exc))
            try:
                async with asyncio.timeout(self._answer_timeout_s):
                    answer = await future
            except TimeoutError:
                return Forwarded(
                    delivered=True,
                    applied=None,
                    detail=f"no answer from the executor within {self._answer_timeout_s:g} s",
                )
        finally:
            self._pending.pop(request_id, None)
        applied = answer.event_type == APPLIED
        detail = answer.data.get("result") if applied else answer.data.get("error")
        return Forwarded(delivered=True, applied=applied, detail=detail)

    def _on_event(self, message: AnyMessage) -> None:
        if not isinstance(message, Event):
            return
        if message.event_type in (APPLIED, FAILED):
            future = self._pending.get(str(message.data.get("request_id", "")))
            if future is not None and not future.done():
                future.set_result(message)
        elif message.event_type in BALANCE_EVENTS and message.source == "executor":
            self.balances = dict(message.data)
            self.balances_ms = message.timestamp

    def close(self) -> None:
        """Close both sockets (call on the loop's thread)."""
        self._events.close()
        self._pusher.close(linger=0.2)

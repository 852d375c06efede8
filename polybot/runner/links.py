"""The venues a hosted strategy sees: ``RunnerLink`` (live, via the executor) and ``ShadowVenue``.

``RunnerLink`` is the engine's ``ExecutorLink`` with one addition: every order id that leaves
the runner is suffixed with the run's tag. The engine numbers a strategy's orders ``<name>-1``,
``<name>-2``, … from 1 on every start, and the executor refuses a signal id it has seen before;
without the tag, a restarted instance's first orders would all be dropped as duplicates of the
previous run's. Messages coming back are translated to the engine's ids, and messages of other
runs are not ours to see.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from polybot.bus.messages import Command, Event, Fill, Message, OrderUpdate, Signal
from polybot.engine.venue import Emit, ExecutorLink
from polybot.model.market import Market
from polybot.venues.sim.venue import OrderRequest

Decision = Callable[[str, dict[str, Any]], None]


class RunnerLink(ExecutorLink):
    """``ExecutorLink`` with per-run order ids and a decision log hook."""

    def __init__(
        self,
        markets: dict[str, Market],
        send_signal: Callable[[Signal], None],
        send_command: Callable[[Command], None] | None,
        *,
        run_tag: str,
        on_decision: Decision,
    ) -> None:
        super().__init__(markets, self._sent(send_signal), send_command)
        self._markets = markets  # the runner's live dict: markets added later show up here
        self._outcomes: dict[str, int] = {}
        self._scanned = 0
        self._suffix = f".{run_tag}"
        self._on_decision = on_decision

    def _sent(self, send_signal: Callable[[Signal], None]) -> Callable[[Signal], None]:
        def send(signal: Signal) -> None:
            # ExecutorLink indexes outcomes once, at start; a market that appeared later would
            # default to YES, and the executor refuses an action naming the wrong outcome.
            index = self._outcome_index(signal.token_id)
            if index is not None:
                side = signal.action.partition("_")[0]
                action = f"{side}_{'YES' if index == 0 else 'NO'}"
                if action != signal.action:
                    signal = msgspec.structs.replace(signal, action=action)
            send_signal(signal)
            self._on_decision("signal sent", msgspec.structs.asdict(signal))

        return send

    def _outcome_index(self, token_id: str) -> int | None:
        index = self._outcomes.get(token_id)
        if index is None and len(self._markets) != self._scanned:
            self._scanned = len(self._markets)  # rescan only when markets were added
            for market in self._markets.values():
                for i, asset in enumerate(market.asset_ids[:2]):
                    self._outcomes[asset] = i
            index = self._outcomes.get(token_id)
        return index

    def start(self, emit: Emit, on_sync: Callable[[str, bool], None] | None = None) -> None:
        """Report events to ``emit`` with the engine's own order ids."""
        super().start(lambda message: emit(self._local(message)), on_sync)

    def place(self, request: OrderRequest) -> None:
        """Send the order under its run-tagged id."""
        wire = request.client_order_id + self._suffix
        super().place(msgspec.structs.replace(request, client_order_id=wire))

    def cancel(self, client_order_id: str) -> None:
        """Cancel by the run-tagged id (the engine may also pass one it got back untranslated)."""
        if not client_order_id.endswith(self._suffix):
            client_order_id += self._suffix
        super().cancel(client_order_id)

    def on_message(self, message: Message) -> None:
        """Pass events-bus messages about this run's orders to the engine (and log them)."""
        if isinstance(message, OrderUpdate | Fill):
            ids = (message.client_order_id, message.signal_id)
            if not any(i.endswith(self._suffix) for i in ids):
                return
            self._on_decision(
                "fill" if isinstance(message, Fill) else f"order {message.status}",
                msgspec.structs.asdict(message),
            )
        elif isinstance(message, Event) and message.event_type == "signal_rejected":
            if not str(message.data.get("signal_id", "")).endswith(self._suffix):
                return
            self._on_decision("signal rejected", dict(message.data))
        super().on_message(message)

    def _local(self, message: Message) -> Message:
        if isinstance(message, OrderUpdate | Fill):
            return msgspec.structs.replace(
                message,
                client_order_id=message.client_order_id.removesuffix(self._suffix),
                signal_id=message.signal_id.removesuffix(self._suffix),
            )
        return message


class ShadowVenue:
    """A venue that sends nothing: each order is logged as a shadow decision and left pending.

    Shadow mode is decided in the runner, not left to the executor: nothing can reach the venue
    even if the executor never heard of the mode change.
    """

    name = "shadow"

    def __init__(self, on_decision: Decision) -> None:
        self._on_decision = on_decision
        self.sent = 0

    def start(self, emit: Emit, on_sync: Callable[[str, bool], None] | None = None) -> None:
        """Nothing to report: shadow orders never get a fate."""

    def place(self, request: OrderRequest) -> None:
        """Log the order the strategy wanted."""
        self.sent += 1
        self._on_decision("shadow order", msgspec.structs.asdict(request))

    def cancel(self, client_order_id: str) -> None:
        """Log the cancel the strategy wanted."""
        self._on_decision("shadow cancel", {"client_order_id": client_order_id})

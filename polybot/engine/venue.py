"""The engine's ``Venue`` seam and ``ExecutorLink``, the venue that is really the executor.

A venue takes ``OrderRequest``s and cancels (never blocking) and reports ``OrderUpdate`` /
``Fill`` messages through the ``emit`` callback given to ``start``. ``SimVenue`` and
``PaperVenue`` match in-process; ``ExecutorLink`` turns each request into a ``Signal`` on the
executor's PULL socket and reads the orders' fates from the events bus, so a strategy cannot
tell that its venue is remote.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from polybot.bus.messages import Command, Event, Fill, Message, OrderUpdate, Signal
from polybot.model.market import Market
from polybot.venues.sim.venue import OrderRequest

Emit = Callable[[Message], None]


class Venue(Protocol):
    """Where the engine's orders go. Commands in (never block); events out through ``emit``."""

    name: str

    def start(self, emit: Emit, on_sync: Callable[[str, bool], None] | None = None) -> None:
        """Begin reporting events to ``emit``."""
        ...

    def place(self, request: OrderRequest) -> None:
        """Submit an order."""
        ...

    def cancel(self, client_order_id: str) -> None:
        """Ask to cancel an order."""
        ...


class ExecutorLink:
    """Forward orders to the executor service; report its fates and fills back.

    ``send_signal`` is typically ``Pusher(settings.signals_addr).send`` and ``send_command`` a
    request over the state socket. Feed every message read from the events bus to
    :meth:`on_message`; anything not about this link's strategies is ignored.

    Contract assumed from the executor (architecture §4): a signal's ``signal_id`` is our
    ``client_order_id``; the executor publishes ``OrderUpdate``/``Fill`` carrying it, and an
    ``Event`` with ``event_type`` ``signal_rejected`` (``data.signal_id``, ``data.reason``) for
    a signal it refused before any order existed.
    """

    name = "executor"

    def __init__(
        self,
        markets: dict[str, Market],
        send_signal: Callable[[Signal], None],
        send_command: Callable[[Command], None] | None = None,
    ) -> None:
        self._token_index: dict[str, tuple[str, int]] = {}
        for market in markets.values():
            for index, asset in enumerate(market.asset_ids[:2]):
                self._token_index[asset] = (market.condition_id, index)
        self._send_signal = send_signal
        self._send_command = send_command
        self._emit: Emit = lambda message: None
        self._requests: dict[str, OrderRequest] = {}
        self.sent = 0

    def start(self, emit: Emit, on_sync: Callable[[str, bool], None] | None = None) -> None:
        """Begin reporting events to ``emit`` (``on_sync`` is unused: the executor keeps books)."""
        self._emit = emit

    def place(self, request: OrderRequest) -> None:
        """Send the order as a ``Signal`` (``BUY_YES`` = buy the market's first outcome)."""
        _, index = self._token_index.get(request.token_id, (request.market_id, 0))
        action = f"{request.side}_{'YES' if index == 0 else 'NO'}"
        signal = Signal(
            strategy=request.strategy,
            market_id=request.market_id,
            action=action,  # type: ignore[arg-type]
            token_id=request.token_id,
            price=float(request.price),
            size=float(request.size),
            reason=request.reason,
            confidence=request.confidence,
            signal_id=request.client_order_id,
            order_type=request.order_type,
            post_only=request.post_only,
            expiration=request.expiration,
        )
        self._requests[request.client_order_id] = request
        self._send_signal(signal)
        self.sent += 1

    def cancel(self, client_order_id: str) -> None:
        """Ask the executor to cancel an order by our id."""
        request = self._requests.get(client_order_id)
        if self._send_command is None or request is None:
            return
        self._send_command(
            Command(
                request_id=f"cancel-{client_order_id}",
                command="cancel_order",
                args={"client_order_id": client_order_id, "strategy": request.strategy},
            )
        )

    def on_message(self, message: Message) -> None:
        """Turn an events-bus message about our orders into an engine event."""
        if isinstance(message, OrderUpdate | Fill):
            key = message.client_order_id or message.signal_id
            if key in self._requests:
                self._emit(message)
                if isinstance(message, OrderUpdate) and message.status not in ("LIVE", "DELAYED"):
                    self._requests.pop(key, None)
        elif isinstance(message, Event) and message.event_type == "signal_rejected":
            key = str(message.data.get("signal_id", ""))
            request = self._requests.pop(key, None)
            if request is not None:
                self._emit(
                    OrderUpdate(
                        market_id=request.market_id,
                        token_id=request.token_id,
                        order_id="",
                        client_order_id=key,
                        strategy=request.strategy,
                        side=request.side,
                        price=request.price,
                        original_size=request.size,
                        size_matched=request.size * 0,
                        status="INVALID",
                        timestamp=message.timestamp,
                        order_type=request.order_type,
                        signal_id=key,
                        reason=str(message.data.get("reason", "rejected by the executor")),
                    )
                )

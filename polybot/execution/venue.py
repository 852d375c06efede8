"""The executor's venue seam: one async ``Venue`` protocol, and the paper adapter.

``PolymarketVenue`` (``polybot.execution.live``) signs and sends real orders to the configured
CLOB (the local venue by default). ``PaperTrading`` wraps the shared-matcher ``PaperVenue``: fills
simulated against live books (depth walk for takers, queue position for makers, fees, partial
fills). Both report order updates and fills as bus messages (``OrderUpdate``/``Fill``) whose
``order_id`` is the venue's id; the executor maps that back to its own ``client_order_id``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from polybot.bus.messages import Fill, Message, OrderUpdate
from polybot.core.errors import OrderRejected
from polybot.execution.intake import OrderPlan
from polybot.model.market import Market
from polybot.venues.paper import PaperVenue
from polybot.venues.sim.venue import OrderRequest

PAPER_ACCOUNT = "paper"


class SubmitUnknown(Exception):
    """The submit's outcome is unknown (timeout, 5xx): look the order up before doing anything."""


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The venue's answer to a submit: its order id and status.

    ``status``: ``LIVE`` (resting), ``MATCHED`` (filled at once), ``DELAYED``, ``UNMATCHED``
    (FAK/FOK remainder killed), or ``DUPLICATE`` (the venue already has this exact order).
    """

    venue_order_id: str
    status: str


@dataclass(frozen=True, slots=True)
class VenueOrderState:
    """What the venue knows about one of our orders (reconciliation)."""

    venue_order_id: str
    status: str  # LIVE, MATCHED, or UNKNOWN (not active and no trades: never arrived or canceled)
    size_matched: Decimal = Decimal(0)
    fills: tuple[Fill, ...] = ()


class VenueSink(Protocol):
    """Where a venue reports what happens to our orders."""

    def on_order_update(self, update: OrderUpdate) -> None:
        """An order changed state (placed, matched, canceled...)."""
        ...

    def on_fill(self, fill: Fill) -> None:
        """One of our orders traded (or a trade of ours changed status)."""
        ...


class Venue(Protocol):
    """Place, cancel and query our orders; stream their updates to a sink."""

    name: str
    account: str  # the trading wallet (lower-case) or "paper"

    async def start(self, sink: VenueSink) -> None:
        """Connect and begin reporting to ``sink``."""
        ...

    def order_id_for(self, plan: OrderPlan, created_ms: int) -> str:
        """Return the venue id the order will have (deterministic: the same inputs, the same id)."""
        ...

    async def submit(self, plan: OrderPlan, created_ms: int) -> SubmitResult:
        """Send the order; raise ``SubmitUnknown`` when the outcome is unknown, a ``VenueError``
        when the venue refused it."""
        ...

    async def lookup(self, venue_order_id: str, market_id: str) -> VenueOrderState:
        """Return what the venue knows about one order."""
        ...

    async def cancel(self, venue_order_ids: list[str]) -> list[str]:
        """Cancel orders; return the ids the venue cancelled."""
        ...

    async def cancel_all(self) -> list[str]:
        """Cancel every open order of ours; return the cancelled ids."""
        ...

    async def open_orders(self) -> dict[str, Decimal]:
        """Return our open orders at the venue: venue id → size matched."""
        ...

    async def recent_fills(self) -> list[Fill]:
        """Return our recent fills as the venue reports them (reconciliation)."""
        ...

    async def balance(self) -> Decimal:
        """Return free collateral (pUSD) at the venue."""
        ...

    def on_market_data(self, message: Message) -> None:
        """Feed a price-bus message (the paper venue matches against it)."""
        ...

    def add_market(self, market: Market) -> None:
        """Make a market known before an order in it is submitted."""
        ...

    async def maintain(self) -> None:
        """Periodic upkeep (heartbeats for the dead-man switch; paper latency queue)."""
        ...

    async def close(self) -> None:
        """Disconnect."""
        ...


class PaperTrading:
    """The ``Venue`` protocol over the shared-matcher ``PaperVenue`` (in-process, no I/O)."""

    name = "paper"
    account = PAPER_ACCOUNT

    def __init__(
        self, starting_cash: Decimal, holdings: Iterable[tuple[str, str, Decimal]] = ()
    ) -> None:
        """``holdings``: ``(market_id, token_id, shares)`` the paper account held before a
        restart (the ledger's positions), so they can be sold and are paid at resolution."""
        self.paper = PaperVenue({}, starting_cash=starting_cash)
        for market_id, token_id, shares in holdings:
            self.paper.restore_shares(PAPER_ACCOUNT, market_id, token_id, shares)
        self._sink: VenueSink | None = None
        self._last: dict[str, OrderUpdate] = {}
        self._open: dict[str, Decimal] = {}
        self._fills: list[Fill] = []

    async def start(self, sink: VenueSink) -> None:
        """Route the paper venue's events to ``sink``."""
        self._sink = sink
        self.paper.start(self._emit)

    def _emit(self, message: Message) -> None:
        if isinstance(message, OrderUpdate):
            self._last[message.order_id] = message
            if message.status == "LIVE":
                self._open[message.order_id] = message.size_matched
            else:
                self._open.pop(message.order_id, None)
            if self._sink is not None:
                self._sink.on_order_update(message)
        elif isinstance(message, Fill):
            self._fills.append(message)
            if self._sink is not None:
                self._sink.on_fill(message)

    def order_id_for(self, plan: OrderPlan, created_ms: int) -> str:
        """Paper orders are known by our own id."""
        return plan.client_order_id

    async def submit(self, plan: OrderPlan, created_ms: int) -> SubmitResult:
        """Match the order against the live book now; a refusal raises ``OrderRejected``."""
        if plan.client_order_id in self._last:
            return SubmitResult(plan.client_order_id, "DUPLICATE")
        self.paper.place(
            OrderRequest(
                client_order_id=plan.client_order_id,
                strategy=PAPER_ACCOUNT,
                market_id=plan.market_id,
                token_id=plan.token_id,
                side=plan.side,
                price=plan.price,
                size=plan.size,
                order_type=plan.order_type,
                post_only=plan.post_only,
                expiration=plan.expiration,
            )
        )
        update = self._last.get(plan.client_order_id)
        if update is None:
            return SubmitResult(plan.client_order_id, "DELAYED")
        if update.status == "INVALID":
            raise OrderRejected(update.reason or "refused by the paper venue")
        status = "UNMATCHED" if update.status.startswith("CANCELED") else update.status
        return SubmitResult(plan.client_order_id, status)

    async def lookup(self, venue_order_id: str, market_id: str) -> VenueOrderState:
        """Return the order's state as this process's paper venue knows it."""
        fills = tuple(f for f in self._fills if f.order_id == venue_order_id)
        matched = sum((f.size for f in fills), Decimal(0))
        if venue_order_id in self._open:
            return VenueOrderState(venue_order_id, "LIVE", matched, fills)
        return VenueOrderState(venue_order_id, "MATCHED" if fills else "UNKNOWN", matched, fills)

    async def cancel(self, venue_order_ids: list[str]) -> list[str]:
        """Cancel resting paper orders."""
        wanted = [i for i in venue_order_ids if i in self._open]
        for order_id in wanted:
            self.paper.cancel(order_id)
        return [i for i in wanted if i not in self._open]

    async def cancel_all(self) -> list[str]:
        """Cancel every resting paper order."""
        return await self.cancel(list(self._open))

    async def open_orders(self) -> dict[str, Decimal]:
        """Return the resting paper orders."""
        return dict(self._open)

    async def recent_fills(self) -> list[Fill]:
        """Return the fills of this process's paper venue."""
        return list(self._fills)

    async def balance(self) -> Decimal:
        """Return the paper account's cash."""
        return self.paper.cash(PAPER_ACCOUNT)

    def on_market_data(self, message: Message) -> None:
        """Feed live book data to the matcher."""
        self.paper.on_message(message)

    def add_market(self, market: Market) -> None:
        """Register a market with the paper venue."""
        self.paper.add_market(market)

    async def maintain(self) -> None:
        """Run paper commands whose simulated latency has elapsed."""
        self.paper.poll()

    async def close(self) -> None:
        """Nothing to disconnect."""

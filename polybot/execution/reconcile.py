"""Reconciliation: make SQLite agree with the venue — on start (before any signal) and periodically.

Steps, in order:

1. **Order intents** (``PENDING_SUBMIT``: journalled, maybe sent). Look the order up by its id
   (the EIP-712 digest, known before sending). Active → LIVE. Not active but traded → its fills
   are booked. Unknown → resubmit the *identical* signed order: if the venue answers
   "Duplicated" it had it (and it ended without fills: cancelled, e.g. by the dead-man switch
   while we were down); otherwise it is placed now, exactly once.
2. **Fills**: our recent trades at the venue are booked (idempotent by fill id).
3. **Open orders**: a LIVE order no longer open at the venue is looked up; its fills are booked
   and it is closed as MATCHED or CANCELED.
4. **Balance**: the venue's collateral balance becomes the risk gate's starting point.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal

from polybot.core.errors import VenueError
from polybot.execution.intake import OrderPlan
from polybot.execution.markets import MarketCatalog
from polybot.execution.orders import created_ms
from polybot.execution.tracking import Tracker
from polybot.execution.venue import SubmitUnknown, Venue
from polybot.model.fees import NO_FEES
from polybot.storage.models import Order, OrderStatus

log = logging.getLogger(__name__)


class Reconciler:
    """Brings the store in line with the venue."""

    def __init__(self, venue: Venue, catalog: MarketCatalog, tracker: Tracker) -> None:
        self.venue = venue
        self.catalog = catalog
        self.tracker = tracker
        self.runs = 0
        self.last_run_s = 0.0

    async def run(self) -> None:
        """Reconcile intents, fills, open orders and the balance (raises ``VenueError``)."""
        store = self.tracker.store
        for order in store.orders([OrderStatus.PENDING_SUBMIT]):
            await self.resolve(order)
        for fill in await self.venue.recent_fills():
            self.tracker.on_fill(fill)
        still_open = await self.venue.open_orders()
        for order in store.orders([OrderStatus.LIVE]):
            if order.venue_order_id in still_open:
                continue
            state = await self.venue.lookup(order.venue_order_id or "", order.market_id)
            for fill in state.fills:
                self.tracker.on_fill(fill)
            if state.status != "LIVE":
                refreshed = store.order(client_order_id=order.client_order_id) or order
                if refreshed.size_matched < refreshed.original_size:
                    self.tracker.canceled(refreshed, "no longer open at the venue")
        self.tracker.balance = await self.venue.balance()
        self.runs += 1
        self.last_run_s = time.monotonic()

    async def resolve(self, order: Order) -> None:
        """Find out what became of an order whose submit outcome is unknown."""
        venue_id = order.venue_order_id or ""
        state = await self.venue.lookup(venue_id, order.market_id)
        for fill in state.fills:
            self.tracker.on_fill(fill)
        if state.status in ("LIVE", "MATCHED"):
            self.tracker.placed(order, state.status)
            return
        plan = await self.plan_of(order)
        try:
            result = await self.venue.submit(plan, created_ms(order))
        except SubmitUnknown as exc:
            log.warning("order %s still unresolved: %s", order.client_order_id, exc)
            return
        except VenueError as exc:
            self.tracker.failed(order, str(exc))
            return
        if result.status == "DUPLICATE":
            refreshed = self.tracker.store.order(client_order_id=order.client_order_id) or order
            self.tracker.placed(refreshed, "LIVE")
            self.tracker.canceled(refreshed, "ended at the venue without fills while unobserved")
        else:
            self.tracker.placed(order, result.status)

    async def plan_of(self, order: Order) -> OrderPlan:
        """Rebuild the order plan of a journalled order (for the identical resubmit)."""
        market = await self.catalog.get(order.market_id)
        index = market.outcome_index(order.token_id) if market else None
        return OrderPlan(
            signal_id=order.signal_id or order.client_order_id,
            client_order_id=order.client_order_id,
            strategy=order.strategy,
            market_id=order.market_id,
            token_id=order.token_id,
            side="BUY" if order.side == "BUY" else "SELL",
            price=order.price,
            size=order.original_size,
            order_type=order.order_type,  # type: ignore[arg-type]
            post_only=order.post_only,
            expiration=order.expiration,
            outcome_index=index or 0,
            event_id=market.event_id if market else "",
            neg_risk=market.neg_risk if market else False,
            tick_size=market.tick_size if market else Decimal("0.01"),
            fee_schedule=market.fee_schedule if market else NO_FEES,
            protocol_version=market.protocol_version if market else "v1",
        )

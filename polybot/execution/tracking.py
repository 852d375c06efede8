"""Track our orders to the end: venue updates and fills → SQLite → events on the bus.

The ``Tracker`` is the executor's ``VenueSink``. Whatever reports an order's progress — the user
channel, the paper matcher, a submit response, reconciliation after a restart — goes through the
same few methods, and each is idempotent: a fill counts once (by fill id), a terminal order
stays terminal, a signal's status only moves forward. So duplicates and races between the
channel and the REST answers are harmless.

A fill whose trade the venue later reports FAILED is reversed once (position, fees, realized PnL,
free balance; ``fill_reversed``). The order keeps its matched totals (what the venue matched) and
its status. Market resolutions go to the tracker's :class:`~polybot.execution.settlement.Settler`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from polybot.bus.messages import Fill, Message, OrderUpdate
from polybot.core.clock import wall_ms
from polybot.execution import fates
from polybot.execution.orders import OrderStore, SignalMove
from polybot.execution.portfolio import Ledger, Reversal
from polybot.execution.settlement import FILL_REVERSED, Settler
from polybot.storage.models import Order, OrderStatus, SignalStatus

log = logging.getLogger(__name__)

TERMINAL_ORDER = (
    OrderStatus.MATCHED,
    OrderStatus.CANCELED,
    OrderStatus.REJECTED,
    OrderStatus.FAILED,
)
ZERO = Decimal(0)


class Tracker:
    """Applies order updates and fills to the store and ledger and announces them."""

    def __init__(
        self,
        store: OrderStore,
        ledger: Ledger,
        publish: Callable[[Message], object],
        count: Callable[[str], None],
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.publish = publish
        self.count = count
        self.balance = ZERO  # free collateral as last reconciled, moved by our fills since
        self.settler = Settler(ledger, publish, count)
        self._signals: dict[str, dict[str, Any]] = {}

    # ---- announcing ---------------------------------------------------------------------------
    def signal_data(self, signal_id: str | None) -> dict[str, Any]:
        """Return the original signal's fields (from the journal's frame; cached)."""
        if not signal_id:
            return {}
        data = self._signals.get(signal_id)
        if data is None:
            entry = self.store.signal(signal_id)
            data = fates.signal_fields_from_frame(entry.payload) if entry is not None else {}
            self._signals[signal_id] = data
        return data

    def remember(self, signal_id: str, data: dict[str, Any]) -> None:
        """Cache a signal's fields (saves a read when its order events are announced)."""
        self._signals[signal_id] = data

    def announce(self, event_type: str, order: Order, fate: str, **details: Any) -> None:
        """Publish a fate event about ``order`` carrying its signal's fields."""
        details.setdefault("client_order_id", order.client_order_id)
        details.setdefault("order_id", order.venue_order_id or "")
        self.publish(
            fates.fate_event(event_type, self.signal_data(order.signal_id), fate, **details)
        )

    def _order_update(self, order: Order, status: str, reason: str = "") -> None:
        self.publish(
            OrderUpdate(
                market_id=order.market_id,
                token_id=order.token_id,
                order_id=order.venue_order_id or "",
                client_order_id=order.client_order_id,
                strategy=order.strategy,
                side="BUY" if order.side == "BUY" else "SELL",
                price=order.price,
                original_size=order.original_size,
                size_matched=order.size_matched,
                status=status,
                timestamp=wall_ms(),
                order_type=order.order_type,  # type: ignore[arg-type]
                signal_id=order.signal_id or "",
                reason=reason,
            )
        )

    # ---- lookups ------------------------------------------------------------------------------
    def find(self, venue_order_id: str, client_order_id: str = "") -> Order | None:
        """Return our order by the venue's id (or ours); None for orders that are not ours."""
        order = self.store.order(venue_order_id=venue_order_id) if venue_order_id else None
        if order is None and client_order_id:
            order = self.store.order(client_order_id=client_order_id)
        return order

    # ---- VenueSink ----------------------------------------------------------------------------
    def on_order_update(self, update: OrderUpdate) -> None:
        """Apply a venue order update."""
        order = self.find(update.order_id, update.client_order_id)
        if order is None:
            return  # another client's order on the same key: not ours to track
        status = update.status
        if status == "CANCELED_MARKET_RESOLVED" or update.reason == "MARKET_RESOLVED":
            # (paper: the status says it; the user channel splits it into CANCELED + reason)
            self.settler.flag(order.market_id)  # the next sweep asks the venue who won
        if status.startswith("CANCELED") or status in ("UNMATCHED", "INVALID"):
            self.canceled(order, update.reason or status)
        elif status == "LIVE":
            self.placed(order, "LIVE")
        elif status == "MATCHED":
            self.placed(order, "MATCHED")

    def on_fill(self, fill: Fill) -> None:
        """Book a fill of one of our orders (idempotent) and announce it; reverse a FAILED one."""
        order = self.find(fill.order_id, fill.client_order_id)
        if order is None:
            return
        fill = msgspec.structs.replace(
            fill,
            client_order_id=order.client_order_id,
            strategy=order.strategy,
            signal_id=order.signal_id or "",
        )
        booking = self.ledger.book(fill, order)
        self.publish(fill)
        if booking.reversal is not None:
            self._reversed(order, fill, booking.reversal)
            return
        if not booking.applied:
            return
        self.count("fills")
        notional = fill.price * fill.size
        self.balance += -notional - fill.fee if fill.side == "BUY" else notional - fill.fee
        order = self.store.reload(order.client_order_id) or order  # the fill moved its totals
        done = order.size_matched >= order.original_size
        if done:
            order = self.store.update_order(order.client_order_id, status=OrderStatus.MATCHED)
        if order.signal_id:
            status = SignalStatus.FILLED if done else SignalStatus.PARTIALLY_FILLED
            self.store.advance_signal(order.signal_id, status)
        self._order_update(order, "MATCHED" if done else "LIVE")
        self.announce(
            fates.ORDER_FILLED,
            order,
            "filled" if done else "partially_filled",
            fill={
                "fill_id": fill.fill_id,
                "price": fill.price,
                "size": fill.size,
                "fee": fill.fee,
                "liquidity": fill.liquidity,
                "status": fill.status,
            },
            size_matched=order.size_matched,
            original_size=order.original_size,
        )
        if self.ledger.resolution(fill.market_id) is not None:
            self.settler.settle_late(fill.market_id)  # traded before the resolution, told after

    def _reversed(self, order: Order, fill: Fill, reversal: Reversal) -> None:
        """A booked fill's trade FAILED: the ledger undid it; move the balance back, announce."""
        self.count("fills_reversed")
        self.balance += reversal.cash_delta
        log.warning(
            "fill %s of %s FAILED at the venue: reversed (size %s, realized %s, cash %s)",
            fill.fill_id,
            order.client_order_id,
            reversal.size_delta,
            reversal.realized_pnl,
            reversal.cash_delta,
        )
        self.announce(
            FILL_REVERSED,
            order,
            "reversed",
            fill={
                "fill_id": fill.fill_id,
                "side": fill.side,
                "price": fill.price,
                "size": fill.size,
                "fee": fill.fee,
                "liquidity": fill.liquidity,
                "status": fill.status,
            },
            reversal={
                "id": reversal.reversal_id,
                "size_delta": reversal.size_delta,
                "realized_pnl": reversal.realized_pnl,
                "fees_delta": reversal.fees_delta,
                "cash_delta": reversal.cash_delta,
            },
            position={
                "token_id": reversal.token_id,
                "size": reversal.position_size,
                "avg_price": reversal.position_avg_price,
                "realized_pnl": reversal.position_realized_pnl,
            },
        )

    # ---- transitions --------------------------------------------------------------------------
    def placed(self, order: Order, status: str) -> None:
        """The venue has the order (resting or matched); announce it once."""
        current = self.store.order(client_order_id=order.client_order_id) or order
        if current.status != OrderStatus.PENDING_SUBMIT:
            return
        new = OrderStatus.MATCHED if status == "MATCHED" else OrderStatus.LIVE
        if new == OrderStatus.MATCHED and current.size_matched < current.original_size:
            new = OrderStatus.LIVE  # matched per the venue; stays open here until its fills arrive
        current = self.store.update_order(
            order.client_order_id,
            status=new,
            submitted=True,
            signal=SignalMove(
                SignalStatus.SUBMITTED,
                unless=(*_TERMINAL_SIGNAL, SignalStatus.SUBMITTED, SignalStatus.PARTIALLY_FILLED),
            ),
        )
        self.count("orders_placed")
        self._order_update(current, "LIVE" if new == OrderStatus.LIVE else "MATCHED")
        self.announce(fates.ORDER_PLACED, current, "placed", status=status)

    def canceled(self, order: Order, reason: str) -> None:
        """The order ended without (fully) filling."""
        current = self.store.order(client_order_id=order.client_order_id) or order
        if current.status in TERMINAL_ORDER:
            return
        detail = reason
        if current.size_matched > 0:
            detail = f"{reason} (filled {current.size_matched} of {current.original_size})"
        current = self.store.update_order(
            order.client_order_id,
            status=OrderStatus.CANCELED,
            reason=reason,
            signal=SignalMove(SignalStatus.CANCELED, detail),
        )
        self.count("orders_canceled")
        self._order_update(current, "CANCELED", reason)
        self.announce(
            fates.ORDER_CANCELED,
            current,
            "canceled",
            detail=reason,
            size_matched=current.size_matched,
            original_size=current.original_size,
        )

    def failed(self, order: Order, reason: str, rule: str = "venue_rejected") -> None:
        """The venue refused the order (or it could not be sent for good)."""
        current = self.store.order(client_order_id=order.client_order_id) or order
        if current.status in TERMINAL_ORDER:
            return
        current = self.store.update_order(
            order.client_order_id,
            status=OrderStatus.FAILED,
            reason=reason,
            signal=SignalMove(SignalStatus.FAILED, reason),
        )
        self.count("orders_failed")
        self._order_update(current, "INVALID", reason)
        self.announce(fates.ORDER_FAILED, current, "failed", rule=rule, detail=reason)


_TERMINAL_SIGNAL = (
    SignalStatus.REJECTED,
    SignalStatus.FILLED,
    SignalStatus.CANCELED,
    SignalStatus.FAILED,
)

"""The executor's records in ``polybot.db``: the signal journal and our orders.

Each method is one committed transaction. The ordering is the crash-safety story: a signal is
journalled on arrival; the order intent (with the venue order id it *will* have — the EIP-712
digest is known before anything is sent) is committed before the venue is called. After a crash,
``PENDING_SUBMIT`` rows are exactly the orders whose fate must be looked up at the venue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from polybot.execution.intake import OrderPlan
from polybot.storage.journal import journal_order_intent, journal_signal, set_signal_status
from polybot.storage.models import Order, OrderStatus, SignalJournalEntry, SignalStatus

IdForOrder = Callable[[OrderPlan, int], str]
"""(plan, created_ms) -> the venue order id the order will have (the signed digest)."""

OPEN_STATUSES = (OrderStatus.PENDING_SUBMIT, OrderStatus.LIVE)
TERMINAL_SIGNAL = (
    SignalStatus.REJECTED,
    SignalStatus.FILLED,
    SignalStatus.CANCELED,
    SignalStatus.FAILED,
)


def created_ms(order: Order) -> int:
    """Return the order row's creation time in ms: the timestamp signed into the order."""
    stamp = order.created_at
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


class OrderStore:
    """Signal journal and order rows for one account on one venue."""

    def __init__(self, sessions: sessionmaker[Session], *, account: str, venue: str) -> None:
        self.sessions = sessions
        self.account = account
        self.venue = venue

    def journal_signal(
        self,
        *,
        signal_id: str,
        strategy: str,
        market_id: str,
        token_id: str,
        action: str,
        price: Decimal | None,
        size: Decimal | None,
        payload: bytes,
    ) -> tuple[SignalJournalEntry, bool]:
        """Record a received signal; ``(entry, False)`` when the id was seen before."""
        with self.sessions.begin() as session:
            return journal_signal(
                session,
                signal_id=signal_id,
                strategy=strategy,
                market_id=market_id,
                token_id=token_id,
                action=action,
                price=price,
                size=size,
                payload=payload,
            )

    def set_signal(self, signal_id: str, status: SignalStatus, reason: str = "") -> None:
        """Move a journalled signal to ``status``."""
        with self.sessions.begin() as session:
            set_signal_status(session, signal_id, status, reason)

    def signal(self, signal_id: str) -> SignalJournalEntry | None:
        """Return the journal row of ``signal_id``."""
        with self.sessions() as session:
            return session.scalar(
                select(SignalJournalEntry).where(SignalJournalEntry.signal_id == signal_id)
            )

    def journal_intent(self, plan: OrderPlan, sign: IdForOrder) -> Order:
        """Commit the order intent (PENDING_SUBMIT) with the venue id it will have; return it."""
        with self.sessions.begin() as session:
            order = journal_order_intent(
                session,
                client_order_id=plan.client_order_id,
                market_id=plan.market_id,
                token_id=plan.token_id,
                side=plan.side,
                price=plan.price,
                size=plan.size,
                strategy=plan.strategy,
                signal_id=plan.signal_id,
                account=self.account,
                venue=self.venue,
                order_type=plan.order_type,
                post_only=plan.post_only,
                expiration=plan.expiration,
            )
            session.refresh(order, ["created_at"])  # SQLite's clock stamped it; read it back
            order.venue_order_id = sign(plan, created_ms(order))
            session.flush()
            return order

    def order(self, *, client_order_id: str = "", venue_order_id: str = "") -> Order | None:
        """Return one order by our id or the venue's."""
        with self.sessions() as session:
            if client_order_id:
                return session.scalar(select(Order).where(Order.client_order_id == client_order_id))
            return session.scalar(select(Order).where(Order.venue_order_id == venue_order_id))

    def orders(self, statuses: Sequence[str]) -> list[Order]:
        """Return this account's orders in ``statuses``, oldest first."""
        with self.sessions() as session:
            rows = session.scalars(
                select(Order)
                .where(Order.status.in_(list(statuses)), Order.account == self.account)
                .order_by(Order.id)
            )
            return list(rows)

    def update_order(
        self,
        client_order_id: str,
        *,
        status: str | None = None,
        size_matched: Decimal | None = None,
        reason: str = "",
        submitted: bool = False,
    ) -> Order:
        """Change an order's status / matched size; return the updated row."""
        with self.sessions.begin() as session:
            order = session.scalar(select(Order).where(Order.client_order_id == client_order_id))
            if order is None:
                raise KeyError(f"no order {client_order_id!r}")
            if status is not None:
                order.status = status
            if size_matched is not None and size_matched > order.size_matched:
                order.size_matched = size_matched
            if reason:
                order.reason = reason
            if submitted and order.submitted_at is None:
                order.submitted_at = datetime.now(UTC)
            session.flush()
            return order

    def advance_signal(
        self,
        signal_id: str,
        status: SignalStatus,
        reason: str = "",
        *,
        unless: Sequence[str] = TERMINAL_SIGNAL,
    ) -> bool:
        """Move a signal to ``status`` unless it already is in one of ``unless``; True if moved."""
        with self.sessions.begin() as session:
            entry = session.scalar(
                select(SignalJournalEntry).where(SignalJournalEntry.signal_id == signal_id)
            )
            if entry is None or entry.status in unless:
                return False
            entry.status = status
            if reason:
                entry.reason = reason
            return True

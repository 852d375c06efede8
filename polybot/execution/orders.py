"""The executor's records in ``polybot.db``: the signal journal and our orders.

Crash safety is the ordering of commits. A signal's decision is committed in one transaction at
the moment it is made: a refusal (validation, risk, shadow) as a REJECTED row; an acceptance as
the SUBMITTING signal row *together with* the order intent (``PENDING_SUBMIT``, carrying the venue
order id it *will* have — the EIP-712 digest is known before anything is sent). Only then is the
venue called. After a crash, ``PENDING_SUBMIT`` rows are exactly the orders whose fate must be
looked up at the venue; a signal with no row was never acted on (nothing left the process).

The executor is the only writer of these two tables, so the store keeps the rows it works with in
memory — every open order, and recently touched ones — and writes through with single SQL
statements: the hot path reads nothing back from SQLite.

Writes are on the decision path, so they are cheap: every statement is a Core construct compiled
once (``polybot.storage.prepared``) and run on one raw connection the store keeps open — no
SQLAlchemy execution context per statement. bench/order_store.py measures the accepted signal's
journal transaction against the plain SQLAlchemy Core path in the same run. The store is used from
the executor's event loop only (one thread).
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Engine, Insert, Table, Update, and_, bindparam, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from polybot.execution.intake import OrderPlan
from polybot.storage.models import Order, OrderStatus, SignalJournalEntry, SignalStatus
from polybot.storage.prepared import PreparedStatement, WriterConnection

OPEN_STATUSES = (OrderStatus.PENDING_SUBMIT, OrderStatus.LIVE)
TERMINAL_SIGNAL = (
    SignalStatus.REJECTED,
    SignalStatus.FILLED,
    SignalStatus.CANCELED,
    SignalStatus.FAILED,
)
RECENT_ORDERS = 4096  # closed orders kept in memory (late fills and updates find them there)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_ORDERS = cast(Table, Order.__table__)
_SIGNALS = cast(Table, SignalJournalEntry.__table__)
ZERO = Decimal(0)
_SIGNAL_COLUMNS = (
    "signal_id",
    "strategy",
    "market_id",
    "token_id",
    "action",
    "price",
    "size",
    "payload",
    "status",
    "reason",
    "client_order_id",
)  # received_at/updated_at: the database's clock
_ORDER_COLUMNS = tuple(c.key for c in _ORDERS.columns if c.key != "id")
_INSERT_SIGNAL: Insert = insert(_SIGNALS).values({c: bindparam(c) for c in _SIGNAL_COLUMNS})
_INSERT_ORDER: Insert = insert(_ORDERS).values({c: bindparam(c) for c in _ORDER_COLUMNS})
_UPDATE_ORDER: Update = (
    update(_ORDERS)
    .where(_ORDERS.c.client_order_id == bindparam("coid"))
    .values(
        status=bindparam("status"),
        reason=bindparam("reason"),
        submitted_at=bindparam("submitted_at"),
        updated_at=bindparam("updated_at"),
    )
)


class DuplicateSignal(Exception):
    """The signal id is already in the journal (a resend): its first fate stands."""


def created_ms(order: Order) -> int:
    """Return the order row's creation time in ms: the timestamp signed into the order."""
    stamp = order.created_at
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return (stamp - _EPOCH) // _MS  # integer arithmetic: a float could land 1 ms short


def ms_datetime(ms: int) -> datetime:
    """Return the aware UTC datetime of a ms timestamp (exactly; no float rounding)."""
    return _EPOCH + ms * _MS


class OrderStore:
    """Signal journal and order rows for one account on one venue."""

    def __init__(self, sessions: sessionmaker[Session], *, account: str, venue: str) -> None:
        self.sessions = sessions
        bind = sessions.kw.get("bind")
        if not isinstance(bind, Engine):
            raise TypeError("the session factory must be bound to an Engine")
        self.engine: Engine = bind
        self._writer = WriterConnection(bind)  # opened on first write
        self._statements: dict[object, PreparedStatement] = {}
        self.account = account
        self.venue = venue
        self._open: dict[str, Order] = {}
        self._recent: OrderedDict[str, Order] = OrderedDict()
        self._by_venue: dict[str, str] = {}
        self._load_open()

    def _run(
        self, cursor: sqlite3.Cursor, statement: Insert | Update, values: dict[str, Any]
    ) -> sqlite3.Cursor:
        prepared = self._statements.get(statement)
        if prepared is None:
            prepared = self._statements[statement] = PreparedStatement(statement, self.engine)
        return prepared.run(cursor, values)

    def data_version(self) -> int:
        """Return a number that changes whenever another connection (process) commits."""
        return self._writer.data_version()

    def close(self) -> None:
        """Close the writer's connection (it reopens on the next write)."""
        self._writer.close()

    # ---- the signal journal -----------------------------------------------------------------------

    def _signal_row(
        self, fields: dict[str, Any], status: SignalStatus, reason: str, payload: bytes
    ) -> dict[str, Any]:
        return {
            "signal_id": fields["signal_id"],
            "strategy": fields["strategy"],
            "market_id": fields["market_id"],
            "token_id": fields["token_id"],
            "action": fields["action"],
            "price": fields.get("price_exact"),
            "size": fields.get("size_exact"),
            "payload": payload,
            "status": status,
            "reason": reason,
            "client_order_id": None,
        }

    def record_decision(
        self, fields: dict[str, Any], status: SignalStatus, reason: str, payload: bytes
    ) -> None:
        """Journal a signal that ends here (refused, shadowed, failed); raise ``DuplicateSignal``.

        ``fields``: ``signal_id``, ``strategy``, ``market_id``, ``token_id``, ``action`` and the
        exact ``price_exact``/``size_exact`` (None when the sender's float has no exact decimal).
        """
        try:
            with self._writer.transaction() as cursor:
                self._run(cursor, _INSERT_SIGNAL, self._signal_row(fields, status, reason, payload))
        except sqlite3.IntegrityError as exc:
            raise DuplicateSignal(fields["signal_id"]) from exc

    def record_failure(self, fields: dict[str, Any], reason: str, payload: bytes) -> None:
        """Mark a signal FAILED (processing broke); journal it first if it has no row yet."""
        if self.advance_signal(fields["signal_id"], SignalStatus.FAILED, reason):
            return
        with contextlib.suppress(DuplicateSignal):  # a terminal row already: that fate stands
            self.record_decision(fields, SignalStatus.FAILED, reason, payload)

    def journal_intent(
        self,
        fields: dict[str, Any],
        payload: bytes,
        plan: OrderPlan,
        *,
        venue_order_id: str,
        created: int,
    ) -> Order:
        """Commit the accepted signal (SUBMITTING) and its order intent (PENDING_SUBMIT) at once.

        ``created`` (ms) is the timestamp signed into the order and ``venue_order_id`` the signed
        order's digest: a restarted executor rebuilds the identical order from this row. Raises
        ``DuplicateSignal`` when the signal id is journalled already.
        """
        stamp = ms_datetime(created)
        signal_row = self._signal_row(fields, SignalStatus.SUBMITTING, "", payload)
        signal_row["client_order_id"] = plan.client_order_id
        order = Order(
            client_order_id=plan.client_order_id,
            venue_order_id=venue_order_id,
            signal_id=plan.signal_id,
            strategy=plan.strategy,
            account=self.account,
            venue=self.venue,
            market_id=plan.market_id,
            token_id=plan.token_id,
            side=plan.side,
            order_type=plan.order_type,
            price=plan.price,
            original_size=plan.size,
            size_matched=ZERO,
            avg_fill_price=None,
            fees_paid=ZERO,
            post_only=plan.post_only,
            expiration=plan.expiration,
            status=OrderStatus.PENDING_SUBMIT,
            reason="",
            created_at=stamp,
            submitted_at=None,
            updated_at=stamp,
        )
        row = {key: getattr(order, key) for key in _ORDER_COLUMNS}
        try:
            with self._writer.transaction() as cursor:
                self._run(cursor, _INSERT_SIGNAL, signal_row)
                order_id = self._run(cursor, _INSERT_ORDER, row).lastrowid
        except sqlite3.IntegrityError as exc:
            raise DuplicateSignal(plan.signal_id) from exc
        assert order_id is not None  # an INSERT into a rowid table always sets it
        order.id = order_id
        self._remember(order)
        return order

    def set_signal(self, signal_id: str, status: SignalStatus, reason: str = "") -> None:
        """Move a journalled signal to ``status``."""
        values: dict[str, Any] = {"sid": signal_id, "status": status}
        statement = _SET_SIGNAL
        if reason:
            values["reason"] = reason
            statement = _SET_SIGNAL_WITH_REASON
        with self._writer.transaction() as cursor:
            self._run(cursor, statement, values)

    def signal(self, signal_id: str) -> SignalJournalEntry | None:
        """Return the journal row of ``signal_id``."""
        with self.sessions() as session:
            return session.scalar(
                select(SignalJournalEntry).where(SignalJournalEntry.signal_id == signal_id)
            )

    def advance_signal(
        self,
        signal_id: str,
        status: SignalStatus,
        reason: str = "",
        *,
        unless: Sequence[str] = TERMINAL_SIGNAL,
    ) -> bool:
        """Move a signal to ``status`` unless it already is in one of ``unless``; True if moved."""
        move = SignalMove(status, reason, tuple(unless))
        with self._writer.transaction() as cursor:
            moved = self._run(cursor, *move.statement(signal_id)).rowcount
        return bool(moved)

    # ---- orders -----------------------------------------------------------------------------------

    def _load_open(self) -> None:
        with self.sessions() as session:
            rows = session.scalars(
                select(Order)
                .where(Order.status.in_(list(OPEN_STATUSES)), Order.account == self.account)
                .order_by(Order.id)
            )
            for order in rows:
                self._remember(order)

    def _remember(self, order: Order) -> None:
        coid = order.client_order_id
        if order.venue_order_id:
            self._by_venue[order.venue_order_id] = coid
        if order.status in OPEN_STATUSES:
            self._recent.pop(coid, None)
            self._open[coid] = order
            return
        self._open.pop(coid, None)
        self._recent[coid] = order
        self._recent.move_to_end(coid)
        while len(self._recent) > RECENT_ORDERS:
            _, old = self._recent.popitem(last=False)
            if old.venue_order_id:
                self._by_venue.pop(old.venue_order_id, None)

    def _cached(self, client_order_id: str) -> Order | None:
        return self._open.get(client_order_id) or self._recent.get(client_order_id)

    def order(self, *, client_order_id: str = "", venue_order_id: str = "") -> Order | None:
        """Return one order by our id or the venue's (memory first, then the database)."""
        if not client_order_id and venue_order_id:
            client_order_id = self._by_venue.get(venue_order_id, "")
        if client_order_id:
            cached = self._cached(client_order_id)
            if cached is not None:
                return cached
        with self.sessions() as session:
            if client_order_id:
                found = session.scalar(
                    select(Order).where(Order.client_order_id == client_order_id)
                )
            elif venue_order_id:
                found = session.scalar(select(Order).where(Order.venue_order_id == venue_order_id))
            else:
                return None
        if found is not None and found.account == self.account:
            self._remember(found)
        return found

    def reload(self, client_order_id: str) -> Order | None:
        """Re-read one order from the database (after another writer path, e.g. a fill)."""
        with self.sessions() as session:
            found = session.scalar(select(Order).where(Order.client_order_id == client_order_id))
        if found is not None:
            self._remember(found)
        return found

    def open_orders(self) -> list[Order]:
        """Return this account's open orders (PENDING_SUBMIT and LIVE), oldest first."""
        return sorted(self._open.values(), key=lambda o: o.id)

    def orders(self, statuses: Sequence[str]) -> list[Order]:
        """Return this account's orders in ``statuses``, oldest first."""
        if set(statuses) <= set(OPEN_STATUSES):
            return [o for o in self.open_orders() if o.status in statuses]
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
        reason: str = "",
        submitted: bool = False,
        signal: SignalMove | None = None,
    ) -> Order:
        """Change an order's status (with a reason; stamping the submit time once); return it.

        ``signal`` moves the order's signal in the same transaction (one commit for both).
        """
        order = self.order(client_order_id=client_order_id)
        if order is None:
            raise KeyError(f"no order {client_order_id!r}")
        now = datetime.now(UTC)
        values: dict[str, Any] = {"updated_at": now}
        if status is not None:
            values["status"] = status
        if reason:
            values["reason"] = reason
        if submitted and order.submitted_at is None:
            values["submitted_at"] = now
        row = {
            "coid": client_order_id,
            "status": values.get("status", order.status),
            "reason": values.get("reason", order.reason),
            "submitted_at": values.get("submitted_at", order.submitted_at),
            "updated_at": now,
        }
        with self._writer.transaction() as cursor:
            self._run(cursor, _UPDATE_ORDER, row)
            if signal is not None and order.signal_id:
                self._run(cursor, *signal.statement(order.signal_id))
        for key, value in values.items():
            setattr(order, key, value)
        self._remember(order)
        return order


@dataclass(frozen=True, slots=True)
class SignalMove:
    """Move a signal to ``status`` (with ``reason``) unless it is in one of ``unless`` already."""

    status: SignalStatus
    reason: str = ""
    unless: tuple[str, ...] = TERMINAL_SIGNAL

    def statement(self, signal_id: str) -> tuple[Update, dict[str, Any]]:
        """Return the UPDATE that makes the move and its parameters."""
        params: dict[str, Any] = {"sid": signal_id, "status": self.status}
        if self.reason:
            params["reason"] = self.reason
        return _move_signal(bool(self.reason), self.unless), params


@functools.cache
def _move_signal(with_reason: bool, unless: tuple[str, ...]) -> Update:
    # One statement per (reason?, unless) with the excluded statuses as literal-valued binds, so it
    # compiles once to plain ``?`` parameters (an expanding IN would be re-rendered every time).
    return _set_signal(with_reason).where(
        and_(*(_SIGNALS.c.status != bindparam(f"unless_{i}", s) for i, s in enumerate(unless)))
    )


def _set_signal(with_reason: bool) -> Update:
    values: dict[str, Any] = {"status": bindparam("status")}
    if with_reason:
        values["reason"] = bindparam("reason")
    return update(_SIGNALS).where(_SIGNALS.c.signal_id == bindparam("sid")).values(**values)


_SET_SIGNAL = _set_signal(with_reason=False)
_SET_SIGNAL_WITH_REASON = _set_signal(with_reason=True)

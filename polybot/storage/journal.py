"""Reliability records in ``polybot.db``: the signal journal, order intents, dead letters, audit.

Each function works inside the caller's ``Session`` and flushes but does not commit, so the
executor can put several records in one transaction (e.g. the order intent together with the
signal's SUBMITTING status) and commit *before* it calls the venue. That ordering is the whole
crash-safety story: if the process dies after the commit, ``pending_order_intents`` lists exactly
the orders whose fate must be looked up at the venue by ``client_order_id``; if it dies before,
nothing was sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from polybot.storage.models import (
    AuditLogEntry,
    DeadLetter,
    Order,
    OrderStatus,
    SignalJournalEntry,
    SignalStatus,
)


def journal_signal(
    session: Session,
    *,
    signal_id: str,
    strategy: str,
    market_id: str,
    token_id: str,
    action: str,
    price: Decimal | None,
    size: Decimal | None,
    payload: bytes,
    status: SignalStatus = SignalStatus.RECEIVED,
    reason: str = "",
) -> tuple[SignalJournalEntry, bool]:
    """Record a received signal; return ``(entry, is_new)``.

    A signal id seen before returns the existing entry untouched with ``is_new=False``: senders
    resend after timeouts and the executor must not act twice on one signal.
    """
    existing = session.scalar(
        select(SignalJournalEntry).where(SignalJournalEntry.signal_id == signal_id)
    )
    if existing is not None:
        return existing, False
    entry = SignalJournalEntry(
        signal_id=signal_id, strategy=strategy, market_id=market_id, token_id=token_id,
        action=action, price=price, size=size, payload=payload, status=status, reason=reason,
    )
    session.add(entry)
    session.flush()
    return entry, True


def set_signal_status(
    session: Session, signal_id: str, status: SignalStatus, reason: str = ""
) -> SignalJournalEntry:
    """Move a journalled signal to ``status`` (with the reason, for rejections and failures)."""
    entry = session.scalar(
        select(SignalJournalEntry).where(SignalJournalEntry.signal_id == signal_id)
    )
    if entry is None:
        raise KeyError(f"signal {signal_id!r} is not in the journal")
    entry.status = status
    if reason:
        entry.reason = reason
    session.flush()
    return entry


def journal_order_intent(
    session: Session,
    *,
    client_order_id: str,
    market_id: str,
    token_id: str,
    side: str,
    price: Decimal,
    size: Decimal,
    strategy: str = "",
    signal_id: str | None = None,
    account: str = "paper",
    venue: str = "local",
    order_type: str = "GTC",
    post_only: bool = False,
    expiration: int = 0,
) -> Order:
    """Record the order we are about to submit (status PENDING_SUBMIT); commit before submitting.

    With ``signal_id`` the signal is linked to the order and moved to SUBMITTING in the same
    transaction. ``client_order_id`` is unique: journalling it twice raises ``IntegrityError``.
    """
    order = Order(
        client_order_id=client_order_id, signal_id=signal_id, strategy=strategy, account=account,
        venue=venue, market_id=market_id, token_id=token_id, side=side, order_type=order_type,
        price=price, original_size=size, post_only=post_only, expiration=expiration,
        status=OrderStatus.PENDING_SUBMIT,
    )
    session.add(order)
    if signal_id is not None:
        entry = set_signal_status(session, signal_id, SignalStatus.SUBMITTING)
        entry.client_order_id = client_order_id
    session.flush()
    return order


def pending_order_intents(session: Session) -> Sequence[Order]:
    """Return orders journalled but not known to have reached the venue (reconcile these)."""
    return session.scalars(
        select(Order).where(Order.status == OrderStatus.PENDING_SUBMIT).order_by(Order.id)
    ).all()


def record_dead_letter(session: Session, *, source: str, reason: str, payload: bytes) -> DeadLetter:
    """Keep a frame nobody could process, byte for byte, with why it was refused."""
    letter = DeadLetter(source=source, reason=reason, payload=payload)
    session.add(letter)
    session.flush()
    return letter


def record_audit(
    session: Session,
    *,
    actor: str,
    command: str,
    args: Mapping[str, Any],
    result: str,
    is_ok: bool,
    request_id: str = "",
) -> AuditLogEntry:
    """Log a state-changing command. ``args`` must already be free of secrets (tokens, keys)."""
    entry = AuditLogEntry(
        actor=actor, command=command, args=json.dumps(args, sort_keys=True, default=str),
        result=result, is_ok=is_ok, request_id=request_id,
    )
    session.add(entry)
    session.flush()
    return entry

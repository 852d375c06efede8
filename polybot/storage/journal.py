"""Reliability records in ``polybot.db`` shared by every service: dead letters and the audit log.

Each function works inside the caller's ``Session`` and flushes but does not commit, so a record
can join the transaction of the change it is about. (The signal journal and order intents are
the executor's alone: ``polybot.execution.orders.OrderStore``.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from polybot.storage.models import (
    AuditLogEntry,
    DeadLetter,
)


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

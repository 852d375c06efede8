"""Read-only answers from ``polybot.db``: positions, orders, trades, PnL, risk, strategies, audit.

Every function takes a ``Session`` and returns plain JSON-able data (Decimals as strings, times as
ISO-8601 UTC), because the reply travels as msgpack to notebooks, the API and other languages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polybot.risk.limits import RiskLimits
from polybot.storage.models import (
    AuditLogEntry,
    Order,
    OrderStatus,
    Position,
    StrategyConfig,
    Trade,
)
from polybot.storage.realized import realized_since

OPEN_STATUSES = (OrderStatus.PENDING_SUBMIT, OrderStatus.LIVE)
MAX_ROWS = 5000  # a reply is one NNG frame: keep it bounded
ZERO = Decimal(0)


def plain(value: Any) -> Any:
    """Return ``value`` as JSON-able data: Decimal → str, datetime → ISO string."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _row(obj: Any, columns: tuple[str, ...]) -> dict[str, Any]:
    return {name: plain(getattr(obj, name)) for name in columns}


_POSITION_COLUMNS = (
    "account",
    "strategy",
    "market_id",
    "token_id",
    "size",
    "avg_price",
    "realized_pnl",
    "fees_paid",
    "opened_at",
    "updated_at",
)
_ORDER_COLUMNS = (
    "client_order_id",
    "venue_order_id",
    "signal_id",
    "strategy",
    "account",
    "venue",
    "market_id",
    "token_id",
    "side",
    "order_type",
    "price",
    "original_size",
    "size_matched",
    "avg_fill_price",
    "fees_paid",
    "status",
    "reason",
    "created_at",
    "updated_at",
)
_TRADE_COLUMNS = (
    "fill_id",
    "client_order_id",
    "strategy",
    "account",
    "market_id",
    "token_id",
    "side",
    "price",
    "size",
    "fee",
    "liquidity",
    "status",
    "realized_pnl",
    "traded_at",
)


def _limit(args: Mapping[str, Any], default: int = 200) -> int:
    value = args.get("limit", default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError("limit must be a positive integer")
    return min(value, MAX_ROWS)


def positions(session: Session, args: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return positions (non-zero only unless ``all``), optionally of one strategy/account."""
    query = select(Position).order_by(Position.strategy, Position.market_id, Position.token_id)
    if strategy := args.get("strategy"):
        query = query.where(Position.strategy == strategy)
    if account := args.get("account"):
        query = query.where(Position.account == account)
    rows = session.scalars(query.limit(MAX_ROWS)).all()
    keep_all = bool(args.get("all", False))
    return [_row(p, _POSITION_COLUMNS) for p in rows if keep_all or p.size != ZERO]


def orders(session: Session, args: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return orders, newest first; ``status="open"`` (the default) means not yet final."""
    query = select(Order).order_by(Order.id.desc())
    status = args.get("status", "open")
    if status == "open":
        query = query.where(Order.status.in_(OPEN_STATUSES))
    elif isinstance(status, str) and status != "all":
        query = query.where(Order.status == status.upper())
    if strategy := args.get("strategy"):
        query = query.where(Order.strategy == strategy)
    if market_id := args.get("market_id"):
        query = query.where(Order.market_id == market_id)
    return [_row(o, _ORDER_COLUMNS) for o in session.scalars(query.limit(_limit(args))).all()]


def trades(session: Session, args: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return our fills, newest first."""
    query = select(Trade).order_by(Trade.id.desc())
    if strategy := args.get("strategy"):
        query = query.where(Trade.strategy == strategy)
    return [_row(t, _TRADE_COLUMNS) for t in session.scalars(query.limit(_limit(args))).all()]


def pnl(session: Session, marks: Mapping[str, float]) -> dict[str, Any]:
    """Return realized, unrealized (positions marked at the latest mid) and fees, per strategy.

    Tokens without a mark yet are valued at cost (unrealized 0) and listed in ``unmarked``.
    ``daily_realized`` is the PnL realized since 00:00 UTC by fills, settlements and reversals
    of failed fills — the same sum the executor's daily loss limit starts from.
    """
    per: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {"realized": ZERO, "unrealized": ZERO, "fees": ZERO, "exposure": ZERO}
    )
    unmarked: list[str] = []
    for position in session.scalars(select(Position)).all():
        bucket = per[position.strategy]
        bucket["realized"] += position.realized_pnl
        bucket["fees"] += position.fees_paid
        if position.size == ZERO:
            continue
        bucket["exposure"] += position.size * position.avg_price
        mark = marks.get(position.token_id)
        if mark is None:
            unmarked.append(position.token_id)
            continue
        bucket["unrealized"] += position.size * (Decimal(repr(mark)) - position.avg_price)
    day_start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    daily_trades = session.scalar(select(func.count(Trade.id)).where(Trade.traded_at >= day_start))
    daily = realized_since(session, None, day_start)
    totals = {
        key: sum((b[key] for b in per.values()), ZERO)
        for key in ("realized", "unrealized", "fees", "exposure")
    }
    return {
        "total": {k: str(v) for k, v in totals.items()},
        "by_strategy": {name: {k: str(v) for k, v in b.items()} for name, b in sorted(per.items())},
        "daily_realized": str(daily),
        "daily_trades": int(daily_trades or 0),
        "unmarked": sorted(set(unmarked)),
    }


def risk(session: Session, limits: RiskLimits, marks: Mapping[str, float]) -> dict[str, Any]:
    """Return the effective limits and how close the book of positions is to them."""
    open_orders = session.scalar(
        select(func.count(Order.id)).where(Order.status.in_(OPEN_STATUSES))
    )
    exposure_by_market: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for position in session.scalars(select(Position)).all():
        if position.size != ZERO:  # exact Decimal compare; the column is canonical text
            exposure_by_market[position.market_id] += position.size * position.avg_price
    summary = pnl(session, marks)
    daily = Decimal(summary["daily_realized"]) + Decimal(summary["total"]["unrealized"])
    return {
        "limits": limits.model_dump(mode="json"),
        "kill_switch": limits.kill_switch,
        "open_orders": int(open_orders or 0),
        "total_exposure": str(sum(exposure_by_market.values(), ZERO)),
        "exposure_by_market": {k: str(v) for k, v in sorted(exposure_by_market.items())},
        "daily_pnl": str(daily),
        "daily_loss_headroom": str(limits.max_daily_loss + min(daily, ZERO)),
    }


def latest_configs(session: Session) -> dict[str, StrategyConfig]:
    """Return the newest ``strategy_configs`` row of every strategy instance (its current version)."""
    newest = (
        select(StrategyConfig.strategy, func.max(StrategyConfig.id).label("id"))
        .group_by(StrategyConfig.strategy)
        .subquery()
    )
    rows = session.scalars(select(StrategyConfig).join(newest, StrategyConfig.id == newest.c.id))
    return {row.strategy: row for row in rows}


def audit(session: Session, args: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the newest audit rows (arguments were stored without secrets)."""
    query = select(AuditLogEntry).order_by(AuditLogEntry.id.desc())
    if command := args.get("command"):
        query = query.where(AuditLogEntry.command == command)
    columns = ("actor", "command", "args", "result", "is_ok", "request_id", "created_at")
    return [_row(a, columns) for a in session.scalars(query.limit(_limit(args, 100))).all()]

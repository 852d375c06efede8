"""The operational schema of ``data/polybot.db``: SQLAlchemy 2 typed declarative models.

Conventions:

* Money, prices and sizes are ``ExactDecimal`` (canonical TEXT), never float.
* Times are ``UtcDateTime`` (aware UTC); ``created_at``/``updated_at`` are filled by SQLite itself
  so every writer agrees on them without passing a clock around.
* ``market_id`` is the condition id and ``token_id`` the outcome token (the bus's names).
* ``client_order_id`` is ours and unique; ``venue_order_id`` is the venue's order hash.
* ``account`` is the trading wallet's address (lower-case) or ``"paper"``; it keys positions and
  orders without forcing a ``wallets`` row to exist first.

The schema is owned by the Alembic migrations in ``polybot/storage/migrations``; a test compares
these models with the migrated database so the two cannot drift.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from polybot.storage.types import ExactDecimal, UtcDateTime

# Named constraints are required for Alembic batch (copy-and-move) migrations on SQLite.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite's own clock, in the same text layout UtcDateTime writes (millisecond precision).
NOW_SQL = "(strftime('%Y-%m-%d %H:%M:%f', 'now'))"
ZERO = text("'0'")


class SignalStatus(StrEnum):
    """The fate of a signal, as journalled. Terminal states: REJECTED, FILLED, CANCELED, FAILED."""

    RECEIVED = "RECEIVED"          # not written by the executor any more (rows of older versions)
    ACCEPTED = "ACCEPTED"          # passed validation and risk
    REJECTED = "REJECTED"          # validation or risk said no; ``reason`` says why
    SUBMITTING = "SUBMITTING"      # order intent journalled; the venue call may or may not happen
    SUBMITTED = "SUBMITTED"        # the venue acknowledged the order
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    FAILED = "FAILED"              # the venue refused or the submit failed for good


class OrderStatus(StrEnum):
    """Our order lifecycle; LIVE/MATCHED/CANCELED follow the venue's vocabulary."""

    PENDING_SUBMIT = "PENDING_SUBMIT"  # intent journalled; not known to have reached the venue
    LIVE = "LIVE"
    MATCHED = "MATCHED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"


class Base(DeclarativeBase):
    """Declarative base of every operational table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Market(Base):
    """One binary market (a condition) with its two outcome tokens and trading rules."""

    __tablename__ = "markets"

    market_id: Mapped[str] = mapped_column(String(80), primary_key=True)  # condition id
    question: Mapped[str] = mapped_column(Text, default="")
    slug: Mapped[str] = mapped_column(String(255), default="", index=True)
    event_slug: Mapped[str] = mapped_column(String(255), default="", index=True)
    yes_token_id: Mapped[str] = mapped_column(String(100), unique=True)
    no_token_id: Mapped[str] = mapped_column(String(100), unique=True)
    yes_outcome: Mapped[str] = mapped_column(String(100), default="Yes")
    no_outcome: Mapped[str] = mapped_column(String(100), default="No")
    tick_size: Mapped[Decimal] = mapped_column(ExactDecimal, server_default=text("'0.01'"))
    min_order_size: Mapped[Decimal] = mapped_column(ExactDecimal, server_default=text("'5'"))
    neg_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    winning_token_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=text(NOW_SQL))
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime, server_default=text(NOW_SQL), onupdate=func.strftime("%Y-%m-%d %H:%M:%f", "now")
    )


class Wallet(Base):
    """A wallet PolyBot trades from. Public data only: keys live in settings, never here."""

    __tablename__ = "wallets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(42), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    funder_address: Mapped[str | None] = mapped_column(String(42))
    signature_type: Mapped[int] = mapped_column(Integer, default=0)
    chain_id: Mapped[int] = mapped_column(Integer)
    venue: Mapped[str] = mapped_column(String(20), default="local")  # local | polymarket
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=text(NOW_SQL))


class StrategyConfig(Base):
    """One version of a strategy's typed config, identified by its content hash."""

    __tablename__ = "strategy_configs"
    __table_args__ = (UniqueConstraint("strategy", "config_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    strategy: Mapped[str] = mapped_column(String(100), index=True)  # instance name
    strategy_class: Mapped[str] = mapped_column(String(200), default="")
    config_hash: Mapped[str] = mapped_column(String(64))
    config: Mapped[str] = mapped_column(Text)  # the TOML/JSON exactly as loaded
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=text(NOW_SQL))


class SignalJournalEntry(Base):
    """Every signal the executor received, with its raw frame and its fate.

    The executor writes the row when it decides: a refusal with its reason, or — for an accepted
    signal — status SUBMITTING with its ``client_order_id``, in the same transaction as the
    ``orders`` row and *before* calling the venue; after a crash, SUBMITTING rows are exactly the
    orders whose fate must be reconciled with the venue.
    """

    __tablename__ = "signal_journal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signal_id: Mapped[str] = mapped_column(String(100), unique=True)
    strategy: Mapped[str] = mapped_column(String(100), index=True)
    market_id: Mapped[str] = mapped_column(String(80))
    token_id: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(10))  # BUY_YES, SELL_NO, ...
    price: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    size: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # the msgpack frame as received
    status: Mapped[str] = mapped_column(String(20), default=SignalStatus.RECEIVED, index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    client_order_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=text(NOW_SQL))
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime, server_default=text(NOW_SQL), onupdate=func.strftime("%Y-%m-%d %H:%M:%f", "now")
    )


class Order(Base):
    """One of our orders, from journalled intent to its final state."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_status", "status"),
        Index("ix_orders_market_id", "market_id"),
        Index("ix_orders_strategy", "strategy"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_order_id: Mapped[str] = mapped_column(String(100), unique=True)
    venue_order_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    signal_id: Mapped[str | None] = mapped_column(
        String(100), ForeignKey("signal_journal.signal_id", ondelete="SET NULL")
    )
    strategy: Mapped[str] = mapped_column(String(100), default="")
    account: Mapped[str] = mapped_column(String(42), default="paper")
    venue: Mapped[str] = mapped_column(String(20), default="local")
    market_id: Mapped[str] = mapped_column(String(80))
    token_id: Mapped[str] = mapped_column(String(100))
    side: Mapped[str] = mapped_column(String(4))  # BUY | SELL
    order_type: Mapped[str] = mapped_column(String(4), default="GTC")
    price: Mapped[Decimal] = mapped_column(ExactDecimal)
    original_size: Mapped[Decimal] = mapped_column(ExactDecimal)
    size_matched: Mapped[Decimal] = mapped_column(ExactDecimal, server_default=ZERO)
    avg_fill_price: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    fees_paid: Mapped[Decimal] = mapped_column(ExactDecimal, server_default=ZERO)
    post_only: Mapped[bool] = mapped_column(Boolean, default=False)
    expiration: Mapped[int] = mapped_column(Integer, default=0)  # unix seconds, GTD only
    status: Mapped[str] = mapped_column(String(20), default=OrderStatus.PENDING_SUBMIT)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=text(NOW_SQL))
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime, server_default=text(NOW_SQL), onupdate=func.strftime("%Y-%m-%d %H:%M:%f", "now")
    )


class Trade(Base):
    """One fill of one of our orders (a venue trade can fill several of ours: one row each)."""

    __tablename__ = "trades"
    __table_args__ = (
        UniqueConstraint("fill_id", "client_order_id"),
        Index("ix_trades_market_id", "market_id"),
        Index("ix_trades_traded_at", "traded_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fill_id: Mapped[str] = mapped_column(String(100))  # the venue's trade id
    order_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("orders.id", ondelete="SET NULL"), index=True
    )
    client_order_id: Mapped[str] = mapped_column(String(100), default="")
    venue_order_id: Mapped[str] = mapped_column(String(100), default="")
    strategy: Mapped[str] = mapped_column(String(100), default="")
    account: Mapped[str] = mapped_column(String(42), default="paper")
    market_id: Mapped[str] = mapped_column(String(80))
    token_id: Mapped[str] = mapped_column(String(100))
    side: Mapped[str] = mapped_column(String(4))
    price: Mapped[Decimal] = mapped_column(ExactDecimal)
    size: Mapped[Decimal] = mapped_column(ExactDecimal)
    fee: Mapped[Decimal] = mapped_column(ExactDecimal, server_default=ZERO)  # <0 is a rebate
    liquidity: Mapped[str] = mapped_column(String(5))  # MAKER | TAKER
    status: Mapped[str] = mapped_column(String(10))  # MATCHED, MINED, CONFIRMED, FAILED
    realized_pnl: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    traded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=text(NOW_SQL))


class Position(Base):
    """Net holding of one outcome token per account and strategy."""

    __tablename__ = "positions"
    __table_args__ = (UniqueConstraint("account", "strategy", "token_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(42), default="paper")
    strategy: Mapped[str] = mapped_column(String(100), default="")
    market_id: Mapped[str] = mapped_column(String(80), index=True)
    token_id: Mapped[str] = mapped_column(String(100))
    size: Mapped[Decimal] = mapped_column(ExactDecimal, server_default=ZERO)
    avg_price: Mapped[Decimal] = mapped_column(ExactDecimal, server_default=ZERO)
    realized_pnl: Mapped[Decimal] = mapped_column(ExactDecimal, server_default=ZERO)
    fees_paid: Mapped[Decimal] = mapped_column(ExactDecimal, server_default=ZERO)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=text(NOW_SQL))
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime, server_default=text(NOW_SQL), onupdate=func.strftime("%Y-%m-%d %H:%M:%f", "now")
    )


class MarketResolution(Base):
    """A market resolution as one account's ledger applied it (at most one per account × market).

    Written by the executor in the same commit as the settlements it caused, so a resolution seen
    again (the price bus, the venue, a restart) settles nothing twice; the first winner stands.
    A 50/50 resolution has no winner: ``winning_token_id`` is ``""`` and ``winning_outcome``
    ``"50-50"``.
    """

    __tablename__ = "market_resolutions"
    __table_args__ = (UniqueConstraint("account", "market_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(42), default="paper")
    market_id: Mapped[str] = mapped_column(String(80))
    winning_token_id: Mapped[str] = mapped_column(String(100))
    winning_outcome: Mapped[str] = mapped_column(String(100), default="")
    source: Mapped[str] = mapped_column(String(20), default="")  # prices.pub | venue
    resolved_at: Mapped[datetime] = mapped_column(UtcDateTime)  # as reported (else when seen)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=text(NOW_SQL))


class Settlement(Base):
    """A position closed by its market's resolution: 1 pUSD per winning share, 0 per losing one,
    0.5 per share of either token when the market resolved 50/50.

    ``realized_pnl`` is ``shares × (payout_price − avg_price)``; ``payout`` is what redeeming the
    shares at the venue pays. ``after_trade_id`` is the position's last ``trades`` row when it was
    settled: where the settlement sits among the fills when a position is replayed.
    """

    __tablename__ = "settlements"
    __table_args__ = (
        UniqueConstraint("account", "strategy", "token_id", "after_trade_id"),
        Index("ix_settlements_settled_at", "settled_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(42), default="paper")
    strategy: Mapped[str] = mapped_column(String(100), default="")
    market_id: Mapped[str] = mapped_column(String(80), index=True)
    token_id: Mapped[str] = mapped_column(String(100))
    winning_token_id: Mapped[str] = mapped_column(String(100))
    shares: Mapped[Decimal] = mapped_column(ExactDecimal)
    avg_price: Mapped[Decimal] = mapped_column(ExactDecimal)
    payout_price: Mapped[Decimal] = mapped_column(ExactDecimal)  # 1 (won) or 0 (lost)
    payout: Mapped[Decimal] = mapped_column(ExactDecimal)
    realized_pnl: Mapped[Decimal] = mapped_column(ExactDecimal)
    after_trade_id: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(20), default="")
    settled_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=text(NOW_SQL))


class FillReversal(Base):
    """A booked fill undone because the venue marked its trade FAILED (at most once per fill).

    The deltas are what the reversal moved: position size, realized PnL (net of the fee given
    back), fees and free collateral; the fill's own ``trades`` row stays, with status FAILED.
    """

    __tablename__ = "fill_reversals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trade_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("trades.id", ondelete="CASCADE"), unique=True
    )
    fill_id: Mapped[str] = mapped_column(String(100))
    client_order_id: Mapped[str] = mapped_column(String(100), default="")
    account: Mapped[str] = mapped_column(String(42), default="paper")
    strategy: Mapped[str] = mapped_column(String(100), default="")
    market_id: Mapped[str] = mapped_column(String(80))
    token_id: Mapped[str] = mapped_column(String(100))
    side: Mapped[str] = mapped_column(String(4))
    price: Mapped[Decimal] = mapped_column(ExactDecimal)
    size: Mapped[Decimal] = mapped_column(ExactDecimal)
    fee: Mapped[Decimal] = mapped_column(ExactDecimal)
    size_delta: Mapped[Decimal] = mapped_column(ExactDecimal)
    realized_pnl: Mapped[Decimal] = mapped_column(ExactDecimal)
    fees_delta: Mapped[Decimal] = mapped_column(ExactDecimal)
    cash_delta: Mapped[Decimal] = mapped_column(ExactDecimal)
    reversed_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=text(NOW_SQL))


class PnLDay(Base):
    """Where one account's PnL for a UTC day starts: the positions held when the day began (or
    when the executor first ran that day) and each one's first mark of the day.

    A restart in the middle of the day reads it back, so the day's PnL (and the daily-loss limit)
    keeps measuring from the same start instead of from the marks at the restart. ``open_marks``
    is JSON, ``[[strategy, token_id, value], ...]`` with ``value`` a decimal string, or null while
    the position has no mark yet that day. See ``polybot.execution.pnl_tracker``.
    """

    __tablename__ = "pnl_days"
    __table_args__ = (UniqueConstraint("account", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(42))
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD (UTC)
    open_marks: Mapped[str] = mapped_column(Text, default="[]")
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime, server_default=text(NOW_SQL), onupdate=func.strftime("%Y-%m-%d %H:%M:%f", "now")
    )


class DeadLetter(Base):
    """A frame or message nobody could process, kept byte for byte with the reason."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100), index=True)  # service / socket
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(
        UtcDateTime, server_default=text(NOW_SQL), index=True
    )


class AuditLogEntry(Base):
    """Who ran which state-changing command with what arguments, and what came of it."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(100))  # "api:<client>", "cli:<user>", "notebook"
    command: Mapped[str] = mapped_column(String(100), index=True)
    args: Mapped[str] = mapped_column(Text, default="{}")  # JSON, secrets already removed
    result: Mapped[str] = mapped_column(Text, default="")
    is_ok: Mapped[bool] = mapped_column(Boolean, default=True)
    request_id: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(
        UtcDateTime, server_default=text(NOW_SQL), index=True
    )

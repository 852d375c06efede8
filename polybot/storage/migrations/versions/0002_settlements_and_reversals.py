"""Settlements of resolved markets, the resolutions applied, and reversals of FAILED fills.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 01:40:06.840977
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from polybot.storage.types import ExactDecimal, UtcDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# SQLite's clock in UtcDateTime's text layout (frozen here: later model changes must not alter
# what this revision creates).
NOW = sa.text("(strftime('%Y-%m-%d %H:%M:%f', 'now'))")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "market_resolutions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("market_id", sa.String(length=80), nullable=False),
        sa.Column("winning_token_id", sa.String(length=100), nullable=False),
        sa.Column("winning_outcome", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("resolved_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_resolutions")),
        sa.UniqueConstraint(
            "account", "market_id", name=op.f("uq_market_resolutions_account_market_id")
        ),
    )

    op.create_table(
        "settlements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("strategy", sa.String(length=100), nullable=False),
        sa.Column("market_id", sa.String(length=80), nullable=False),
        sa.Column("token_id", sa.String(length=100), nullable=False),
        sa.Column("winning_token_id", sa.String(length=100), nullable=False),
        sa.Column("shares", ExactDecimal(), nullable=False),
        sa.Column("avg_price", ExactDecimal(), nullable=False),
        sa.Column("payout_price", ExactDecimal(), nullable=False),
        sa.Column("payout", ExactDecimal(), nullable=False),
        sa.Column("realized_pnl", ExactDecimal(), nullable=False),
        sa.Column("after_trade_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("settled_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlements")),
        sa.UniqueConstraint(
            "account",
            "strategy",
            "token_id",
            "after_trade_id",
            name=op.f("uq_settlements_account_strategy_token_id_after_trade_id"),
        ),
    )
    with op.batch_alter_table("settlements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_settlements_market_id"), ["market_id"], unique=False)
        batch_op.create_index("ix_settlements_settled_at", ["settled_at"], unique=False)

    op.create_table(
        "fill_reversals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trade_id", sa.Integer(), nullable=False),
        sa.Column("fill_id", sa.String(length=100), nullable=False),
        sa.Column("client_order_id", sa.String(length=100), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("strategy", sa.String(length=100), nullable=False),
        sa.Column("market_id", sa.String(length=80), nullable=False),
        sa.Column("token_id", sa.String(length=100), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("price", ExactDecimal(), nullable=False),
        sa.Column("size", ExactDecimal(), nullable=False),
        sa.Column("fee", ExactDecimal(), nullable=False),
        sa.Column("size_delta", ExactDecimal(), nullable=False),
        sa.Column("realized_pnl", ExactDecimal(), nullable=False),
        sa.Column("fees_delta", ExactDecimal(), nullable=False),
        sa.Column("cash_delta", ExactDecimal(), nullable=False),
        sa.Column("reversed_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["trade_id"],
            ["trades.id"],
            name=op.f("fk_fill_reversals_trade_id_trades"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fill_reversals")),
        sa.UniqueConstraint("trade_id", name=op.f("uq_fill_reversals_trade_id")),
    )
    with op.batch_alter_table("fill_reversals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fill_reversals_reversed_at"), ["reversed_at"], unique=False
        )


def downgrade() -> None:
    """Revert this revision (children before the tables they reference)."""
    for table in ("fill_reversals", "settlements", "market_resolutions"):
        op.drop_table(table)

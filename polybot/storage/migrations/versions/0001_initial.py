"""Initial schema: markets, wallets, strategy configs, signal journal, orders, trades, positions,
dead letters and the audit log.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-24 21:36:20.786507
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from polybot.storage.types import ExactDecimal, UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# SQLite's clock in UtcDateTime's text layout (frozen here: later model changes must not alter
# what this revision creates).
NOW = sa.text("(strftime('%Y-%m-%d %H:%M:%f', 'now'))")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("command", sa.String(length=100), nullable=False),
        sa.Column("args", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("is_ok", sa.Boolean(), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.Column("created_at", UtcDateTime(), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_command"), ["command"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_created_at"), ["created_at"], unique=False)

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dead_letters_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_dead_letters_source"), ["source"], unique=False)

    op.create_table(
        "markets",
        sa.Column("market_id", sa.String(length=80), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("slug", sa.String(length=255), nullable=False),
        sa.Column("event_slug", sa.String(length=255), nullable=False),
        sa.Column("yes_token_id", sa.String(length=100), nullable=False),
        sa.Column("no_token_id", sa.String(length=100), nullable=False),
        sa.Column("yes_outcome", sa.String(length=100), nullable=False),
        sa.Column("no_outcome", sa.String(length=100), nullable=False),
        sa.Column("tick_size", ExactDecimal(), server_default=sa.text("'0.01'"), nullable=False),
        sa.Column("min_order_size", ExactDecimal(), server_default=sa.text("'5'"), nullable=False),
        sa.Column("neg_risk", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_closed", sa.Boolean(), nullable=False),
        sa.Column("end_date", UtcDateTime(), nullable=True),
        sa.Column("winning_token_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", UtcDateTime(), server_default=NOW, nullable=False),
        sa.Column("updated_at", UtcDateTime(), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("market_id", name=op.f("pk_markets")),
        sa.UniqueConstraint("no_token_id", name=op.f("uq_markets_no_token_id")),
        sa.UniqueConstraint("yes_token_id", name=op.f("uq_markets_yes_token_id")),
    )
    with op.batch_alter_table("markets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_markets_event_slug"), ["event_slug"], unique=False)
        batch_op.create_index(batch_op.f("ix_markets_slug"), ["slug"], unique=False)

    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("strategy", sa.String(length=100), nullable=False),
        sa.Column("market_id", sa.String(length=80), nullable=False),
        sa.Column("token_id", sa.String(length=100), nullable=False),
        sa.Column("size", ExactDecimal(), server_default=sa.text("'0'"), nullable=False),
        sa.Column("avg_price", ExactDecimal(), server_default=sa.text("'0'"), nullable=False),
        sa.Column("realized_pnl", ExactDecimal(), server_default=sa.text("'0'"), nullable=False),
        sa.Column("fees_paid", ExactDecimal(), server_default=sa.text("'0'"), nullable=False),
        sa.Column("opened_at", UtcDateTime(), server_default=NOW, nullable=False),
        sa.Column("updated_at", UtcDateTime(), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
        sa.UniqueConstraint(
            "account", "strategy", "token_id", name=op.f("uq_positions_account_strategy_token_id")
        ),
    )
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_positions_market_id"), ["market_id"], unique=False)

    op.create_table(
        "signal_journal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signal_id", sa.String(length=100), nullable=False),
        sa.Column("strategy", sa.String(length=100), nullable=False),
        sa.Column("market_id", sa.String(length=80), nullable=False),
        sa.Column("token_id", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("price", ExactDecimal(), nullable=True),
        sa.Column("size", ExactDecimal(), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("client_order_id", sa.String(length=100), nullable=True),
        sa.Column("received_at", UtcDateTime(), server_default=NOW, nullable=False),
        sa.Column("updated_at", UtcDateTime(), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signal_journal")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_signal_journal_client_order_id")),
        sa.UniqueConstraint("signal_id", name=op.f("uq_signal_journal_signal_id")),
    )
    with op.batch_alter_table("signal_journal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signal_journal_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_signal_journal_strategy"), ["strategy"], unique=False)

    op.create_table(
        "strategy_configs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(length=100), nullable=False),
        sa.Column("strategy_class", sa.String(length=200), nullable=False),
        sa.Column("config_hash", sa.String(length=64), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("is_enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_strategy_configs")),
        sa.UniqueConstraint(
            "strategy", "config_hash", name=op.f("uq_strategy_configs_strategy_config_hash")
        ),
    )
    with op.batch_alter_table("strategy_configs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_strategy_configs_strategy"), ["strategy"], unique=False
        )

    op.create_table(
        "wallets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("funder_address", sa.String(length=42), nullable=True),
        sa.Column("signature_type", sa.Integer(), nullable=False),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("venue", sa.String(length=20), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallets")),
        sa.UniqueConstraint("address", name=op.f("uq_wallets_address")),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_order_id", sa.String(length=100), nullable=False),
        sa.Column("venue_order_id", sa.String(length=100), nullable=True),
        sa.Column("signal_id", sa.String(length=100), nullable=True),
        sa.Column("strategy", sa.String(length=100), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("venue", sa.String(length=20), nullable=False),
        sa.Column("market_id", sa.String(length=80), nullable=False),
        sa.Column("token_id", sa.String(length=100), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("order_type", sa.String(length=4), nullable=False),
        sa.Column("price", ExactDecimal(), nullable=False),
        sa.Column("original_size", ExactDecimal(), nullable=False),
        sa.Column("size_matched", ExactDecimal(), server_default=sa.text("'0'"), nullable=False),
        sa.Column("avg_fill_price", ExactDecimal(), nullable=True),
        sa.Column("fees_paid", ExactDecimal(), server_default=sa.text("'0'"), nullable=False),
        sa.Column("post_only", sa.Boolean(), nullable=False),
        sa.Column("expiration", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), server_default=NOW, nullable=False),
        sa.Column("submitted_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["signal_id"],
            ["signal_journal.signal_id"],
            name=op.f("fk_orders_signal_id_signal_journal"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_orders_client_order_id")),
        sa.UniqueConstraint("venue_order_id", name=op.f("uq_orders_venue_order_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_market_id", ["market_id"], unique=False)
        batch_op.create_index("ix_orders_status", ["status"], unique=False)
        batch_op.create_index("ix_orders_strategy", ["strategy"], unique=False)

    op.create_table(
        "trades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fill_id", sa.String(length=100), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("client_order_id", sa.String(length=100), nullable=False),
        sa.Column("venue_order_id", sa.String(length=100), nullable=False),
        sa.Column("strategy", sa.String(length=100), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("market_id", sa.String(length=80), nullable=False),
        sa.Column("token_id", sa.String(length=100), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("price", ExactDecimal(), nullable=False),
        sa.Column("size", ExactDecimal(), nullable=False),
        sa.Column("fee", ExactDecimal(), server_default=sa.text("'0'"), nullable=False),
        sa.Column("liquidity", sa.String(length=5), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("realized_pnl", ExactDecimal(), nullable=True),
        sa.Column("traded_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_trades_order_id_orders"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trades")),
        sa.UniqueConstraint(
            "fill_id", "client_order_id", name=op.f("uq_trades_fill_id_client_order_id")
        ),
    )
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.create_index("ix_trades_market_id", ["market_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_trades_order_id"), ["order_id"], unique=False)
        batch_op.create_index("ix_trades_traded_at", ["traded_at"], unique=False)


def downgrade() -> None:
    """Revert this revision: drop every table (children before the tables they reference)."""
    for table in (
        "trades",
        "orders",
        "wallets",
        "strategy_configs",
        "signal_journal",
        "positions",
        "markets",
        "dead_letters",
        "audit_log",
    ):
        op.drop_table(table)

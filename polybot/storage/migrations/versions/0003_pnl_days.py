"""Where each account's PnL for a UTC day starts, so a mid-day restart keeps the day's baseline.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 06:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from polybot.storage.types import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite's clock in UtcDateTime's text layout (frozen here, as in 0002).
NOW = sa.text("(strftime('%Y-%m-%d %H:%M:%f', 'now'))")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "pnl_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("open_marks", sa.Text(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pnl_days")),
        sa.UniqueConstraint("account", "day", name=op.f("uq_pnl_days_account_day")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("pnl_days")

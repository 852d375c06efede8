"""Risk limits: one definition used by settings (env/TOML), the executor and the backtester."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class RiskLimits(BaseModel):
    """Pre-trade limits, in pUSD unless named otherwise. Changeable at runtime (audited)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_order_notional: Decimal = Field(Decimal(500), gt=0)  # price × size of one order
    max_market_position: Decimal = Field(Decimal(2_000), gt=0)  # cost held in one market
    max_total_exposure: Decimal = Field(Decimal(10_000), gt=0)  # cost held across all markets
    max_daily_loss: Decimal = Field(Decimal(1_000), gt=0)  # UTC day, realized + unrealized
    max_open_orders: int = Field(50, gt=0)
    min_balance: Decimal = Field(Decimal(0), ge=0)  # pUSD left after a BUY
    max_event_exposure: Decimal = Field(Decimal(3_000), gt=0)  # worst case over a neg-risk event
    stale_book_ms: int = Field(30_000, gt=0)
    kill_switch: bool = False

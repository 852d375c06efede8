"""How the analytics service behaves: batching, job cadences and correlation windows.

Read from the environment as ``POLYBOT_ANALYTICS__<FIELD>``; addresses and paths come from
``polybot.config.Settings`` (``bus.analytics_req``, ``analytics_path``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AnalyticsConfig(BaseSettings):
    """Behaviour of the analytics service (see the module docstring for how to set it)."""

    model_config = SettingsConfigDict(env_prefix="POLYBOT_ANALYTICS__", extra="forbid")

    flush_rows: int = Field(10_000, ge=1)
    flush_interval_s: float = Field(0.5, gt=0)  # bounds how stale the query endpoint can be
    stats_interval_s: float = Field(5.0, gt=0)  # recompute strategy_stats of touched days
    correlation_interval_s: float = Field(60.0, gt=0)
    correlation_window_s: int = Field(3600, ge=60)
    correlation_step_s: int = Field(60, ge=1)
    correlation_min_observations: int = Field(10, ge=3)
    correlation_max_markets: int = Field(50, ge=2)
    segments_interval_s: float = Field(60.0, gt=0)
    snapshot_interval_s: float = Field(300.0, gt=0)
    snapshots_keep: int = Field(3, ge=1)
    export_dir: Path | None = None  # default: <data_dir>/analytics

    def exports_dir(self, data_dir: Path) -> Path:
        """Return the folder of snapshots (``snapshots/``) and Parquet segments (``segments/``)."""
        return self.export_dir if self.export_dir is not None else data_dir / "analytics"

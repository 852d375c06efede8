"""How the scanner behaves: universe limits, feed timing, fallback polling and recording.

Read from the environment as ``POLYBOT_SCANNER__<FIELD>`` (e.g. ``POLYBOT_SCANNER__MAX_TOKENS=400``).
These are behaviour knobs, not addresses: where the venue and the buses are comes from
``polybot.config.Settings``. The main settings file cannot hold a ``[scanner]`` section yet
(``Settings`` forbids unknown sections), so the environment is the one source besides defaults.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ScannerConfig(BaseSettings):
    """Behaviour of the scanner service (see the module docstring for how to set it)."""

    model_config = SettingsConfigDict(env_prefix="POLYBOT_SCANNER__", extra="forbid")

    # Universe: the local venue can list thousands of tokens; each costs a book and WS traffic.
    max_markets: int = Field(500, ge=1)
    max_tokens: int = Field(1000, ge=2)
    tradable_only: bool = True  # skip markets whose book does not accept orders now
    refresh_interval_s: float = Field(300.0, gt=0)

    # Market WebSocket
    max_assets_per_socket: int = Field(200, ge=1)
    ping_interval_s: float = Field(10.0, gt=0)
    stale_after_s: float = Field(30.0, gt=0)
    backoff_initial_s: float = Field(0.5, gt=0)
    backoff_max_s: float = Field(30.0, gt=0)
    verify_hashes: bool = True
    health_interval_s: float = Field(10.0, ge=0)  # FeedHealth per token; 0 turns it off

    # REST fallback while a shard's socket is down
    fallback_after_s: float = Field(2.0, ge=0)
    poll_interval_s: float = Field(2.0, gt=0)

    # Recording of every market frame (raw + normalized) for replay
    record: bool = True
    record_dir: Path | None = None  # default: <data_dir>/recordings
    record_flush_interval_s: float = Field(30.0, gt=0)

    def recordings_dir(self, data_dir: Path) -> Path:
        """Return where recordings go for a stack whose data lives in ``data_dir``."""
        return self.record_dir if self.record_dir is not None else data_dir / "recordings"

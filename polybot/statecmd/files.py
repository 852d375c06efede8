"""Small JSON state files the state service owns: runtime risk overrides and strategy modes.

Both are written atomically (temporary name, fsync, rename) with owner-only permissions, so a
reader (the executor for risk, the runner for modes) never sees a half-written file and a restart
of any service keeps what an operator changed.

* ``data/risk_state.json``: ``{"limits": {...RiskLimits overrides...}, "updated_ms": ...}``; the
  effective limits are the settings' ``risk`` section with these overrides applied.
* ``data/strategy_modes.json``: ``{"modes": {"<strategy>": "live" | "shadow"}}``; a strategy
  missing from the map is ``shadow``: a new strategy trades for real only once an operator
  enabled it (``strategy.enable``). Disabling uses ``strategy_configs.is_enabled`` instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import msgspec
from pydantic import ValidationError

from polybot.core.errors import ConfigError
from polybot.risk.limits import RiskLimits

RISK_STATE_FILE = "risk_state.json"
STRATEGY_MODES_FILE = "strategy_modes.json"
FILE_MODE = 0o600

Mode = Literal["live", "shadow"]


class RiskState(msgspec.Struct, kw_only=True):
    """Overrides of the configured risk limits (field name → value as JSON)."""

    limits: dict[str, Any] = msgspec.field(default_factory=dict)
    updated_ms: int = 0


class StrategyModes(msgspec.Struct, kw_only=True):
    """Per-strategy execution mode; ``shadow`` runs the strategy but sends no orders."""

    modes: dict[str, Mode] = msgspec.field(default_factory=dict)
    updated_ms: int = 0

    def mode(self, strategy: str) -> Mode:
        """Return the strategy's mode (``shadow`` until enabled as ``live``)."""
        return self.modes.get(strategy, "shadow")


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new file, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def read_risk_state(data_dir: Path) -> RiskState:
    """Return the persisted risk overrides (empty when none were ever set)."""
    path = data_dir / RISK_STATE_FILE
    try:
        return msgspec.json.decode(path.read_bytes(), type=RiskState)
    except FileNotFoundError:
        return RiskState()
    except msgspec.DecodeError as exc:
        raise ConfigError(
            f"{path} is not a valid risk state file ({exc}); fix or delete it"
        ) from None


def write_risk_state(data_dir: Path, state: RiskState) -> None:
    """Persist the risk overrides."""
    write_atomic(data_dir / RISK_STATE_FILE, msgspec.json.encode(state))


def effective_limits(configured: RiskLimits, state: RiskState) -> RiskLimits:
    """Return the configured limits with the persisted overrides applied (validated)."""
    try:
        return RiskLimits.model_validate({**configured.model_dump(), **state.limits})
    except ValidationError as exc:
        raise ConfigError(f"the persisted risk overrides are invalid: {exc}") from None


def read_strategy_modes(data_dir: Path) -> StrategyModes:
    """Return the persisted strategy modes (every strategy ``live`` when the file is absent)."""
    path = data_dir / STRATEGY_MODES_FILE
    try:
        return msgspec.json.decode(path.read_bytes(), type=StrategyModes)
    except FileNotFoundError:
        return StrategyModes()
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path} is not a valid strategy modes file ({exc})") from None


def write_strategy_modes(data_dir: Path, modes: StrategyModes) -> None:
    """Persist the strategy modes (the runner picks them up on its next poll)."""
    write_atomic(data_dir / STRATEGY_MODES_FILE, msgspec.json.encode(modes))

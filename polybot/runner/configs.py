"""Which strategy instances should run, read from ``strategy_configs`` (+ the strategy modes file).

The newest row of each instance name is its current version. An instance runs when that row is
enabled; it is *restarted* when its identity changes — config hash, class or mode (``live`` /
``shadow``) — and stopped when it is disabled or its rows disappear.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from polybot.core.errors import ConfigError
from polybot.statecmd.files import StrategyModes
from polybot.statecmd.queries import latest_configs
from polybot.strategies.base import Strategy, build_config, load_config
from polybot.strategies.registry import get as strategy_class


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    """One configured strategy instance: what to build and how to run it."""

    name: str  # instance name: the ``strategy`` of its signals, positions and logs
    strategy_class: str  # registry name or ``package.module:Class``
    config_hash: str
    config: str  # TOML or JSON text exactly as stored
    mode: str  # "live" (signals to the executor) or "shadow" (decisions logged only)

    @property
    def identity(self) -> tuple[str, str, str]:
        """Return what, when changed, requires a restart of the instance."""
        return (self.strategy_class, self.config_hash, self.mode)


def wanted_instances(session: Session, modes: StrategyModes) -> dict[str, InstanceSpec]:
    """Return the enabled instances by name (newest config row of each)."""
    return {
        name: InstanceSpec(
            name=name,
            strategy_class=row.strategy_class or name,
            config_hash=row.config_hash,
            config=row.config,
            mode=modes.mode(name),
        )
        for name, row in latest_configs(session).items()
        if row.is_enabled
    }


def build_strategy(spec: InstanceSpec) -> Strategy:
    """Instantiate the spec's strategy under its instance name; ``ConfigError`` says what is wrong.

    The class is subclassed with ``name`` set to the instance name, because the engine names a
    hosted strategy (and so its signals, orders and positions) by ``strategy_name()``: two
    instances of one class must not share a name.
    """
    base = strategy_class(spec.strategy_class)
    named: type[Strategy] = type(
        base.__name__, (base,), {"name": spec.name, "__module__": base.__module__}
    )
    text = spec.config.strip()
    if not text:
        return named()
    if text.startswith("{"):
        try:
            raw: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{spec.name}: config is not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{spec.name}: config must be a JSON object")
        return named(build_config(named, None, raw))
    return named(load_config(named, text.encode(), fmt="toml"))

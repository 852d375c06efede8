"""The strategy registry: names -> classes, with typo hints and ``module:Class`` paths."""

from __future__ import annotations

import difflib
import importlib
from typing import TypeVar

from polybot.core.errors import ConfigError
from polybot.strategies.ai_model import AIModel
from polybot.strategies.arbitrage import Arbitrage
from polybot.strategies.base import Strategy
from polybot.strategies.copy_trade import CopyTrade
from polybot.strategies.spread_farm import SpreadFarm
from polybot.strategies.stat_arb import StatArb

S = TypeVar("S", bound=type[Strategy])

STRATEGIES: dict[str, type[Strategy]] = {}


def register(cls: S) -> S:
    """Add a strategy class under its ``strategy_name()`` (usable as a decorator)."""
    STRATEGIES[cls.strategy_name()] = cls
    return cls


for _cls in (Arbitrage, StatArb, AIModel, SpreadFarm, CopyTrade):
    register(_cls)


def get(name: str) -> type[Strategy]:
    """Return a strategy class by registry name or ``package.module:Class`` path."""
    if ":" in name:
        module_name, _, attr = name.partition(":")
        cls = getattr(importlib.import_module(module_name), attr, None)
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise ConfigError(f"{name!r} is not a Strategy class")
        return cls
    cls = STRATEGIES.get(name)
    if cls is None:
        close = difflib.get_close_matches(name, list(STRATEGIES), n=1)
        hint = (
            f"; did you mean {close[0]!r}?"
            if close
            else f"; known: {', '.join(sorted(STRATEGIES))}"
        )
        raise ConfigError(f"no strategy named {name!r}{hint}")
    return cls

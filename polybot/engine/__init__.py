"""The engine hosting strategies over a Feed, a Clock and a Venue; never imports services."""

from polybot.engine.engine import Engine, StrategyHost
from polybot.engine.venue import ExecutorLink, Venue

__all__ = ["Engine", "ExecutorLink", "StrategyHost", "Venue"]

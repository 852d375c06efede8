"""Strategies: synchronous, I/O-free classes acting only through a ``Context``.

May import ``polybot.bus.messages`` (types), ``polybot.model`` and ``polybot.core``; never the
transport, venues, storage, recording or the engine.
"""

from polybot.strategies.ai_model import AIModel, AIModelConfig
from polybot.strategies.arbitrage import Arbitrage, ArbitrageConfig
from polybot.strategies.base import BookView, Context, Strategy, StrategyConfig, parameters
from polybot.strategies.copy_trade import CopyTrade, CopyTradeConfig
from polybot.strategies.registry import STRATEGIES, get, register
from polybot.strategies.spread_farm import SpreadFarm, SpreadFarmConfig
from polybot.strategies.stat_arb import StatArb, StatArbConfig

__all__ = [
    "STRATEGIES",
    "AIModel",
    "AIModelConfig",
    "Arbitrage",
    "ArbitrageConfig",
    "BookView",
    "Context",
    "CopyTrade",
    "CopyTradeConfig",
    "SpreadFarm",
    "SpreadFarmConfig",
    "StatArb",
    "StatArbConfig",
    "Strategy",
    "StrategyConfig",
    "get",
    "parameters",
    "register",
]

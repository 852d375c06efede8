"""Risk: the limits and the pure pre-trade gate shared by the executor and the backtester.

Imports only polybot.core; no I/O, so the same checks run live and in simulation.
"""

from polybot.risk.gate import BookState, OrderIntent, Portfolio, Position, Rejection, check_order
from polybot.risk.limits import RiskLimits

__all__ = [
    "BookState",
    "OrderIntent",
    "Portfolio",
    "Position",
    "Rejection",
    "RiskLimits",
    "check_order",
]

"""The shared simulator core: one unified book and one matcher for venue, backtest and paper."""

from polybot.venues.sim.book import Book, BookSide, LevelChange, RestingOrder, Side, Token
from polybot.venues.sim.matcher import (
    Fill,
    MatchKind,
    MatchResult,
    OrderIntent,
    Reject,
    TimeInForce,
    match,
    settlement,
    trade_at_level,
)

__all__ = [
    "Book",
    "BookSide",
    "Fill",
    "LevelChange",
    "MatchKind",
    "MatchResult",
    "OrderIntent",
    "Reject",
    "RestingOrder",
    "Side",
    "TimeInForce",
    "Token",
    "match",
    "settlement",
    "trade_at_level",
]

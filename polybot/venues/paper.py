"""PaperVenue: simulated fills against *live* books, through the same matcher as backtests.

The production executor uses it in paper mode, and the strategy runner with ``--venue paper``.
It keeps its own copy of every book it is fed (``on_message`` with the live bus messages) so it
can mirror a market the moment an order arrives; from then on it is exactly ``SimVenue``: takers
walk the depth, makers queue behind the live size at their price, fees and rebates apply.
"""

from __future__ import annotations

from decimal import Decimal

from polybot.bus.messages import (
    BookDelta,
    BookSnapshot,
    MarketResolved,
    Message,
    TickSizeChange,
    Trade,
)
from polybot.core.clock import Clock, WallClock
from polybot.model.market import Market
from polybot.venues.sim.venue import SimVenue

_Levels = dict[float, float]


class PaperVenue(SimVenue):
    """``SimVenue`` fed by live market-data messages and driven by a (wall) clock."""

    name = "paper"

    def __init__(
        self,
        markets: dict[str, Market],
        *,
        clock: Clock | None = None,
        latency_ms: int = 0,
        starting_cash: Decimal | float | int = 1000,
    ) -> None:
        self._live_books: dict[str, tuple[_Levels, _Levels]] = {}
        super().__init__(markets, self._levels, latency_ms=latency_ms, starting_cash=starting_cash)
        self._clock = clock or WallClock()

    def _levels(
        self, token_id: str
    ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]] | None:
        book = self._live_books.get(token_id)
        if book is None:
            return None
        bids, asks = book
        return sorted(bids.items(), reverse=True), sorted(asks.items())

    def poll(self) -> None:
        """Run commands whose latency has elapsed (call periodically when the feed is quiet)."""
        self.advance(self._clock.now_ns())

    def on_message(self, message: Message) -> None:
        """Apply one live market-data message (other messages are ignored)."""
        self.advance(self._clock.now_ns())
        match message:
            case BookSnapshot():
                bids = {lv.price: lv.size for lv in message.bids if lv.size > 0}
                asks = {lv.price: lv.size for lv in message.asks if lv.size > 0}
                self._live_books[message.token_id] = (bids, asks)
                if message.token_id in self._token_market and self.is_synced(message.market_id):
                    self.resync(message.token_id, message.timestamp)
            case BookDelta():
                bids, asks = self._live_books.setdefault(message.token_id, ({}, {}))
                synced = message.token_id in self._token_market and self.is_synced(
                    message.market_id
                )
                for change in message.changes:
                    levels = bids if change.side == "BUY" else asks
                    if change.size > 0:
                        levels[change.price] = change.size
                    else:
                        levels.pop(change.price, None)
                    if synced:
                        self.on_level(
                            message.token_id,
                            change.side == "BUY",
                            change.price,
                            change.size,
                            message.timestamp,
                        )
            case Trade():
                self.on_trade(
                    message.token_id,
                    message.side == "BUY",
                    message.price,
                    message.size,
                    message.timestamp,
                )
            case TickSizeChange():
                self.on_tick_size(message.market_id, message.new_tick_size)
            case MarketResolved():
                if self.knows_market(message.market_id):
                    self.on_resolved(message.market_id, message.winning_token_id)
            case _:
                pass

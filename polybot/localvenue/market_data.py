"""Market-data side of the exchange: wire books with real hashes, BBO, market-channel events.

Each token's book is the mirror of the unified YES-terms book. Every hash uses the real recipe
(:func:`~polybot.venues.polymarket.book_hash.book_hash`) over the post-change book at the
message's timestamp, which is what the real venue does for ``book`` and ``price_change``
(reference §4.3).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from polybot.core.clock import Clock
from polybot.localvenue.events import (
    BestBidAsk,
    BookSnapshot,
    LastTradePrice,
    MarketResolved,
    NewMarket,
    PriceChange,
    PriceChangeEntry,
    TickSizeChange,
    VenueEvent,
)
from polybot.localvenue.markets import EventSpec, MarketState
from polybot.localvenue.orders import OrderBookSummary, fmt_decimal, fmt_price, fmt_units
from polybot.model.fees import fee_rate_bps
from polybot.venues.polymarket.book_hash import WireLevel, book_hash
from polybot.venues.sim.book import BookSide, LevelChange, Side, Token, from_yes_price


class MarketData:
    """Books, hashes and market-channel events over a registry of markets."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.markets: dict[str, MarketState] = {}
        self.assets: dict[str, tuple[MarketState, Token]] = {}
        self.listeners: list[Callable[[VenueEvent], None]] = []
        self._bbo: dict[str, tuple[str, str]] = {}

    def emit(self, event: VenueEvent) -> None:
        """Deliver ``event`` to every listener, in registration order."""
        for listener in list(self.listeners):
            listener(event)

    def market_by_asset(self, asset_id: str) -> MarketState:
        """Return the market trading ``asset_id``."""
        return self.assets[asset_id][0]

    # ---- books -------------------------------------------------------------------------
    def levels(self, market: MarketState, token: Token) -> tuple[list[WireLevel], list[WireLevel]]:
        """Return ``token``'s (bids ascending, asks descending) as wire levels."""
        bids: list[tuple[Decimal, int]] = []
        asks: list[tuple[Decimal, int]] = []
        for book_side in (BookSide.BID, BookSide.ASK):
            for yes_price, size in market.book.depth(book_side):
                side, price, units = LevelChange(book_side, yes_price, size).for_token(token)
                (bids if side is Side.BUY else asks).append((price, units))
        bids.sort()
        asks.sort(reverse=True)
        return (
            [WireLevel(price=fmt_price(p), size=fmt_units(s)) for p, s in bids],
            [WireLevel(price=fmt_price(p), size=fmt_units(s)) for p, s in asks],
        )

    def last_trade(self, asset_id: str) -> tuple[Decimal | None, str]:
        """Return the last trade price and taker side in ``asset_id``'s terms."""
        market, token = self.assets[asset_id]
        if market.last_trade_price is None:
            return None, ""
        side = market.last_trade_side
        if token is Token.NO and side:
            side = "SELL" if side == "BUY" else "BUY"
        return from_yes_price(token, market.last_trade_price), side

    def best_bid_ask(self, asset_id: str) -> tuple[Decimal | None, Decimal | None]:
        """Return ``(best_bid, best_ask)`` in ``asset_id``'s terms."""
        market, token = self.assets[asset_id]
        bid, ask = market.book.best_bid(), market.book.best_ask()
        if token is Token.YES:
            return bid, ask
        return (None if ask is None else 1 - ask), (None if bid is None else 1 - bid)

    def summary(self, market: MarketState, token: Token, timestamp_ms: int) -> OrderBookSummary:
        """Return the wire book of one token with its real hash."""
        bids, asks = self.levels(market, token)
        spec = market.spec
        asset = spec.assets[token]
        ltp = "" if market.last_trade_price is None else fmt_price(
            from_yes_price(token, market.last_trade_price)
        )
        min_size, tick = fmt_decimal(spec.min_size), fmt_price(market.tick_size)
        digest = book_hash(
            market=spec.condition_id, asset_id=asset, timestamp=str(timestamp_ms), bids=bids,
            asks=asks, min_order_size=min_size, tick_size=tick, neg_risk=spec.neg_risk,
            last_trade_price=ltp,
        )
        return OrderBookSummary(
            market=spec.condition_id, asset_id=asset, timestamp=str(timestamp_ms), hash=digest,
            bids=bids, asks=asks, min_order_size=min_size, tick_size=tick, neg_risk=spec.neg_risk, last_trade_price=ltp,
        )

    # ---- market-channel events ---------------------------------------------------------
    def emit_price_changes(self, market: MarketState, changes: list[LevelChange]) -> None:
        """Emit one mirrored ``price_change`` per changed level (same timestamp), then BBO moves.

        Hash and BBO in every entry reflect the state after all ``changes`` (reference §4.3).
        """
        if not self.listeners:   # hashing every book is the costly part; nobody would read it
            return
        now = self.clock.now_ms()
        books = {t: self.summary(market, t, now) for t in (Token.YES, Token.NO)}
        bbo = {t: self._bbo_strings(market, t) for t in (Token.YES, Token.NO)}
        last: dict[tuple[BookSide, Decimal], LevelChange] = {}
        for change in changes:    # a level touched twice is reported once, at its final size
            last[(change.book_side, change.yes_price)] = change
        for change in last.values():
            entries = []
            for token in (Token.YES, Token.NO):
                side, price, size = change.for_token(token)
                entries.append(PriceChangeEntry(
                    asset_id=market.spec.assets[token], price=fmt_price(price),
                    size=fmt_units(size), side=side.value, hash=books[token].hash,
                    best_bid=bbo[token][0], best_ask=bbo[token][1],
                ))
            self.emit(PriceChange(market=market.condition_id, timestamp_ms=now,
                                  entries=tuple(entries)))
        for token in (Token.YES, Token.NO):
            asset = market.spec.assets[token]
            if self._bbo.get(asset) != bbo[token]:
                self._bbo[asset] = bbo[token]
                self.emit(self._bbo_event(market, token, bbo[token], now))

    def emit_trade_market_data(self, market: MarketState, traded_units: int) -> None:
        """After a trade of ``traded_units`` shares (base units): ``last_trade_price`` per token,
        then a fresh ``book`` per token."""
        if not self.listeners:
            return
        now = self.clock.now_ms()
        assert market.last_trade_price is not None
        for token in (Token.YES, Token.NO):
            asset = market.spec.assets[token]
            price, side = self.last_trade(asset)
            assert price is not None
            self.emit(LastTradePrice(
                market=market.condition_id, timestamp_ms=now, asset_id=asset,
                price=fmt_price(price), side=side, size=fmt_units(traded_units),
                fee_rate_bps=str(fee_rate_bps(market.spec.fees)),
            ))
        for token in (Token.YES, Token.NO):
            self.emit(BookSnapshot(market=market.condition_id, timestamp_ms=now,
                                   summary=self.summary(market, token, now)))

    def set_tick_size(self, condition_id: str, tick: Decimal) -> None:
        """Change a market's tick and announce it (then a fresh ``book`` per token)."""
        market = self.markets[condition_id]
        old, market.tick_size = market.tick_size, tick
        now = self.clock.now_ms()
        for token in (Token.YES, Token.NO):
            self.emit(TickSizeChange(
                market=condition_id, timestamp_ms=now, asset_id=market.spec.assets[token],
                old_tick_size=fmt_price(old), new_tick_size=fmt_price(tick),
            ))
        for token in (Token.YES, Token.NO):
            self.emit(BookSnapshot(market=condition_id, timestamp_ms=now,
                                   summary=self.summary(market, token, now)))

    def new_market_event(self, market: MarketState, event: EventSpec | None) -> NewMarket:
        """Return the ``new_market`` event of ``market``."""
        return NewMarket(market=market.condition_id, timestamp_ms=self.clock.now_ms(),
                         spec=market.spec, event=event)

    def resolved_event(self, market: MarketState) -> MarketResolved:
        """Return the ``market_resolved`` event of a resolved market."""
        assert market.winning_outcome is not None
        return MarketResolved(market=market.condition_id, timestamp_ms=self.clock.now_ms(),
                              spec=market.spec, winning_outcome=market.winning_outcome)

    def _bbo_strings(self, market: MarketState, token: Token) -> tuple[str, str]:
        bid, ask = self.best_bid_ask(market.spec.assets[token])
        return ("" if bid is None else fmt_price(bid), "" if ask is None else fmt_price(ask))

    def _bbo_event(self, market: MarketState, token: Token, bbo: tuple[str, str],
                   now: int) -> BestBidAsk:
        bid, ask = bbo
        spread = fmt_price(Decimal(ask) - Decimal(bid)) if bid and ask else ""
        return BestBidAsk(market=market.condition_id, timestamp_ms=now,
                          asset_id=market.spec.assets[token], best_bid=bid, best_ask=ask,
                          spread=spread)

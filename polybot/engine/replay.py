"""The replay hot path: walk a recording's columnar rows through an :class:`Engine`.

Kept apart from the engine's bookkeeping because it is written for speed: locals instead of
attribute lookups, book upkeep inlined (no method call per row), one integer compare per row to
see whether anything is due, and strategies called only at the end of a message that changed a
token they subscribed to. Markets where the venue mirrors nothing cost no venue call at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from polybot.bus.messages import MarketResolved, Trade
from polybot.engine.book import NO_ASK, NO_BID
from polybot.recording.replay import ReplayData, wallet_event
from polybot.recording.schema import BID, BOOK, DELTA, RESOLVED, TICK, TRADE, WALLET_TRADE

if TYPE_CHECKING:
    from polybot.engine.engine import Engine


def run_replay(
    engine: Engine, data: ReplayData, progress: Callable[[int], None] | None = None
) -> int:
    """Feed every row of ``data`` through the engine; return the number of messages."""
    for market in data.market_info.values():
        if market.condition_id not in engine.markets:
            engine.add_market(market)
    if len(data) and not engine._started:
        engine.now_ns = data.ts_recv[0]
    engine.start()
    first_market: dict[int, int] = {}
    for t, m in zip(data.token, data.market, strict=True):
        if t not in first_market:
            first_market[t] = m
    tmap = [
        engine._code(tok, data.markets[first_market[i]]) if i in first_market else -1
        for i, tok in enumerate(data.tokens)
    ]
    token = [tmap[t] for t in data.token]
    ts_recv, ts, kind, side, price, size, msg_end = (
        data.ts_recv,
        data.ts,
        data.kind,
        data.side,
        data.price,
        data.size,
        data.msg_end,
    )
    books, subs, synced, views = engine._books, engine._subs, engine._synced, engine._views
    sim = engine._sim
    outbox = engine._outbox
    messages = 0
    step = 1 << 16
    for i in range(len(ts_recv)):
        t_recv = ts_recv[i]
        if t_recv >= engine.wake_ns:
            engine._wake(t_recv)
        k = kind[i]
        c = token[i]
        if k < TRADE:  # BOOK (1) or DELTA (2): one int compare on the hot path
            b = books[c]
            sd = side[i]
            p = price[i]
            s = size[i]
            if sd == 1:
                d = b.bids
                if s > 0.0:
                    d[p] = s
                    if p > b.best_bid_px:
                        b.best_bid_px = p
                elif d.pop(p, None) is not None and p == b.best_bid_px:
                    b.best_bid_px = max(d) if d else NO_BID
            elif sd == -1:
                d = b.asks
                if s > 0.0:
                    d[p] = s
                    if p < b.best_ask_px:
                        b.best_ask_px = p
                elif d.pop(p, None) is not None and p == b.best_ask_px:
                    b.best_ask_px = min(d) if d else NO_ASK
            else:
                b.bids.clear()
                b.asks.clear()
                b.best_bid_px = NO_BID
                b.best_ask_px = NO_ASK
                b.tick_size = p
            if synced[c] and sim is not None and k == DELTA:
                sim.now_ns = t_recv
                sim.on_level(b.token_id, sd == BID, p, s, ts[i])
                if outbox:
                    engine.now_ns = t_recv
                    engine._drain()
            if msg_end[i]:
                messages += 1
                b.timestamp_ms = ts[i]
                if synced[c] and sim is not None and k == BOOK:
                    sim.now_ns = t_recv
                    sim.resync(b.token_id, ts[i])
                hosts = subs[c]
                if hosts:
                    engine.now_ns = t_recv
                    view = views[c]
                    for host in hosts:
                        engine._call(host, host.strategy.on_book, view)
                if outbox:
                    engine.now_ns = t_recv
                    engine._drain()
                if progress is not None and messages % step == 0:
                    progress(messages)
        else:
            messages += 1
            engine.now_ns = t_recv
            other_row(engine, data, i, c, k)
    engine.messages += messages
    return messages


def other_row(engine: Engine, data: ReplayData, i: int, c: int, k: int) -> None:
    """Handle one non-book row: a print, a tick change, a resolution or a wallet trade."""
    book = engine._books[c]
    token_id = book.token_id
    market_id = data.markets[data.market[i]]
    sim = engine._sim
    if k == TRADE:
        is_buy = data.side[i] == BID
        if engine._synced[c] and sim is not None:
            sim.now_ns = engine.now_ns
            sim.on_trade(token_id, is_buy, data.price[i], data.size[i], data.ts[i])
            engine._drain()
        if engine._subs[c]:
            trade = Trade(
                market_id=market_id,
                token_id=token_id,
                price=data.price[i],
                size=data.size[i],
                side="BUY" if is_buy else "SELL",
                timestamp=data.ts[i],
            )
            for host in engine._subs[c]:
                engine._call(host, host.strategy.on_trade, trade)
    elif k == TICK:
        engine._tick_changed(market_id, token_id, data.size[i], data.price[i], data.ts[i], c)
    elif k == RESOLVED:
        engine._resolve(
            MarketResolved(
                market_id=market_id,
                winning_token_id=token_id,
                winning_outcome=data.text[i],
                timestamp=data.ts[i],
            )
        )
    elif k == WALLET_TRADE:
        event = wallet_event(data, i)
        for host in engine.hosts:
            engine._call(host, host.strategy.on_event, event)

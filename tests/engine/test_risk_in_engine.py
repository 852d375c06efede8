"""The live pre-trade risk gate runs in the engine: rejected orders never reach the venue."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from polybot.backtest import backtest
from polybot.bus.messages import BookDelta, LevelChange, OrderUpdate
from polybot.core.clock import ManualClock
from polybot.engine import Engine
from polybot.recording import Recorder, RecordStore, ReplayData
from polybot.risk import RiskLimits
from polybot.strategies.base import BookView, Context, Strategy, StrategyConfig
from polybot.testing import make_book, make_market

MS = 1_700_000_000_000


class _Cfg(StrategyConfig, frozen=True, kw_only=True):
    token_id: str = "m-yes"
    # (side, size, price) placed on the first book; then again from a timer after ``later_ms``
    orders: tuple[tuple[str, float, float], ...] = ()
    later: tuple[tuple[str, float, float], ...] = ()
    later_ms: int = 0


class Orderer(Strategy):
    """Places the configured orders and records every order update it gets."""

    name = "orderer"
    Config = _Cfg
    config: _Cfg

    def __init__(self, config: _Cfg | None = None, /, **params: object) -> None:
        super().__init__(config, **params)
        self.updates: list[OrderUpdate] = []
        self.placed = False

    def on_start(self, ctx: Context) -> None:
        ctx.subscribe(self.config.token_id)
        if self.config.later:
            ctx.set_timer("later", self.config.later_ms * 1_000_000)

    def on_book(self, ctx: Context, book: BookView) -> None:
        if not self.placed:
            self.placed = True
            self._place(ctx, self.config.orders)

    def on_timer(self, ctx: Context, name: str) -> None:
        self._place(ctx, self.config.later)

    def _place(self, ctx: Context, orders: tuple[tuple[str, float, float], ...]) -> None:
        for side, size, price in orders:
            if side == "BUY":
                ctx.buy(self.config.token_id, size, price)
            else:
                ctx.sell(self.config.token_id, size, price)

    def on_order(self, ctx: Context, update: OrderUpdate) -> None:
        self.updates.append(update)


def _recording(tmp_path: Path) -> ReplayData:
    recorder = Recorder(RecordStore(tmp_path), ManualClock())
    recorder.add_markets([make_market("m")])
    recorder.record(make_book("m-yes", [(0.40, 1000)], [(0.50, 1000)], ts_ms=MS), MS * 10**6)
    t = MS + 60_000  # one more message a minute later (the book is quiet in between)
    recorder.record(
        BookDelta(
            market_id="m",
            token_id="m-yes",
            timestamp=t,
            changes=[LevelChange(side="BUY", price=0.30, size=5)],
        ),
        t * 10**6,
    )
    recorder.close()
    return ReplayData.load(RecordStore(tmp_path))


def _run(tmp_path: Path, strategy: Orderer, risk: RiskLimits | None) -> Engine:
    engine = Engine([strategy], sample_every_s=0, risk=risk)
    engine.run_replay(_recording(tmp_path))
    return engine


def test_a_rejected_order_never_reaches_the_venue_and_the_strategy_hears_the_rule(
    tmp_path: Path,
) -> None:
    take = (("BUY", 100.0, 0.50),)  # 50 pUSD, marketable: fills at once when it reaches the venue
    free = Orderer(orders=take)
    free_engine = _run(tmp_path / "free", free, None)
    assert free_engine.hosts[0].portfolio.position("m-yes") == Decimal(100)

    gated = Orderer(orders=take)
    engine = _run(tmp_path / "gated", gated, RiskLimits(max_order_notional=Decimal(40)))
    host = engine.hosts[0]
    assert host.portfolio.position("m-yes") == 0
    assert host.portfolio.fills == []
    assert [(u.status, u.reason.split(":")[0]) for u in gated.updates] == [
        ("INVALID", "max_order_notional")
    ]
    assert host.rejections == {"max_order_notional": 1}
    assert host.orders == {}


def test_orders_not_yet_acknowledged_count_against_max_open_orders(tmp_path: Path) -> None:
    resting = (("BUY", 10.0, 0.30), ("BUY", 10.0, 0.31), ("BUY", 10.0, 0.32))
    strategy = Orderer(orders=resting)
    engine = _run(tmp_path, strategy, RiskLimits(max_open_orders=2))
    host = engine.hosts[0]
    assert host.rejections == {"max_open_orders": 1}
    assert sorted(o.price for o in host.orders.values()) == [Decimal("0.30"), Decimal("0.31")]
    rejected = [u for u in strategy.updates if u.status == "INVALID"]
    assert [u.price for u in rejected] == [Decimal("0.32")]


def test_selling_what_is_not_held_and_a_stale_book_are_rejected_like_live(tmp_path: Path) -> None:
    strategy = Orderer(
        orders=(("SELL", 10.0, 0.60),),
        later=(("BUY", 10.0, 0.30),),
        later_ms=45_000,  # 45 s after the snapshot, before the next message
    )
    engine = _run(tmp_path, strategy, RiskLimits(stale_book_ms=30_000))
    assert engine.hosts[0].rejections == {"insufficient_shares": 1, "stale_book": 1}
    assert engine.hosts[0].orders == {}


def test_cash_reserved_by_resting_buys_counts_against_min_balance(tmp_path: Path) -> None:
    # 1000 cash, min balance 300: a resting 400 pUSD BUY leaves 600 free, so a second 400
    # cannot go but a 200 one can.
    bids = (("BUY", 1000.0, 0.40), ("BUY", 1000.0, 0.40), ("BUY", 500.0, 0.40))
    strategy = Orderer(orders=bids)
    limits = RiskLimits(min_balance=Decimal(300), max_order_notional=Decimal(1000))
    engine = _run(tmp_path, strategy, limits)
    host = engine.hosts[0]
    assert host.rejections == {"min_balance": 1}
    assert sorted(o.original_size for o in host.orders.values()) == [Decimal(500), Decimal(1000)]


def test_backtest_counts_rejections_by_rule(tmp_path: Path) -> None:
    data = _recording(tmp_path)
    orders = (("BUY", 100.0, 0.50), ("SELL", 500.0, 0.60), ("BUY", 2000.0, 0.45))
    plain = backtest(Orderer(orders=orders), data)
    assert plain.rejections == {}
    assert plain.stats["rejected"] == 0

    result = backtest(Orderer(orders=orders), data, risk=RiskLimits(kill_switch=False))
    assert result.rejections == {"insufficient_shares": 1, "max_order_notional": 1}
    assert result.stats["rejected"] == 2
    assert len(result.fills) == 1
    assert set(result.orders["status"]) >= {"INVALID"}

    halted = backtest(Orderer(orders=orders), data, risk=RiskLimits(kill_switch=True))
    assert halted.rejections == {"kill_switch": 3}
    assert len(halted.fills) == 0

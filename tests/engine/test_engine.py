"""The engine: dispatch, failure policy, timers, the live path and the executor link."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from polybot.bus.messages import BookDelta, Event, Fill, LevelChange, OrderUpdate, Signal
from polybot.bus.nng import Puller, Pusher
from polybot.core.clock import ManualClock
from polybot.engine import Engine, ExecutorLink
from polybot.recording import Recorder, RecordStore, ReplayData
from polybot.strategies.base import BookView, Context, Strategy, StrategyConfig
from polybot.testing import make_book, make_market
from polybot.venues.paper import PaperVenue


class _Cfg(StrategyConfig, frozen=True, kw_only=True):
    token_id: str = "m-yes"
    boom_at: int = -1


class Probe(Strategy):
    """Records what it sees; buys once at the ask; can be told to raise."""

    name = "probe"
    Config = _Cfg
    config: _Cfg

    def __init__(self, config: _Cfg | None = None, /, **params: object) -> None:
        super().__init__(config, **params)
        self.books: list[tuple[int, float | None]] = []
        self.timers: list[tuple[str, int]] = []
        self.fills: list[Fill] = []
        self.updates: list[str] = []

    def on_start(self, ctx: Context) -> None:
        ctx.subscribe(self.config.token_id)
        ctx.set_timer("tick", 1_000_000_000, repeat=True)

    def on_book(self, ctx: Context, book: BookView) -> None:
        self.books.append((ctx.now_ms(), book.best_ask))
        if len(self.books) == self.config.boom_at:
            raise RuntimeError("strategy bug")
        if len(self.books) == 1 and book.best_ask is not None:
            ctx.buy(book.token_id, 10, book.best_ask, order_type="FAK")

    def on_timer(self, ctx: Context, name: str) -> None:
        self.timers.append((name, ctx.now_ms()))

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        self.fills.append(fill)

    def on_order(self, ctx: Context, update: OrderUpdate) -> None:
        self.updates.append(update.status)


def _recording(tmp_path: Path) -> ReplayData:
    recorder = Recorder(RecordStore(tmp_path), ManualClock())
    recorder.add_markets([make_market("m"), make_market("other")])
    ms = 1_700_000_000_000
    recorder.record(make_book("m-yes", [(0.40, 100)], [(0.50, 100)], ts_ms=ms), ms * 10**6)
    recorder.record(make_book("other-yes", [(0.30, 100)], [(0.35, 100)], ts_ms=ms), ms * 10**6)
    for i in range(1, 4):
        t = ms + i * 1000 + 500
        recorder.record(
            BookDelta(
                market_id="m",
                token_id="m-yes",
                timestamp=t,
                changes=[LevelChange(side="SELL", price=0.50, size=100 + i)],
            ),
            t * 10**6,
        )
        recorder.record(
            BookDelta(
                market_id="other",
                token_id="other-yes",
                timestamp=t,
                changes=[LevelChange(side="SELL", price=0.35, size=100 + i)],
            ),
            t * 10**6,
        )
    recorder.close()
    return ReplayData.load(tmp_path)


def test_replay_dispatches_only_subscribed_tokens_with_fills_and_timers(tmp_path: Path) -> None:
    data = _recording(tmp_path)
    probe = Probe()
    engine = Engine([probe], sample_every_s=0)
    assert engine.run_replay(data) == 8
    ms = 1_700_000_000_000
    assert probe.books == [(ms, 0.5), (ms + 1500, 0.5), (ms + 2500, 0.5), (ms + 3500, 0.5)]
    assert [(f.size, f.price) for f in probe.fills] == [(Decimal(10), Decimal("0.50"))]
    assert probe.updates == ["MATCHED"]
    assert probe.timers == [("tick", ms + 1000), ("tick", ms + 2000), ("tick", ms + 3000)]
    assert engine.hosts[0].portfolio.position("m-yes") == Decimal(10)


def test_strategy_errors_propagate_in_backtests(tmp_path: Path) -> None:
    engine = Engine([Probe(boom_at=2)])
    with pytest.raises(RuntimeError, match="strategy bug"):
        engine.run_replay(_recording(tmp_path))


def test_services_mode_isolates_a_faulted_strategy(tmp_path: Path) -> None:
    bad, good = Probe(boom_at=2), Probe()
    engine = Engine([bad, good], isolate=True)
    engine.run_replay(_recording(tmp_path))
    assert engine.states() == {"probe": "FAULTED", "probe2": "RUNNING"}
    assert len(bad.books) == 2
    assert len(good.books) == 4
    assert "strategy bug" in engine.hosts[0].error


def test_live_path_with_paper_venue_runs_the_same_class() -> None:
    clock = ManualClock(5_000_000_000)
    market = make_market("m")
    probe = Probe()
    engine = Engine([probe], markets=[market], venue=PaperVenue({"m": market}, clock=clock))
    engine.on_message(make_book("m-yes", [(0.40, 100)], [(0.50, 100)], ts_ms=5000), 5_000_000_000)
    assert [(f.size, f.liquidity) for f in probe.fills] == [(Decimal(10), "TAKER")]


def test_executor_link_sends_signals_over_nng_and_reads_fates(tmp_path: Path) -> None:
    address = f"ipc://{tmp_path}/signals.pull"
    market = make_market("m")
    with Puller(address) as puller, Pusher(address) as pusher:
        link = ExecutorLink({"m": market}, pusher.send)
        probe = Probe()
        engine = Engine([probe], markets=[market], venue=link)
        engine.on_message(make_book("m-no", [(0.40, 100)], [(0.55, 100)], ts_ms=1), 1_000_000)
        engine.on_message(make_book("m-yes", [(0.40, 100)], [(0.50, 100)], ts_ms=2), 2_000_000)
        signal = puller.recv(timeout=5)
    assert isinstance(signal, Signal)
    assert (signal.strategy, signal.action, signal.price, signal.size, signal.order_type) == (
        "probe",
        "BUY_YES",
        0.5,
        10.0,
        "FAK",
    )
    engine.on_message(
        Event(
            source="executor",
            event_type="signal_rejected",
            timestamp=3,
            data={"signal_id": signal.signal_id, "reason": "risk: max exposure"},
        )
    )
    assert probe.updates == ["INVALID"]
    assert engine.hosts[0].order_log[-1].reason == "risk: max exposure"

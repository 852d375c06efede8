"""Background flow: deterministic, conserving, and it exercises resolution, listings and ticks."""

from __future__ import annotations

from collections import Counter

from polybot.core.clock import ManualClock
from polybot.localvenue.events import VenueEvent
from polybot.localvenue.exchange import Exchange
from polybot.localvenue.flow import Flow, FlowConfig
from polybot.localvenue.world import WorldConfig, build_world, seed_exchange

T0 = 1_800_000_000 * 10**9


def _run(seed: int, seconds: int, speed: float = 20.0, *, listen: bool = True) -> tuple[Exchange, Flow, list[VenueEvent]]:
    clock = ManualClock(T0)
    ex = Exchange(clock)
    world = build_world(WorldConfig(seed=seed, n_binary=40, n_neg_risk_events=4))
    seed_exchange(ex, world)
    seen: list[VenueEvent] = []
    if listen:
        ex.subscribe(seen.append)
    flow = Flow(ex, world, FlowConfig(speed=speed, actions_per_s=5.0))
    for _ in range(seconds):
        clock.advance_ns(10**9)
        ex.tick()
        flow.run_until_now()
    return ex, flow, seen


def _trade_fingerprint(ex: Exchange) -> list[tuple[str, str, str, int, int]]:
    return [(t.trade_id, t.asset_id, str(t.price), t.size, t.fee) for t in ex.trades.records.values()]


def test_same_seed_same_trades_and_events() -> None:
    ex1, flow1, seen1 = _run(5, 12)
    ex2, flow2, seen2 = _run(5, 12)
    assert flow1.actions == flow2.actions
    assert len(flow1.actions) > 100
    assert _trade_fingerprint(ex1) == _trade_fingerprint(ex2)
    assert [e.to_wire() for e in seen1] == [e.to_wire() for e in seen2]
    ex3, _, _ = _run(6, 12, listen=False)
    assert _trade_fingerprint(ex3) != _trade_fingerprint(ex1)


def test_flow_conserves_and_covers_the_lifecycle() -> None:
    ex, flow, seen = _run(9, 25)
    assert ex.accounts.total_collateral() == ex.accounts.total_funded
    for address, units in ex.accounts.collateral.items():
        assert units >= 0, address
        assert ex.accounts.reserved_collateral[address] <= units
    assert all(v >= 0 for v in ex.accounts.tokens.values())
    for market in ex.markets():
        if market.winning_outcome is None:
            yes, no = (ex.accounts.supply(a) for a in market.spec.assets)
            assert yes == no == ex.accounts.locked[market.condition_id]
        bid, ask = market.book.best_bid(), market.book.best_ask()
        assert bid is None or ask is None or bid < ask
    kinds = Counter(flow.actions)
    assert kinds["taker"]
    assert kinds["resolve"]
    assert kinds["new_market"]
    assert kinds["mispricing"]
    types = {e.to_wire().get("event_type") for e in seen}
    assert {"price_change", "book", "last_trade_price", "trade", "order", "market_resolved",
            "new_market"} <= types
    statuses = {e.to_wire()["status"] for e in seen if e.to_wire().get("event_type") == "trade"}
    assert {"MATCHED", "MINED", "CONFIRMED"} <= statuses


def test_speed_scales_activity() -> None:
    _, slow, _ = _run(4, 10, speed=5.0, listen=False)
    _, fast, _ = _run(4, 10, speed=40.0, listen=False)
    assert len(fast.actions) > 3 * len(slow.actions)

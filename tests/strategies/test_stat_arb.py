"""Statistical arbitrage: hedge ratio, z-score, pair discovery, entries and exits."""

from __future__ import annotations

from collections import deque
from decimal import Decimal

import numpy as np
import pytest

from polybot.strategies import StatArb
from polybot.strategies.stat_arb import hedge_ratio, zscore
from polybot.testing import FakeContext, make_market


def test_hedge_ratio_and_zscore() -> None:
    b = np.array([0.1, 0.2, 0.3, 0.4])
    assert hedge_ratio(2 * b + 0.1, b) == pytest.approx(2.0)
    assert zscore(np.array([0.0, 0.0, 0.0, 3.0])) == pytest.approx(
        (3.0 - 0.75) / np.std([0, 0, 0, 3.0])
    )
    assert zscore(np.ones(5)) == 0.0


def _ctx() -> FakeContext:
    ctx = FakeContext(market_list=[make_market(n) for n in ("a", "b", "c")])
    for n in ("a", "b", "c"):
        ctx.set_book(f"{n}-yes", bids=[(0.49, 100)], asks=[(0.51, 100)])
        ctx.set_book(f"{n}-no", bids=[(0.49, 100)], asks=[(0.51, 100)])
    return ctx


def test_discovers_the_correlated_pair_and_ignores_noise() -> None:
    ctx = _ctx()
    strategy = StatArb(lookback=40, min_corr=0.8, max_pairs=1)
    strategy.on_start(ctx)
    rng = np.random.default_rng(1)
    common = np.cumsum(rng.normal(0, 0.01, 40)) + 0.5
    strategy._series["a-yes"] = deque(common, maxlen=40)
    strategy._series["b-yes"] = deque(common * 0.8 + 0.1, maxlen=40)
    strategy._series["c-yes"] = deque(np.cumsum(rng.normal(0, 0.01, 40)) + 0.5, maxlen=40)
    assert strategy.discover(ctx) == [("a-yes", "b-yes")]


def test_entry_when_spread_is_rich_buys_a_no_and_b_yes_then_exits() -> None:
    ctx = _ctx()
    strategy = StatArb(pairs=[("a-yes", "b-yes")], lookback=20, entry_z=2.0, exit_z=0.5, size="10")
    strategy.on_start(ctx)
    b = 0.5 + 0.01 * np.sin(np.arange(20))
    a = b.copy()
    a[-1] += 0.05  # A jumps away from B: spread rich
    strategy._series["a-yes"] = deque(a, maxlen=20)
    strategy._series["b-yes"] = deque(b, maxlen=20)
    strategy._trade(ctx, ("a-yes", "b-yes"))
    assert [(o.token_id, o.side) for o in ctx.orders] == [("a-no", "BUY"), ("b-yes", "BUY")]
    assert ctx.orders[0].size == Decimal(10)
    # Converged: exit sells what the pair holds.
    ctx.positions = {"a-no": Decimal(10), "b-yes": Decimal(10)}
    strategy._series["a-yes"] = deque(b, maxlen=20)
    strategy._trade(ctx, ("a-yes", "b-yes"))
    assert [(o.token_id, o.side) for o in ctx.orders[2:]] == [("a-no", "SELL"), ("b-yes", "SELL")]


def test_position_limit_blocks_entries() -> None:
    ctx = _ctx()
    ctx.positions = {"a-no": Decimal(195)}
    strategy = StatArb(pairs=[("a-yes", "b-yes")], lookback=20, size="10", max_position="200")
    strategy.on_start(ctx)
    b = 0.5 + 0.01 * np.sin(np.arange(20))
    a = b.copy()
    a[-1] += 0.05
    strategy._series["a-yes"] = deque(a, maxlen=20)
    strategy._series["b-yes"] = deque(b, maxlen=20)
    strategy._trade(ctx, ("a-yes", "b-yes"))
    assert ctx.orders == []

"""AI model strategy: the bundled model, the plugin interface and edge/Kelly decisions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from polybot.strategies import AIModel
from polybot.strategies.models import LogisticModel, load_model, register_kind
from polybot.testing import FakeContext, make_market


class FixedModel:
    """A plugin that always says ``p`` (the smallest possible plugin)."""

    name = "fixed"
    features = ("mid",)

    def __init__(self, p: float) -> None:
        self.p = p

    def predict(self, features: Mapping[str, float]) -> float:
        return self.p


def test_bundled_model_loads_and_is_monotone_in_the_market_price() -> None:
    model = load_model("fair_value_logit")
    assert isinstance(model, LogisticModel)
    assert model.meta["rows_fit"] > 1000
    base = {"spread": 0.02, "imbalance": 0.0, "momentum": 0.0}
    low = model.predict({"mid": 0.2, "logit_mid": -1.386, **base})
    high = model.predict({"mid": 0.8, "logit_mid": 1.386, **base})
    assert 0.0 < low < 0.5 < high < 1.0


def test_model_round_trips_through_a_file(tmp_path: Path) -> None:
    model = LogisticModel(
        name="t", features=["mid"], weights=[2.0], bias=-1.0, mean=[0.5], scale=[0.1]
    )
    path = model.save(tmp_path / "t.json")
    again = load_model(path)
    assert isinstance(again, LogisticModel)
    assert again.predict({"mid": 0.6}) == pytest.approx(model.predict({"mid": 0.6}))


def test_unknown_kinds_need_a_registered_loader(tmp_path: Path) -> None:
    path = tmp_path / "fixed.json"
    path.write_text(json.dumps({"kind": "fixed", "p": 0.7}))
    with pytest.raises(ValueError, match="unknown model kind 'fixed'"):
        load_model(path)

    def loader(data: Mapping[str, Any]) -> FixedModel:
        return FixedModel(float(data["p"]))

    register_kind("fixed", loader)
    assert load_model(path).predict({}) == 0.7


def _ctx() -> FakeContext:
    ctx = FakeContext(market_list=[make_market("m")])
    ctx.set_book("m-yes", bids=[(0.48, 100)], asks=[(0.50, 100)])
    ctx.set_book("m-no", bids=[(0.50, 100)], asks=[(0.52, 100)])
    return ctx


def test_buys_yes_with_capped_kelly_size_when_the_edge_is_large() -> None:
    ctx = _ctx()
    strategy = AIModel(model=FixedModel(0.60), min_edge=0.05, kelly_fraction=0.5, max_fraction=0.5)
    strategy.on_start(ctx)
    strategy.on_timer(ctx, "forecast")
    [order] = ctx.orders
    # f* = (0.6 − 0.5) / 0.5 = 0.2; half Kelly = 0.1 of 1000 cash = 100 pUSD -> 200 shares @ .50
    assert (order.token_id, order.side, order.size, order.price) == (
        "m-yes",
        "BUY",
        Decimal(200),
        Decimal("0.5"),
    )
    assert strategy.forecasts[0][3] == 0.60


def test_bets_on_no_when_the_model_is_below_the_market() -> None:
    ctx = _ctx()
    strategy = AIModel(model=FixedModel(0.30), min_edge=0.05, max_fraction=0.01)
    strategy.on_start(ctx)
    strategy.on_timer(ctx, "forecast")
    [order] = ctx.orders
    assert order.token_id == "m-no"
    assert order.size == Decimal("19.23")


def test_no_trade_inside_the_edge_or_confidence_thresholds() -> None:
    ctx = _ctx()
    AIModel(model=FixedModel(0.53), min_edge=0.05).on_timer(ctx, "forecast")
    strategy = AIModel(model=FixedModel(0.60), min_edge=0.01, min_confidence=0.5)
    strategy.on_start(ctx)
    strategy.on_timer(ctx, "forecast")
    assert ctx.orders == []

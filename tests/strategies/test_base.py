"""StrategyConfig / Strategy base: kwargs, typo hints, stable hashes, registry, TOML."""

from __future__ import annotations

from decimal import Decimal

import pytest

from polybot.core.errors import ConfigError
from polybot.strategies import Arbitrage, ArbitrageConfig, SpreadFarm, get, parameters
from polybot.strategies.base import load_config


def test_kwargs_build_a_typed_frozen_config() -> None:
    strategy = Arbitrage(min_edge="0.01", max_size=50)
    assert strategy.config.min_edge == Decimal("0.01")
    assert strategy.config.max_size == Decimal(50)
    with pytest.raises(AttributeError):
        strategy.config.min_edge = Decimal(1)  # type: ignore[misc]


def test_unknown_parameter_suggests_the_right_name() -> None:
    with pytest.raises(
        ConfigError, match="Arbitrage has no parameter 'min_egde'; did you mean 'min_edge'\\?"
    ):
        Arbitrage(min_egde="0.05")


def test_unknown_parameter_without_close_match_lists_valid_names() -> None:
    with pytest.raises(ConfigError, match="valid parameters: min_edge"):
        Arbitrage(zzz=1)


def test_wrong_type_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="max_size"):
        Arbitrage(max_size="lots")


def test_config_object_and_kwargs_are_exclusive() -> None:
    with pytest.raises(ConfigError, match="not both"):
        Arbitrage(ArbitrageConfig(), min_edge="0.1")


def test_config_hash_is_stable_and_parameter_sensitive() -> None:
    a, b = Arbitrage(min_edge="0.01"), Arbitrage(ArbitrageConfig(min_edge=Decimal("0.01")))
    assert a.config_hash == b.config_hash
    assert a.config_hash != Arbitrage(min_edge="0.02").config_hash
    # Pinned: the hash is stored with every run, so it must not drift between releases.
    assert Arbitrage().config_hash == "d8f87c9b84d95627"


def test_toml_config_rejects_typos_with_a_hint() -> None:
    config = load_config(SpreadFarm, b'size = "10"\nhalf_spread_ticks = 3\n')
    assert config.size == Decimal(10)
    with pytest.raises(ConfigError, match="did you mean 'size'"):
        load_config(SpreadFarm, b'sise = "10"\n')


def test_registry_and_parameters() -> None:
    assert get("arbitrage") is Arbitrage
    assert get("polybot.strategies.spread_farm:SpreadFarm") is SpreadFarm
    with pytest.raises(ConfigError, match="did you mean 'spread_farm'"):
        get("spread_fram")
    assert parameters(Arbitrage)["min_edge"] == Decimal("0.005")


def test_repr_shows_parameters() -> None:
    assert repr(Arbitrage(min_edge="0.01")).startswith("Arbitrage(min_edge='0.01'")

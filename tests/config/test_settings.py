"""Settings: sources and precedence, validation errors that say what to fix, secrets stay secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from polybot.config import load_settings, masked_settings
from polybot.core.errors import ConfigError

KEY = "0x" + "4c" * 32


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("POLYBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray ./polybot.toml


def test_defaults_point_at_the_local_venue_and_the_seed_addresses() -> None:
    settings = load_settings()
    assert settings.venue.kind == "local"
    assert settings.venue.url("clob") == "http://127.0.0.1:8790"
    assert settings.venue.url("gamma") == "http://127.0.0.1:8790/gamma"
    assert settings.bus.prices_pub == "ipc:///tmp/polybot/prices.pub"
    assert settings.bus.signals_push == "ipc:///tmp/polybot/signals.push"
    assert settings.sqlite_path == Path("data/polybot.db")


def test_toml_file_is_read_and_env_wins_over_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "custom.toml"
    config.write_text(
        'log_level = "DEBUG"\n[risk]\nmax_open_orders = 7\nmax_order_notional = "12.5"\n'
    )
    monkeypatch.setenv("POLYBOT_CONFIG", str(config))
    monkeypatch.setenv("POLYBOT_RISK__MAX_OPEN_ORDERS", "9")
    settings = load_settings()
    assert settings.log_level == "DEBUG"
    assert settings.risk.max_open_orders == 9
    assert str(settings.risk.max_order_notional) == "12.5"


def test_default_config_file_in_the_working_directory_is_used(tmp_path: Path) -> None:
    (tmp_path / "polybot.toml").write_text("[api]\nport = 8111\n")
    assert load_settings().api.port == 8111


def test_missing_config_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYBOT_CONFIG", "/nowhere/polybot.toml")
    with pytest.raises(ConfigError, match=r"POLYBOT_CONFIG points to '/nowhere/polybot\.toml'"):
        load_settings()


def test_every_problem_is_listed_with_the_env_name_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYBOT_BUS__PRICES_PUB", "prices")
    monkeypatch.setenv("POLYBOT_RISK__MAX_DAILY_LOSS", "-5")
    monkeypatch.setenv("POLYBOT_POLYMARKET__PRIVATE_KEY", "0x1234")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    text = str(caught.value)
    assert "bus.prices_pub: 'prices' is not an NNG address" in text
    assert "POLYBOT_RISK__MAX_DAILY_LOSS" in text
    assert "polymarket.private_key: must be 32 bytes of hex" in text
    assert "0x1234" not in text  # the rejected secret itself is not echoed


def test_unknown_setting_in_the_file_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "typo.toml"
    config.write_text("[risk]\nmax_oder_notional = 5\n")
    monkeypatch.setenv("POLYBOT_CONFIG", str(config))
    with pytest.raises(ConfigError, match=r"risk.max_oder_notional: unknown setting"):
        load_settings()


def test_live_polymarket_needs_an_explicit_opt_in_and_a_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLYBOT_VENUE__KIND", "polymarket")
    with pytest.raises(ConfigError, match="ALLOW_LIVE=true to opt in"):
        load_settings()
    monkeypatch.setenv("POLYBOT_VENUE__ALLOW_LIVE", "true")
    with pytest.raises(ConfigError, match="needs POLYBOT_POLYMARKET__PRIVATE_KEY"):
        load_settings()
    monkeypatch.setenv("POLYBOT_POLYMARKET__PRIVATE_KEY", KEY)
    settings = load_settings()
    assert settings.venue.url("clob") == "https://clob.polymarket.com"
    monkeypatch.setenv("POLYBOT_EXECUTOR_MODE", "paper")
    monkeypatch.delenv("POLYBOT_VENUE__ALLOW_LIVE")
    assert load_settings().executor_mode == "paper"  # paper on real data needs no opt-in


def test_secrets_are_masked_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYBOT_POLYMARKET__PRIVATE_KEY", KEY)
    monkeypatch.setenv("POLYBOT_POLYMARKET__API_SECRET", "c2VjcmV0LXNlY3JldA==")
    monkeypatch.setenv("POLYBOT_POLYMARKET__API_PASSPHRASE", "open-sesame")
    settings = load_settings()
    rendered = " ".join([repr(settings), str(settings), str(masked_settings(settings))])
    for secret in (KEY, KEY[2:], "c2VjcmV0LXNlY3JldA==", "open-sesame"):
        assert secret not in rendered
    assert settings.polymarket.private_key is not None
    assert settings.polymarket.private_key.get_secret_value() == KEY

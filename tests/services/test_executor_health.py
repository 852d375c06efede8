"""The executor's health line names the venue it is configured for, not its client's protocol.

The local venue speaks the Polymarket protocol, so the executor trades on both through the same
client: the line must come from ``venue.kind`` (a live stack on the local venue once said "live on
polymarket"). The real executor's line is checked in tests/api/test_stack_contract.py.
"""

from __future__ import annotations

import os

import pytest

from polybot.config import Settings
from polybot.config.settings import PolymarketCredentials, VenueSettings
from services.executor.service import health_detail

ACCOUNT = "0x" + "ab" * 20


@pytest.fixture(autouse=True)
def _no_polybot_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide a developer's POLYBOT_* variables: the settings here are the test's alone."""
    for key in [k for k in os.environ if k.startswith("POLYBOT_")]:
        monkeypatch.delenv(key)


def test_live_on_the_local_venue_names_the_local_venue_and_its_address() -> None:
    settings = Settings(executor_mode="live", venue=VenueSettings(kind="local", local_port=8799))

    detail = health_detail(settings, ACCOUNT)

    assert detail == f"live on the local venue at http://127.0.0.1:8799 ({ACCOUNT})"
    assert "polymarket" not in detail


def test_live_on_polymarket_names_polymarket_com() -> None:
    settings = Settings(
        executor_mode="live",
        venue=VenueSettings(kind="polymarket", allow_live=True),
        polymarket=PolymarketCredentials(private_key="0x" + "11" * 32),
    )

    assert health_detail(settings, ACCOUNT) == f"live on polymarket.com ({ACCOUNT})"


@pytest.mark.parametrize(
    ("kind", "where"),
    [("local", "the local venue at http://127.0.0.1:8790"), ("polymarket", "polymarket.com")],
)
def test_paper_trading_says_so_and_where_prices_come_from(kind: str, where: str) -> None:
    venue = VenueSettings.model_validate({"kind": kind})
    settings = Settings(executor_mode="paper", venue=venue)

    assert health_detail(settings, "paper") == f"paper trading (paper), prices from {where}"

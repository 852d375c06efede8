"""A local-venue recording shared by the backtest tests (generated once per session)."""

from __future__ import annotations

import pytest

from polybot.backtest import load_data
from polybot.recording import ReplayData
from polybot.testing.sample import SampleSpec, sample_store

SPEC = SampleSpec(minutes=10)


@pytest.fixture(scope="session")
def sample() -> ReplayData:
    """Ten simulated minutes of the local venue (12 binary markets + 2 neg-risk events)."""
    return load_data(sample_store(SPEC))

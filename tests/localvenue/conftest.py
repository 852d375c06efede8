"""Shared fixtures of the local venue's server tests: each module defines ``server`` (its size)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from polybot.localvenue.server.harness import VenueServer


@pytest.fixture(scope="module")
def http(server: VenueServer) -> Iterator[httpx.Client]:
    """Return an HTTP client on the module's running venue."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client

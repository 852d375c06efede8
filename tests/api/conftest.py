"""Fixtures of the API tests: a seeded stack directory and a real uvicorn server per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_harness import Api, ApiServer, make_settings, seed_database, short_tmp

from services.api.app import ApiOptions, create_app


@pytest.fixture(scope="module")
def stack_dir() -> Iterator[Path]:
    """Yield a short private directory with a seeded database."""
    with short_tmp() as base:
        seed_database(make_settings(base))
        yield base


@pytest.fixture(scope="module")
def api(stack_dir: Path) -> Iterator[Api]:
    """Yield a real API server over the seeded database (no other service running)."""
    settings = make_settings(stack_dir)
    options = ApiOptions(fate_timeout_s=2.0, command_timeout_s=10.0, ws_queue_size=64)
    app = create_app(settings, options=options)
    with ApiServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        token = (settings.data_dir / "api_token").read_text().strip()
        yield Api(settings, server, client, token)

"""Wiring of the analytics service: SQLite schema (dead letters), the owner, the stop signal.

SIGTERM: both subscriptions close (no more rows), strategy_stats are brought up to date, the query
endpoint stops, buffered rows are flushed, the file is checkpointed and released; exit 0.
"""

from __future__ import annotations

import asyncio
import logging

from polybot.analytics.config import AnalyticsConfig
from polybot.analytics.owner import AnalyticsOwner
from polybot.stack.runtime import ServiceRuntime
from polybot.storage.migrate import init_db

log = logging.getLogger("polybot.analytics")


async def main(runtime: ServiceRuntime) -> None:
    """Ingest and serve analytics until SIGTERM."""
    settings = runtime.settings
    config = AnalyticsConfig()
    await asyncio.to_thread(init_db, settings.sqlite_path)
    async with AnalyticsOwner(settings, config, count=runtime.count):
        runtime.ready(f"writing {settings.analytics_path}; queries on {settings.bus.analytics_req}")
        await runtime.stopping.wait()
        log.info("analytics stopping")

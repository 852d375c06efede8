"""Wiring of the scanner service: SQLite schema, the ``Scanner`` and the stop signal.

SIGTERM: the snapshot endpoint closes, the market sockets close, the recording is flushed, the
price publisher closes and the database engine is disposed; then the process exits 0.
"""

from __future__ import annotations

import asyncio
import logging

from polybot.marketdata.config import ScannerConfig
from polybot.marketdata.scanner import Scanner
from polybot.stack.runtime import ServiceRuntime
from polybot.storage.migrate import init_db

log = logging.getLogger("polybot.scanner")


async def main(runtime: ServiceRuntime) -> None:
    """Serve market data until SIGTERM."""
    settings = runtime.settings
    config = ScannerConfig()
    await asyncio.to_thread(init_db, settings.sqlite_path)
    async with Scanner(settings, config, count=runtime.count) as scanner:
        tokens = len(scanner.feed.token_ids) if scanner.feed is not None else 0
        runtime.ready(
            f"{tokens} tokens on {settings.bus.prices_pub}; snapshots on {settings.bus.snapshots_req}"
        )
        await runtime.stopping.wait()
        log.info("scanner stopping")

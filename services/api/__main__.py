"""``python -m services.api``: serve the API with uvicorn as a supervised service.

uvicorn runs inside ``run_service("api", main)``: ``runtime.ready()`` is called once the socket
listens, and SIGTERM/SIGINT (``runtime.stopping``) close the WebSocket clients and stop uvicorn
within ``GRACEFUL_S`` (``timeout_graceful_shutdown``) — a stuck client cannot hold the exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator

import uvicorn

from polybot.stack.runtime import ServiceRuntime, run_service
from services.api.app import create_app

GRACEFUL_S = 5.0
STARTUP_TIMEOUT_S = 60.0


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ``run_service`` owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install nothing; the runtime's handlers set ``runtime.stopping``."""
        yield


async def main(runtime: ServiceRuntime) -> None:
    """Serve until asked to stop."""
    settings = runtime.settings
    app = create_app(settings, counters=runtime.counters)
    config = uvicorn.Config(
        app,
        host=settings.api.host,
        port=settings.api.port,
        log_config=None,  # keep the service's JSON logging (polybot.stack.logs)
        access_log=False,
        timeout_graceful_shutdown=int(GRACEFUL_S),
        lifespan="on",
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            while not server.started:
                if serving.done():
                    await serving  # re-raise the startup error (e.g. port in use)
                    raise RuntimeError(f"uvicorn exited before listening on port {config.port}")
                await asyncio.sleep(0.05)
        runtime.ready(f"listening on http://{settings.api.host}:{settings.api.port}")
        stop = asyncio.create_task(runtime.stopping.wait())
        await asyncio.wait({serving, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
    finally:
        ctx = getattr(app.state, "ctx", None)
        if ctx is not None:
            ctx.hub.close_clients()  # senders close with 1001 instead of waiting for uvicorn
        server.should_exit = True
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(serving, GRACEFUL_S * 3)


if __name__ == "__main__":
    sys.exit(run_service("api", main))

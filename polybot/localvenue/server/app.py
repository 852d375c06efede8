"""The local venue's ASGI app: Gamma, CLOB, Data API, WebSockets and the admin API in one server.

Paths (``VenueSettings``): the CLOB at the root, Gamma under ``/gamma``, the Data API under
``/data-api``, WebSockets at ``/ws/market`` and ``/ws/user``, and the local-only admin API under
``/_polybot/admin`` — outside every Polymarket path, so no client can hit it by accident.

A small ASGI middleware sits in front of the Polymarket paths and applies, in order, the IP rate
limits (429 + ``Retry-After``) and the fault knobs (latency, 5xx/425/429, timeouts). A background
task ticks the exchange (GTD expiry, trade lifecycle, heartbeats) and runs any background work
(the synthetic flow) on the same event loop, so the single-threaded core never needs a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from polybot.localvenue.exchange import Exchange
from polybot.localvenue.server import (
    admin,
    clob_keys,
    clob_private,
    clob_public,
    data_api,
    errors,
    gamma,
    ws,
)
from polybot.localvenue.server.clob_auth import (
    DEFAULT_AUTH_WINDOW_S,
    ApiKeyStore,
    Authenticator,
    load_or_create_secret,
)
from polybot.localvenue.server.context import VenueContext, wall_s
from polybot.localvenue.server.errors import VenueHTTPError, json_response
from polybot.localvenue.server.faults import Faults, HttpFault
from polybot.localvenue.server.ratelimit import IpLimiter, SignerLimiter
from polybot.venues.polymarket.contracts import POLYGON_CHAIN_ID

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/_polybot/"
Background = Callable[[], object]   # sync, or returning an awaitable


@dataclass(frozen=True, slots=True)
class AppOptions:
    """How the server around an exchange behaves (everything has a sensible default)."""

    chain_id: int = POLYGON_CHAIN_ID
    data_dir: Path | None = None
    seed: int = 0
    admin_token: str | None = None
    auth_window_s: int | None = DEFAULT_AUTH_WINDOW_S
    ip_limits: bool = True
    signer_limits: bool = True
    signer_tier: str = "Standard"
    tick_interval_s: float = 0.05


class VenueMiddleware:
    """IP rate limits and HTTP fault injection for every Polymarket path (not the admin API)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Screen one HTTP request, then pass it on."""
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        venue: VenueContext = scope["app"].state.venue
        path: str = scope["path"]
        client = scope.get("client")
        wait = venue.ip_limits.check(client[0] if client else "-", scope["method"], path)
        if wait is not None:
            retry = str(max(1, int(wait + 0.999)))
            await _send(send, 429, {"error": errors.TOO_MANY_REQUESTS}, {"Retry-After": retry})
            return
        faults = venue.faults
        if faults.applies_to(path):
            delay = faults.latency_s()
            if delay > 0:
                await asyncio.sleep(delay)
            fault = faults.draw_http()
            if fault is HttpFault.ERROR_5XX:
                await _send(send, 500, {"error": errors.INTERNAL_ERROR})
                return
            if fault is HttpFault.ERROR_425:
                await _send(send, 425, {"error": errors.ENGINE_RESTARTING})
                return
            if fault is HttpFault.ERROR_429:
                await _send(send, 429, {"error": errors.TOO_MANY_REQUESTS}, {"Retry-After": "1"})
                return
            if fault is HttpFault.TIMEOUT:
                await asyncio.sleep(faults.config.timeout_s)
                await _send(send, 504, {"error": "Gateway Timeout"})
                return
        await self.app(scope, receive, send)


async def _send(send: Send, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    payload = orjson.dumps(body)
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    raw_headers.extend((k.lower().encode(), v.encode()) for k, v in (headers or {}).items())
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


async def _not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = "not found" if exc.status_code == 404 else str(exc.detail)
    return json_response({"error": message}, exc.status_code)


async def _ticker(venue: VenueContext, interval_s: float, background: list[Background]) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            venue.exchange.tick()
            for job in background:
                result = job()
                if inspect.isawaitable(result):
                    await result
        except Exception:
            # One bad tick must not stop time for the whole venue; the traceback says why.
            log.exception("venue tick failed")


def build_context(exchange: Exchange, options: AppOptions) -> VenueContext:
    """Wire the exchange to the key store, authenticator, limiters, faults and WS hub."""
    keys = ApiKeyStore(
        load_or_create_secret(options.data_dir),
        data_dir=options.data_dir,
        on_activate=lambda record: exchange.register_api_key(record.api_key, record.address),
        on_revoke=lambda record: exchange.revoke_api_key(record.api_key),
    )
    authenticator = Authenticator(
        keys, chain_id=options.chain_id, window_s=options.auth_window_s,
        venue_now_s=lambda: exchange.clock.now_ms() / 1000,
    )
    faults = Faults(options.seed)
    signer = SignerLimiter(default_tier=options.signer_tier, enabled=options.signer_limits,
                           wall=wall_s)
    return VenueContext(
        exchange=exchange,
        keys=keys,
        auth=authenticator,
        faults=faults,
        ip_limits=IpLimiter(enabled=options.ip_limits),
        signer_limits=signer,
        hub=ws.WsHub(exchange, faults),
        chain_id=options.chain_id,
        admin_token=options.admin_token,
    )


def create_app(
    exchange: Exchange,
    options: AppOptions | None = None,
    *,
    background: list[Background] | None = None,
    context: VenueContext | None = None,
) -> FastAPI:
    """Return the ASGI app serving ``exchange``.

    ``background`` callables run after every exchange tick (sync or async), e.g. the synthetic
    flow. Pass ``context`` to share a pre-built one (the CLI builds it to bootstrap the wallet).
    """
    opts = options or AppOptions()
    venue = context or build_context(exchange, opts)
    jobs = list(background or [])

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_ticker(venue, opts.tick_interval_s, jobs))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            venue.hub.close()

    app = FastAPI(
        title="PolyBot local venue", docs_url=None, redoc_url=None, openapi_url=None,
        lifespan=lifespan,
    )
    app.state.venue = venue
    app.add_exception_handler(VenueHTTPError, errors.handle_venue_error)
    app.add_exception_handler(StarletteHTTPException, _not_found)
    app.add_middleware(VenueMiddleware)
    # Order matters where paths overlap: admin and Gamma/Data prefixes before the CLOB's
    # catch-alls such as /markets/{condition_id}.
    for module in (admin, gamma, data_api, clob_keys, clob_private, clob_public, ws):
        app.include_router(module.router)
    return app

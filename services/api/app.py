"""``create_app(settings)``: the FastAPI application (REST, WebSocket, dashboard, metrics).

The lifespan opens the bus links (all dial without blocking, so the API starts whatever else is
running) and closes them on shutdown. Errors become JSON ``{"detail": "..."}`` with a 4xx for bad
input and a 503 naming the missing service; nothing a route raises on purpose becomes a 500.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError, OperationalError

from polybot.config.settings import Settings
from polybot.core.errors import ConfigError
from polybot.statecmd.token import ensure_token
from services.api import static, ws
from services.api.auth import install_log_redaction
from services.api.deps import (
    ApiContext,
    CommandRefused,
    ExecutorLink,
    FateTimeout,
    ServiceLink,
    ServiceUnavailable,
    open_engines,
)
from services.api.routes import (
    analytics,
    health,
    markets,
    orders,
    positions,
    risk,
    strategies,
    trades,
    wallets,
)
from services.api.routes import settings as settings_routes

log = logging.getLogger("polybot.api")

TAGS = [
    {"name": "markets", "description": "Markets, live books and recorded prices."},
    {"name": "orders", "description": "Our orders; placing one sends a signal to the executor."},
    {"name": "positions", "description": "Positions, PnL and balances."},
    {"name": "trades", "description": "Our fills."},
    {"name": "strategies", "description": "Strategy configs, modes, runs and logs."},
    {"name": "analytics", "description": "Summary, PnL by day, OHLC, correlations."},
    {"name": "risk", "description": "Risk limits, risk state and the kill switch."},
    {"name": "wallets", "description": "Tracked wallets (public data only)."},
    {"name": "settings", "description": "Effective settings, secrets masked."},
    {"name": "health", "description": "Health, liveness, readiness and metrics."},
]


@dataclass(frozen=True)
class ApiOptions:
    """Tunables of one API instance (tests shrink queues and timeouts)."""

    ws_queue_size: int = 2000
    ws_max_batch: int = 500
    fate_timeout_s: float = 10.0
    command_timeout_s: float = 10.0
    analytics_timeout_s: float = 10.0
    frontend_dist: Path = static.DEFAULT_DIST


def create_app(
    settings: Settings,
    *,
    options: ApiOptions | None = None,
    counters: dict[str, int] | None = None,
) -> FastAPI:
    """Return the API application for ``settings``.

    ``counters`` receives the API's counters (the service passes its runtime's, so they reach the
    status file and ``/metrics``). The token file is created here, on first run.
    """
    opts = options or ApiOptions()
    token = ensure_token(settings.data_dir)
    install_log_redaction()  # the WebSocket token may travel in the URL: keep it out of logs
    shared_counters: dict[str, int] = counters if counters is not None else {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = _open_context(settings, token, opts, shared_counters)
        app.state.ctx = ctx
        try:
            yield
        finally:
            await _close_context(ctx)

    app = FastAPI(
        title="PolyBot API",
        version="1.0",
        description="REST and WebSocket access to a PolyBot stack. State-changing routes need "
        "`Authorization: Bearer <token>` (`polybot api token`). See docs/api.md.",
        openapi_tags=TAGS,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.api.cors_origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type"],
        allow_credentials=False,
    )
    for module in (
        markets,
        orders,
        positions,
        trades,
        strategies,
        analytics,
        risk,
        wallets,
        settings_routes,
        health,
    ):
        app.include_router(module.router)
    app.include_router(ws.router)
    app.include_router(static.build_router(opts.frontend_dist))
    _install_error_handlers(app, settings)
    return app


def _operation_id(route: APIRoute) -> str:
    # Route function names are unique and readable: the generated client gets listMarkets().
    return route.name


def _open_context(
    settings: Settings, token: str, opts: ApiOptions, counters: dict[str, int]
) -> ApiContext:
    bus = settings.bus
    request_timeout_s = bus.recv_timeout_ms / 1000
    hub = ws.Hub(settings, counters, queue_size=opts.ws_queue_size, max_batch=opts.ws_max_batch)
    hub.start()
    executor = ExecutorLink(bus.signals_push, opts.fate_timeout_s, bus.send_timeout_ms / 1000)
    hub.listeners.append(executor.on_message)
    read_engine, write_engine = open_engines(settings)
    return ApiContext(
        settings=settings,
        data_dir=settings.data_dir,
        token=token,
        state=ServiceLink(
            "state service",
            "state.req",
            bus.state_req,
            request_timeout_s,
            command_timeout_s=opts.command_timeout_s,
        ),
        analytics=ServiceLink(
            "analytics service", "analytics.req", bus.analytics_req, opts.analytics_timeout_s
        ),
        runner=ServiceLink(
            "strategy runner", "strategy_logs.req", bus.strategy_logs_req, opts.analytics_timeout_s
        ),
        executor=executor,
        hub=hub,
        read_engine=read_engine,
        write_engine=write_engine,
        counters=counters,
    )


async def _close_context(ctx: ApiContext) -> None:
    ctx.hub.close()
    for link in (ctx.state, ctx.analytics, ctx.runner):
        link.close()
    await asyncio.to_thread(ctx.executor.close)  # lingers briefly so a last signal leaves
    ctx.read_engine.dispose()
    ctx.write_engine.dispose()


def _install_error_handlers(app: FastAPI, settings: Settings) -> None:
    def detail(status: int, text: str) -> JSONResponse:
        return JSONResponse({"detail": text}, status_code=status)

    @app.exception_handler(ServiceUnavailable)
    async def _unavailable(request: Request, exc: ServiceUnavailable) -> JSONResponse:
        return detail(503, str(exc))

    @app.exception_handler(CommandRefused)
    async def _refused(request: Request, exc: CommandRefused) -> JSONResponse:
        return detail(exc.status_code, str(exc))

    @app.exception_handler(FateTimeout)
    async def _fate_timeout(request: Request, exc: FateTimeout) -> JSONResponse:
        return detail(504, str(exc))

    @app.exception_handler(OperationalError)
    async def _database(request: Request, exc: OperationalError) -> JSONResponse:
        reason = str(exc.orig) if exc.orig is not None else "unavailable"
        log.warning("database unavailable: %s", reason)
        return detail(
            503,
            f"the database {settings.sqlite_path} is not available ({reason}); create or "
            "upgrade it with `polybot db upgrade` (the state service does this on start)",
        )

    @app.exception_handler(IntegrityError)
    async def _conflict(request: Request, exc: IntegrityError) -> JSONResponse:
        reason = str(exc.orig) if exc.orig is not None else "constraint failed"
        return detail(409, f"the change conflicts with stored data: {reason}")

    @app.exception_handler(ConfigError)
    async def _config(request: Request, exc: ConfigError) -> JSONResponse:
        return detail(503, f"the stack's configuration is invalid: {exc}")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
            problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
        return detail(422, "invalid request: " + "; ".join(problems))

"""Health (services and bus links), liveness, readiness, and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from polybot.stack.control import service_rows
from polybot.stack.metrics import render_prometheus
from polybot.stack.plan import run_dir
from services.api.deps import CtxDep
from services.api.schemas import BusLink, HealthOut, LiveOut, ReadyOut, ServiceHealth, WsStats

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut)
def get_health(ctx: CtxDep) -> HealthOut:
    """Return every supervised service's health and whether each bus peer is connected."""
    services = [
        ServiceHealth(
            name=row.name,
            status=row.status,
            healthy=row.healthy,
            pid=row.pid,
            uptime_s=round(row.uptime_s, 3),
            restarts=row.restarts,
            detail=row.detail,
        )
        for row in service_rows(ctx.data_dir)
    ]
    links = [BusLink(name=n, service=s, connected=c) for n, s, c in ctx.links()]
    hub = ctx.hub
    healthy = all(s.healthy for s in services) and all(link.connected for link in links)
    return HealthOut(
        status="ok" if healthy else "degraded",
        services=services,
        links=links,
        websocket=WsStats(
            clients=len(hub.clients),
            messages_in=ctx.counters.get("ws_messages_in", 0),
            frames_out=ctx.counters.get("ws_frames_out", 0),
            dropped=ctx.counters.get("ws_dropped", 0),
        ),
    )


@router.get("/health/live", response_model=LiveOut)
def get_live() -> LiveOut:
    """Return 200 while the process answers."""
    return LiveOut(status="alive")


@router.get("/health/ready", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
def get_ready(ctx: CtxDep) -> ReadyOut | JSONResponse:
    """Return 200 when the API can serve its data (the database is readable), else 503."""
    try:
        with ctx.read_engine.connect() as connection:
            connection.execute(text("SELECT 1 FROM markets LIMIT 1"))
    except SQLAlchemyError as exc:
        original = getattr(exc, "orig", None)
        reason = str(original) if original is not None else type(exc).__name__
        body = ReadyOut(ready=False, detail=f"{ctx.settings.sqlite_path}: {reason}")
        return JSONResponse(body.model_dump(), 503)
    return ReadyOut(ready=True, detail="database readable")


@router.get("/metrics", response_class=PlainTextResponse)
def get_metrics(ctx: CtxDep) -> PlainTextResponse:
    """Return every service's counters in the Prometheus text format."""
    lines = [
        render_prometheus(run_dir(ctx.data_dir)),
        "# HELP polybot_api_ws_clients WebSocket clients connected to this API process.",
        "# TYPE polybot_api_ws_clients gauge",
        f"polybot_api_ws_clients {len(ctx.hub.clients)}",
        "",
    ]
    return PlainTextResponse("\n".join(lines), media_type="text/plain; version=0.0.4")

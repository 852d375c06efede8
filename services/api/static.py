"""The built Vue dashboard (``frontend/dist``) at ``/ui``, with an SPA fallback.

Any ``/ui/...`` path that is not a file of the build gets ``index.html`` so the Vue router can
handle it, except paths that look like assets (they have a file extension), which get a 404 so a
broken build shows up as such. Without a build, ``/ui`` explains how to make one.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

DEFAULT_DIST = Path(__file__).resolve().parents[2] / "frontend" / "dist"

PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>PolyBot — dashboard not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:4rem auto;padding:0 1rem}
code{background:#f2f2f2;padding:.1rem .3rem;border-radius:3px}</style></head>
<body><h1>The PolyBot dashboard is not built yet</h1>
<p>The API is running, but <code>{dist}</code> has no <code>index.html</code>.</p>
<p>Build it with <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>, then reload
this page. Meanwhile the REST API is documented at <a href="/docs">/docs</a>
(<a href="/openapi.json">/openapi.json</a>) and health is at <a href="/health">/health</a>.</p>
</body></html>
"""


def build_router(dist: Path = DEFAULT_DIST) -> APIRouter:
    """Return the routes serving the dashboard build in ``dist``."""
    router = APIRouter(include_in_schema=False)
    root = dist.resolve()

    @router.get("/")
    def home() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @router.get("/ui")
    @router.get("/ui/")
    def index() -> Response:
        return _index(root)

    @router.get("/ui/{path:path}")
    def asset(path: str) -> Response:
        index_file = root / "index.html"
        if not index_file.is_file():
            return _placeholder(root)
        candidate = (root / path).resolve()
        # resolve() folds '..' and symlinks: anything outside the build is refused.
        if candidate.is_relative_to(root) and candidate.is_file():
            return FileResponse(candidate)
        if "." in Path(path).name:
            raise HTTPException(404, f"no file {path!r} in the dashboard build")
        return FileResponse(index_file)

    return router


def _index(root: Path) -> Response:
    index_file = root / "index.html"
    if index_file.is_file():
        return FileResponse(index_file)
    return _placeholder(root)


def _placeholder(root: Path) -> HTMLResponse:
    return HTMLResponse(PLACEHOLDER.replace("{dist}", str(root)))

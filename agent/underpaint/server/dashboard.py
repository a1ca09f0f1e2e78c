"""The agent's own page at `/`: the static page, sign-in, and the routes it calls under /dashboard/api/.

The page (web/ in the repository, bundled into dashboard_page/ by web/build.mjs)
is served by the agent itself on its port, so it needs no other server and
shares the agent's Host and Origin checks. Its routes are registered here; what
they do lives in dashboard_gallery (history, picks, exports, cost),
dashboard_live (the queue as it runs) and dashboard_rerun (a recipe again).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web

from underpaint.config import Settings
from underpaint.engines.base import Engine
from underpaint.jobs.curation import Curation
from underpaint.jobs.manager import JobManager
from underpaint.server import dashboard_gallery, dashboard_live, dashboard_rerun
from underpaint.server.capabilities import capabilities
from underpaint.server.dashboard_auth import check_reader, has_session, json_body, sign_in, sign_out
from underpaint.server.dashboard_context import DASHBOARD, Dashboard, dashboard_of

PAGE_FOLDER = Path(__file__).with_name("dashboard_page")
API = "/dashboard/api"
_PAGE_FILES = {"page.js": "text/javascript", "page.css": "text/css"}
# The page loads only its own script, style and images, and no other page may frame it (its buttons act).
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
Handler = Callable[[web.Request], Coroutine[Any, Any, web.StreamResponse]]


def add_dashboard(app: web.Application, settings: Settings, manager_key: web.AppKey[JobManager]) -> None:
    """The page and its routes; call after the job manager's cleanup context is added (it needs the history)."""
    app[DASHBOARD] = Dashboard(settings, app, manager_key)
    app.cleanup_ctx.append(_curation_context)
    app.on_shutdown.append(_stop_streams)
    app.on_response_prepare.append(_page_headers)
    app.router.add_get("/", page)
    app.router.add_get("/dashboard/{name}", page_file)
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/session", session),
        ("POST", "/session", start_session),
        ("POST", "/session/end", end_session),
        ("GET", "/library", library),
        *dashboard_gallery.ROUTES,
        *dashboard_live.ROUTES,
        *dashboard_rerun.ROUTES,
    ]
    for method, path, handler in routes:
        app.router.add_route(method, API + path, handler)


async def _curation_context(app: web.Application) -> AsyncIterator[None]:
    dashboard = app[DASHBOARD]
    dashboard.curation = Curation(dashboard.settings.history_path)
    try:
        yield
    finally:
        curation, dashboard.curation = dashboard.curation, None
        dashboard.thread.submit(curation.close).result()
        dashboard.thread.shutdown(wait=True)


async def _stop_streams(app: web.Application) -> None:
    """Open live streams would otherwise hold shutdown for aiohttp's whole grace period."""
    app[DASHBOARD].closing.set()


async def _page_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path == "/" or request.path.startswith("/dashboard/"):
        response.headers.update(_PAGE_HEADERS)
        response.headers.setdefault("Cache-Control", "no-store")


async def page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(PAGE_FOLDER / "index.html", headers={"Content-Type": "text/html; charset=utf-8"})


async def page_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in _PAGE_FILES:
        raise web.HTTPNotFound(text="No such file of the agent's page.")
    return web.FileResponse(PAGE_FOLDER / name, headers={"Content-Type": f"{_PAGE_FILES[name]}; charset=utf-8"})


async def session(request: web.Request) -> web.Response:
    settings = dashboard_of(request).settings
    return web.json_response({"signed_in": has_session(request, settings), "token_required": settings.require_token})


async def start_session(request: web.Request) -> web.Response:
    return await sign_in(request, dashboard_of(request).settings)


async def end_session(request: web.Request) -> web.Response:
    settings = dashboard_of(request).settings
    await json_body(request, settings)
    return sign_out(request)


def engine_device(engine: Engine) -> str:
    """Where an engine computes now (device/dtype, e.g. "cuda/float16")."""
    return engine.capabilities.device


async def library(request: web.Request) -> web.Response:
    """The engines, their models and add-ons, and the styles: the handshake's capabilities, with each
    engine's device."""
    dashboard = dashboard_of(request)
    check_reader(request, dashboard.settings)
    engines = dashboard.manager.engines
    return web.json_response({
        "capabilities": capabilities(dashboard.manager.intake, dashboard.settings).model_dump(mode="json"),
        "devices": {name: engine_device(engine) for name, engine in engines.items()},
    })

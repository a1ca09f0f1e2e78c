"""The aiohttp application: websocket, health and result downloads on one port."""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections.abc import AsyncIterator, Mapping

from aiohttp import web

from underpaint.cluster.users import Caller, UserStore
from underpaint.cluster.users_watch import SignedInConnections
from underpaint.config import Settings
from underpaint.core import ErrorCode, RequestError
from underpaint.engines.base import Engine
from underpaint.hotfolder.service import HotFolder
from underpaint.jobs.lanes import Lanes
from underpaint.jobs.manager import JobManager
from underpaint.jobs.runtime import running_jobs
from underpaint.server.capabilities import cluster_view, sees_cluster
from underpaint.server.dashboard import add_dashboard
from underpaint.server.security import USERS, request_caller, security_middleware
from underpaint.server.session import Session
from underpaint.server.upload_budget import UploadBudget
from underpaint.version import __version__
from underpaint.wire.messages import WEBSOCKET_PATH

log = logging.getLogger(__name__)
MANAGER = web.AppKey("manager", JobManager)
SETTINGS = web.AppKey("settings", Settings)
SOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("sockets")
UPLOADS = web.AppKey("uploads", UploadBudget)
SIGNED_IN = web.AppKey("signed_in", SignedInConnections)
# delivery-N-PRESET.EXT: a job's exports (results/delivery/export.delivery_name), the preset a bare name.
_FILE_NAME = re.compile(r"^(result\.psd|result\.c2pa|variant-\d{1,2}\.png|recipe\.json|"
                        r"delivery-\d{1,2}-[A-Za-z0-9][A-Za-z0-9._-]{0,63}\.(png|jpg|webp|avif|tif|psd))$")


def build_app(settings: Settings, engines: Mapping[str, Engine], lanes: Lanes | None = None) -> web.Application:
    """`lanes`: where jobs' engine steps run; None: Ray workers when `settings.cluster` is set, else here."""
    # client_max_size bounds HTTP bodies; websocket limits are set per connection below.
    app = web.Application(middlewares=[security_middleware(settings)], client_max_size=64 * 1024)
    app[SETTINGS] = settings
    app[SOCKETS] = weakref.WeakSet()
    app[UPLOADS] = UploadBudget.from_settings(settings)
    # Opened here, before the agent listens: a user store that cannot be read stops the start.
    app[USERS] = UserStore(settings.users_path)
    app[SIGNED_IN] = SignedInConnections(app[USERS])
    app.cleanup_ctx.append(_watch_users)
    app.cleanup_ctx.append(_manager_context(settings, engines, lanes))
    app.on_shutdown.append(_close_sockets)
    app.router.add_get("/health", health)
    app.router.add_get(WEBSOCKET_PATH, websocket)
    app.router.add_get("/v1/jobs/{job_id}/{name}", download)
    app.router.add_post("/v1/jobs/{job_id}/cancel", cancel)
    add_dashboard(app, settings, MANAGER)
    return app


def _manager_context(settings: Settings, engines: Mapping[str, Engine],  # type: ignore[no-untyped-def]
                     lanes: Lanes | None):
    async def context(app: web.Application) -> AsyncIterator[None]:
        workers = lanes
        if workers is None and settings.cluster:
            # Imported only here: an agent started without --cluster never imports Ray.
            from underpaint.cluster.gateway import gateway_lanes

            workers = gateway_lanes(settings, engines)
        async with running_jobs(settings, engines, workers) as manager:
            app[MANAGER] = manager
            hot_folder = HotFolder(settings.hot_folder, manager, settings) if settings.hot_folder else None
            if hot_folder is not None:
                await hot_folder.start()
            try:
                yield
            finally:
                if hot_folder is not None:
                    await hot_folder.stop()

    return context


async def _watch_users(app: web.Application) -> AsyncIterator[None]:
    """Closes the websockets of removed or rotated users while the agent runs."""
    watch = asyncio.create_task(app[SIGNED_IN].watch(), name="underpaint-users")
    try:
        yield
    finally:
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)
        app[USERS].close()


async def _close_sockets(app: web.Application) -> None:
    """Open websockets would otherwise hold shutdown for aiohttp's whole grace period."""
    sockets = app[SOCKETS]
    for ws in list(sockets):
        await ws.close(code=1001, message=b"agent shutting down")


async def health(request: web.Request) -> web.Response:
    manager = request.app[MANAGER]
    settings = request.app[SETTINGS]
    return web.json_response({
        "status": "ok",
        "version": __version__,
        "engine": settings.engine,
        "engines": sorted(manager.engines),
        "queued": len(manager.queue),
        "running": next(iter(manager.running), None),
        "running_jobs": sorted(manager.running),
        **_cluster_facts(request, manager),
    })


def _cluster_facts(request: web.Request, manager: JobManager) -> dict[str, object]:
    """A studio gateway's workers: how many, for anyone; which, doing what, for an admin's token."""
    info = cluster_view(manager)
    if info is None:
        return {}
    caller = request_caller(request, request.app[SETTINGS])
    shown = info.model_dump(mode="json") if caller is not None and sees_cluster(caller) else None
    return {"workers": len(info.workers), "cluster": shown}


async def websocket(request: web.Request) -> web.WebSocketResponse:
    settings = request.app[SETTINGS]
    ws = web.WebSocketResponse(
        max_msg_size=settings.max_message_bytes, compress=False, heartbeat=30.0, autoping=True,
    )
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    await Session(ws, request.app[MANAGER], settings, request.app[UPLOADS], request.app[SIGNED_IN]).run()
    return ws


def _authorised(request: web.Request) -> Caller:
    caller = request_caller(request, request.app[SETTINGS])
    if caller is None:
        raise web.HTTPUnauthorized(text="Send your token (a user's, or the pairing token) as "
                                        "'Authorization: Bearer <token>'.")
    return caller


async def download(request: web.Request) -> web.StreamResponse:
    caller = _authorised(request)
    job_id, name = request.match_info["job_id"], request.match_info["name"]
    if not _FILE_NAME.match(name):
        raise web.HTTPNotFound(text="No such result file.")
    manager = request.app[MANAGER]
    if not manager.visible(job_id, *caller.viewer(None)):
        # Another user's job is as unknown as one that never was: its id says nothing.
        return web.json_response({"error": ErrorCode.UNKNOWN_JOB, "message": f"No job '{job_id}' is known "
                                  "to this agent."}, status=404)
    await manager.wait_for_files(job_id)
    path = manager.store.find(job_id, name)
    if path is None:
        raise web.HTTPNotFound(text=f"Job '{job_id}' has no file '{name}' (unfinished, failed or cleaned up).")
    return web.FileResponse(path, headers={"Cache-Control": "no-store"})


async def cancel(request: web.Request) -> web.Response:
    caller = _authorised(request)
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="This route takes application/json only.")
    try:
        body = await request.json()
    except ValueError:
        body = None
    client = body.get("client") if isinstance(body, dict) else None
    if not isinstance(client, str):
        # Jobs belong to the client name that submitted them, as on the websocket.
        return web.json_response({"error": "invalid_message",
                                  "message": 'Send {"client": "<the client name the job was submitted under>"}.'},
                                 status=400)
    try:
        request.app[MANAGER].cancel(request.match_info["job_id"], *caller.viewer(client))
    except RequestError as exc:
        return web.json_response({"error": exc.code, "message": exc.message}, status=404)
    return web.json_response({"status": "cancelling"})

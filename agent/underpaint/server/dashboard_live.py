"""The queue as it runs, for the page: a stream of server-sent events, each job's newest picture, cancel.

Everything comes from the job manager's own event logs, the ones the plugins are
streamed from: the stream sends the queue (running, saving and waiting jobs, with
their progress) whenever it changes, and the ids of jobs that ended, so the page
refreshes its gallery. Server-sent events rather than a websocket: the page only
listens, and EventSource carries the session cookie and reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import Callable, Coroutine
from typing import Any, cast

import numpy as np
from aiohttp import web
from PIL import Image

from underpaint.core import RequestError
from underpaint.jobs.manager import Job, JobManager
from underpaint.results.thumbnails import thumbnail_webp
from underpaint.server.dashboard_auth import check_reader, json_body, refusal
from underpaint.server.dashboard_context import dashboard_of, job_id_of
from underpaint.wire.frames import decode_frame
from underpaint.wire.messages import Blob, Preview, Progress, Result

TICK = 0.25
"""Seconds between looks at the queue: progress reaches the page at most this late."""
KEEPALIVE = 15.0
_LIVE_STATES = ("running", "saving", "queued")
Handler = Callable[[web.Request], Coroutine[Any, Any, web.StreamResponse]]


def job_view(job: Job, position: int | None) -> dict[str, Any]:
    """What the page shows of a live job: its brief, state, place in the queue, progress, and the seq of
    the newest picture of each variant (a preview while it runs, then its result), so the page fetches
    a picture only when a newer one exists."""
    progress = next((e.message for e in reversed(job.log.events) if isinstance(e.message, Progress)), None)
    pictures: dict[int, int] = {}
    for event in job.log.events:
        if isinstance(event.message, Preview | Result) and event.frames:
            pictures[event.message.variant] = event.seq
    spec = job.spec
    return {
        "job_id": job.job_id, "state": job.state, "mode": spec.mode.value, "prompt": spec.params.prompt,
        "variants": spec.params.variants, "client": spec.client, "source": spec.source, "set_id": spec.set_id,
        "engine": job.engine, "position": position,
        "fraction": progress.fraction if progress else 0.0, "variant": progress.variant if progress else 0,
        "step": progress.step if progress else 0, "steps": progress.steps if progress else 0,
        "pictures": {str(variant): seq for variant, seq in pictures.items()},
    }


def queue_view(manager: JobManager) -> list[dict[str, Any]]:
    """Running first, then those whose files are being written, then the waiting ones in the order they run."""
    live = [job for job in manager.jobs.values() if job.state in ("running", "saving")]
    live.sort(key=lambda job: _LIVE_STATES.index(job.state))
    order = manager.queue.order()
    views = [job_view(job, None) for job in live]
    views += [job_view(manager.jobs[key], place + 1) for place, key in enumerate(order) if key in manager.jobs]
    return views


async def live(request: web.Request) -> web.StreamResponse:
    """`queue` events (the whole live queue, when it changed) and `ended` events (job ids)."""
    dashboard = dashboard_of(request)
    check_reader(request, dashboard.settings)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    manager, sent, active = dashboard.manager, "", set[str]()
    quiet = 0.0
    try:
        while not dashboard.closing.is_set():
            views = queue_view(manager)
            text = json.dumps(views, separators=(",", ":"))
            ids = {view["job_id"] for view in views}
            if ended := sorted(active - ids):
                await response.write(_event("ended", json.dumps(ended)))
            active = ids
            if text != sent:
                await response.write(_event("queue", text))
                sent, quiet = text, 0.0
            elif quiet >= KEEPALIVE:
                await response.write(b": still here\n\n")
                quiet = 0.0
            quiet += TICK
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(dashboard.closing.wait(), TICK)
    except (ConnectionResetError, ConnectionError):
        pass  # the page went away
    return response


def _event(name: str, data: str) -> bytes:
    return f"event: {name}\ndata: {data}\n\n".encode()


async def live_picture(request: web.Request) -> web.Response:
    """The newest picture of a live job's variant (its last preview, else its result) as a small WebP."""
    dashboard = dashboard_of(request)
    check_reader(request, dashboard.settings)
    job_id = job_id_of(request)
    job = dashboard.manager.jobs.get(job_id)
    try:
        variant = int(request.match_info["variant"])
    except ValueError:
        variant = -1
    event = None if job is None else next(
        (e for e in reversed(job.log.events) if isinstance(e.message, Preview | Result)
         and e.message.variant == variant and e.frames), None)
    if event is None:
        raise refusal(404, "unknown_job", f"No picture of variant {variant} of a live job '{job_id}'.")
    message = event.message
    blob = message.image if isinstance(message, Preview) else cast(Result, message).pixels
    data = await asyncio.to_thread(_picture, blob, event.frames)
    # The page asks by the picture's seq (`?seq=`), which names one picture for good: the browser may keep it
    # while the queue is redrawn four times a second.
    return web.Response(body=data, content_type="image/webp", headers={"Cache-Control": "private, max-age=3600"})


def _picture(blob: Blob, frames: tuple[bytes, ...]) -> bytes:
    payload = b"".join(bytes(chunk.payload) for chunk in map(decode_frame, frames) if chunk.stream == blob.stream)
    if blob.format == "png":
        with Image.open(io.BytesIO(payload)) as image:
            rgba = np.asarray(image.convert("RGBA"))
    else:
        channels = 4 if blob.format == "rgba8" else 1
        pixels = np.frombuffer(payload, np.uint8).reshape(blob.height, blob.width, channels)
        rgba = pixels if channels == 4 else np.repeat(pixels, 4, axis=2)
    return thumbnail_webp(np.ascontiguousarray(rgba))


async def cancel(request: web.Request) -> web.Response:
    """Cancel any client's job (the page is the agent owner's): a waiting one at once, a running one
    between its steps."""
    dashboard = dashboard_of(request)
    await json_body(request, dashboard.settings)
    job_id = job_id_of(request)
    try:
        dashboard.manager.cancel(job_id, None)
    except RequestError as exc:
        raise refusal(404, exc.code, exc.message) from None
    return web.json_response({"status": "cancelling"})


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/live", live),
    ("GET", "/jobs/{job_id}/live/{variant}", live_picture),
    ("POST", "/jobs/{job_id}/cancel", cancel),
]

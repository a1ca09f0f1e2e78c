"""The page's history routes: gallery pages with filters, a job with its recipe and files, picks and
notes per variant, a set's picks as a zip, and what jobs cost.

Every id a route takes is checked against the protocol's pattern, and every file is
looked up by the result store, which resolves it inside its own folder: no request
names a path. The page sees every client's jobs (it is the agent owner's).
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import zipfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import IO, Any, cast, get_args

from aiohttp import web
from pydantic import ValidationError

from underpaint.core import ErrorCode, Mode
from underpaint.core.errors import request_error_from
from underpaint.jobs.curation import Curation, GalleryJob, GalleryQuery, Keep, Pick
from underpaint.results.store import PSD_NAME, variant_name
from underpaint.server.dashboard_auth import check_reader, json_body, refusal
from underpaint.server.dashboard_context import Dashboard, dashboard_of, job_id_of, set_id_of

_FILE = re.compile(r"^(?:result\.psd|recipe\.json|variant-(\d{1,2})\.png|thumb-(\d{1,2})\.webp|source\.png)$")
_ZIP_CHUNK = 1 << 20
# Said outright: the platform's MIME table may not know WebP or PSD.
_FILE_TYPES = {".psd": "image/vnd.adobe.photoshop", ".png": "image/png", ".webp": "image/webp",
               ".json": "application/json"}
Handler = Callable[[web.Request], Coroutine[Any, Any, web.StreamResponse]]


def _reader(request: web.Request) -> Dashboard:
    dashboard = dashboard_of(request)
    check_reader(request, dashboard.settings)
    return dashboard


def _number(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name, "")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise refusal(400, ErrorCode.INVALID_MESSAGE, f"'{name}' must be a number (seconds since 1970).") from None


def gallery_query(request: web.Request) -> GalleryQuery:
    """The filters and cursor of a gallery request, each checked."""
    query = request.query
    mode = query.get("mode") or None
    if mode is not None and mode not in set(Mode):
        raise refusal(400, ErrorCode.INVALID_MESSAGE, f"No mode '{mode[:40]}'; modes are {', '.join(Mode)}.")
    keep = query.get("keep") or None
    if keep is not None and keep not in get_args(Keep):
        raise refusal(400, ErrorCode.INVALID_MESSAGE, f"'keep' is one of {', '.join(get_args(Keep))}.")
    before = None
    if cursor := query.get("before", ""):
        created, _, job_id = cursor.partition(":")
        try:
            before = (float(created), job_id)
        except ValueError:
            raise refusal(400, ErrorCode.INVALID_MESSAGE, "'before' is the 'next' cursor of the previous page.") \
                from None
    try:
        limit = int(query.get("limit", "24"))
    except ValueError:
        raise refusal(400, ErrorCode.INVALID_MESSAGE, "'limit' must be a whole number.") from None
    return GalleryQuery(
        text=query.get("q", "")[:200], mode=mode, model=query.get("model") or None,
        style=query.get("style") or None, set_id=query.get("set") or None, source=query.get("source") or None,
        since=_number(request, "since"), until=_number(request, "until"), keep=cast(Keep | None, keep),
        before=before, limit=limit,
    )


async def jobs(request: web.Request) -> web.Response:
    dashboard = _reader(request)
    query = gallery_query(request)
    found = await dashboard.query(lambda curation: curation.page(query))
    cursor = None if found.next_before is None else f"{found.next_before[0]!r}:{found.next_before[1]}"
    return web.json_response({"jobs": [job.model_dump(mode="json") for job in found.jobs], "next": cursor})


async def _known_job(dashboard: Dashboard, job_id: str) -> GalleryJob:
    job = await dashboard.query(lambda curation: curation.job(job_id))
    if job is None:
        raise refusal(404, ErrorCode.UNKNOWN_JOB, f"No job '{job_id}' in the history.")
    return job


async def job(request: web.Request) -> web.Response:
    """A job with its recipe (the JSON a replay takes) and which of its files are still on disk."""
    dashboard, job_id = _reader(request), job_id_of(request)
    found = await _known_job(dashboard, job_id)
    recipe = await dashboard.query(lambda curation: curation.recipe_json(job_id))
    store = dashboard.manager.store
    on_disk = [index for index in range(found.variants) if store.find(job_id, variant_name(index)) is not None]
    return web.json_response({**found.model_dump(mode="json"), "recipe": None if recipe is None else json.loads(recipe),
                              "psd": store.find(job_id, PSD_NAME) is not None, "variants_on_disk": on_disk})


async def recipe(request: web.Request) -> web.Response:
    dashboard, job_id = _reader(request), job_id_of(request)
    text = await dashboard.query(lambda curation: curation.recipe_json(job_id))
    if text is None:
        raise refusal(404, ErrorCode.UNKNOWN_JOB, f"Job '{job_id}' has no recipe (it did not finish).")
    return web.Response(text=json.dumps(json.loads(text), indent=2), content_type="application/json")


async def job_file(request: web.Request) -> web.StreamResponse:
    """A result file by its name: the PSD, a variant PNG, the recipe, a variant's thumbnail or the source."""
    dashboard, job_id, name = _reader(request), job_id_of(request), request.match_info["name"]
    match = _FILE.match(name)
    if match is None:
        raise refusal(404, ErrorCode.UNKNOWN_JOB, "No such result file.")
    store = dashboard.manager.store
    await dashboard.manager.wait_for_files(job_id)
    thumbnail = match.group(2)
    try:
        if thumbnail is not None:
            path = await asyncio.to_thread(store.thumbnail, job_id, int(thumbnail) - 1)
        elif name == "source.png":
            path = await asyncio.to_thread(store.source, job_id)
        else:
            path = store.find(job_id, name)
    except ValueError:
        raise refusal(404, ErrorCode.BAD_IMAGE, f"Job '{job_id}''s result file is unreadable.") from None
    if path is None:
        raise refusal(404, ErrorCode.UNKNOWN_JOB, f"Job '{job_id}' has no file '{name}' (unfinished, failed or "
                                                  "cleaned up).")
    headers = {"Cache-Control": "private, max-age=86400" if thumbnail else "no-store",
               "Content-Type": _FILE_TYPES[path.suffix]}
    if name == PSD_NAME:
        headers["Content-Disposition"] = f'attachment; filename="{job_id}.psd"'
    return web.FileResponse(path, headers=headers)


async def set_pick(request: web.Request) -> web.Response:
    """Star, pick or reject a variant and note why; fields left out keep what was decided before."""
    dashboard = dashboard_of(request)
    body = await json_body(request, dashboard.settings)
    job_id = job_id_of(request)
    try:
        variant = int(request.match_info["variant"])
    except ValueError:
        raise refusal(404, ErrorCode.UNKNOWN_JOB, "Variants are numbered from 0.") from None
    found = await _known_job(dashboard, job_id)
    if not 0 <= variant < found.variants:
        raise refusal(404, ErrorCode.UNKNOWN_JOB, f"Job '{job_id}' has variants 0 to {found.variants - 1}.")
    before = next((pick for pick in found.picks if pick.variant == variant), Pick(variant=variant))
    try:
        pick = Pick.model_validate(before.model_dump() | body | {"variant": variant})
    except ValidationError as exc:
        error = request_error_from(exc, job_id, "pick")
        raise refusal(400, error.code, error.message) from None
    await dashboard.query(lambda curation: curation.set_pick(job_id, pick))
    return web.json_response((await _known_job(dashboard, job_id)).model_dump(mode="json"))


async def facets(request: web.Request) -> web.Response:
    found = await _reader(request).query(Curation.facets)
    return web.json_response(found.model_dump(mode="json"))


async def cost(request: web.Request) -> web.Response:
    """Engine seconds per day and per set, each by engine; the page shows each engine's device beside."""
    dashboard = _reader(request)
    days = await dashboard.query(Curation.cost_by_day)
    sets = await dashboard.query(Curation.cost_by_set)
    return web.json_response({"days": [c.model_dump(mode="json") for c in days],
                              "sets": [c.model_dump(mode="json") for c in sets]})


async def export_picks(request: web.Request) -> web.StreamResponse:
    """The variants picked in a set, as a zip: each variant PNG (its recipe inside) and picks.json
    saying which job, variant and seed each is, with its note."""
    dashboard, set_id = _reader(request), set_id_of(request)
    members = await dashboard.query(lambda curation: curation.set_jobs(set_id))
    if not members:
        raise refusal(404, ErrorCode.BAD_SET, f"No set '{set_id}' in the history.")
    store = dashboard.manager.store
    # An anonymous temporary file: a set's PNGs may be far larger than memory should hold, and it is
    # gone once closed, whatever happens to the download.
    with tempfile.TemporaryFile() as archive:
        await asyncio.to_thread(_write_picks_zip, archive, members, store.find)
        response = web.StreamResponse(headers={
            "Content-Type": "application/zip", "Content-Disposition": f'attachment; filename="{set_id}-picks.zip"'})
        response.content_length = archive.seek(0, 2)
        archive.seek(0)
        await response.prepare(request)
        while chunk := await asyncio.to_thread(archive.read, _ZIP_CHUNK):
            await response.write(chunk)
        await response.write_eof()
        return response


def _write_picks_zip(archive: IO[bytes], members: list[GalleryJob], find: Callable[[str, str], Path | None]) -> None:
    manifest = []
    with zipfile.ZipFile(archive, "w") as zipped:
        for member in members:
            for pick in member.picks:
                if pick.verdict != "pick":
                    continue
                path = find(member.job_id, variant_name(pick.variant))
                entry = f"{member.job_id}-{variant_name(pick.variant)}"
                if path is not None:
                    # PNGs are compressed already: stored, not deflated again.
                    zipped.write(path, entry, compress_type=zipfile.ZIP_STORED)
                seed = member.seeds[pick.variant] if pick.variant < len(member.seeds) else None
                manifest.append({"job_id": member.job_id, "variant": pick.variant, "seed": seed,
                                 "prompt": member.prompt, "note": pick.note, "starred": pick.starred,
                                 "file": entry if path is not None else None})
        zipped.writestr("picks.json", json.dumps({"set_id": members[0].set_id, "picks": manifest}, indent=2),
                        compress_type=zipfile.ZIP_DEFLATED)


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/jobs", jobs),
    ("GET", "/facets", facets),
    ("GET", "/cost", cost),
    ("GET", "/jobs/{job_id}", job),
    ("GET", "/jobs/{job_id}/recipe", recipe),
    ("GET", "/jobs/{job_id}/files/{name}", job_file),
    ("POST", "/jobs/{job_id}/picks/{variant}", set_pick),
    ("GET", "/sets/{set_id}/picks.zip", export_picks),
]

"""Re-run a recipe from the page: a finished job again, with a changed prompt, seed, style or strength,
as a new job.

The inputs come from the job's own result file, as `underpaint replay` takes them (the
PSD holds the source, the selection and the guides; the first variant PNG holds the
same), and the new job goes through the same intake checks as every front door's.
It runs under the page's client name, in no set: a re-run is a new recipe.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import numpy as np
from aiohttp import web
from pydantic import ValidationError

from underpaint.core import ErrorCode, Params, RequestError, Size
from underpaint.core.errors import request_error_from
from underpaint.jobs.intake import JobRequest
from underpaint.results.replay import Replay, load_replay
from underpaint.results.store import PSD_NAME, variant_name
from underpaint.server.dashboard_auth import json_body, refusal
from underpaint.server.dashboard_context import DASHBOARD_CLIENT, DASHBOARD_SOURCE, dashboard_of, job_id_of
from underpaint.styles import StyleBook

CHANGEABLE = ("prompt", "seed", "style", "strength")
Handler = Callable[[web.Request], Coroutine[Any, Any, web.StreamResponse]]


def changed_params(params: Params, changes: Mapping[str, Any], styles: StyleBook | None) -> Params:
    """The recipe's params with `changes`. A new style takes over every field it sets (the rest stay the
    recipe's), since a recipe holds its old style's values resolved; `style` null keeps the values as
    they are. Raises RequestError: the field's own code for a bad value, unknown_style."""
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise RequestError(ErrorCode.INVALID_MESSAGE, f"A re-run changes only {', '.join(CHANGEABLE)}; not "
                                                      f"{', '.join(unknown)}.")
    values = params.model_dump(mode="json", exclude={"style"})
    style = changes.get("style")
    if style:
        if styles is None:
            raise RequestError(ErrorCode.UNKNOWN_STYLE, f"No style named '{style}': this agent keeps no styles.")
        owned = set(styles.get(str(style)).job_fields()) - {"prompt"}
        values = {name: value for name, value in values.items() if name not in owned} | {"style": style}
    values |= {name: changes[name] for name in ("prompt", "seed", "strength") if name in changes}
    try:
        return Params.model_validate(values)
    except ValidationError as exc:
        raise request_error_from(exc, what="re-run") from None


def _size(array: np.ndarray | None) -> Size | None:
    return None if array is None else Size(width=array.shape[1], height=array.shape[0])


def rerun_request(job_id: str, replay: Replay, params: Params) -> tuple[JobRequest, tuple[np.ndarray | None, ...],
                                                                        tuple[np.ndarray, ...]]:
    """The new job's request and the guide images it is sent: the replay's, for the controls and
    references the params still hold (a new style may have taken them over)."""
    controls = replay.guides.controls if params.controls else ()
    references = replay.guides.references if params.references else ()
    request = JobRequest(job_id, replay.mode, params, replay.document, replay.region, _size(replay.image),
                         _size(replay.mask), tuple(_size(array) for array in controls),
                         tuple(Size(width=a.shape[1], height=a.shape[0]) for a in references))
    return request, controls, references


async def rerun(request: web.Request) -> web.Response:
    dashboard = dashboard_of(request)
    changes = await json_body(request, dashboard.settings)
    job_id = job_id_of(request)
    manager = dashboard.manager
    await manager.wait_for_files(job_id)
    path = manager.store.find(job_id, PSD_NAME) or manager.store.find(job_id, variant_name(0))
    if path is None:
        raise refusal(404, ErrorCode.UNKNOWN_JOB, f"Job '{job_id}' has no result files to re-run from (unfinished, "
                                                  "failed or cleaned up).")
    try:
        replay = await asyncio.to_thread(load_replay, path)
    except ValueError as exc:
        raise refusal(422, ErrorCode.INVALID_MESSAGE, str(exc)) from None
    new_id = f"rerun-{uuid.uuid4().hex[:12]}"
    try:
        params = changed_params(replay.params, changes, manager.intake.styles)
        job, controls, references = rerun_request(new_id, replay, params)
        engine = manager.intake.check(job)
        spec = manager.intake.spec(job, replay.image, replay.mask, DASHBOARD_SOURCE, DASHBOARD_CLIENT, (), controls,
                                   references)
        sent = {"rerun_of": job_id, "changes": changes, "params": params.model_dump(mode="json")}
        digest = hashlib.sha256(json.dumps(sent, sort_keys=True).encode()).hexdigest()
        manager.submit(spec, engine, DASHBOARD_CLIENT, digest, sent)
    except RequestError as exc:
        raise refusal(409 if exc.code in (ErrorCode.QUEUE_FULL, ErrorCode.CLIENT_QUEUE_FULL) else 400,
                      exc.code, exc.message) from None
    return web.json_response({"job_id": new_id, "rerun_of": job_id})


ROUTES: list[tuple[str, str, Handler]] = [("POST", "/jobs/{job_id}/rerun", rerun)]

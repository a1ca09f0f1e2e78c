"""One job from the command line: submit through the websocket, follow it, fetch the files."""

from __future__ import annotations

import re
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from underpaint.client.agent_client import AgentClient
from underpaint.core import Mode, Params, Rect, Size
from underpaint.results.credentials import SIDECAR_SUFFIX
from underpaint.wire.messages import WEBSOCKET_PATH, Accepted, Progress, Result


def variant_path(out: Path, index: int) -> Path:
    return out.with_name(f"{out.stem}.variant-{index + 1}.png")


@dataclass(frozen=True, eq=False)
class ClientJob:
    """One request as the CLI sends it: geometry, parameters and the pixels (RGBA8 image, Gray8 mask,
    an RGBA8 image per control of `params.controls` (None for one derived from the source) and per
    reference of `params.references`); jobs with the same `set_id` form one consistent set."""

    mode: Mode
    document: Size
    region: Rect
    params: Params
    image: np.ndarray | None = None
    mask: np.ndarray | None = None
    control_images: tuple[np.ndarray | None, ...] = ()
    reference_images: tuple[np.ndarray, ...] = ()
    set_id: str | None = None


def _contiguous(array: np.ndarray | None) -> np.ndarray | None:
    return None if array is None else np.ascontiguousarray(array)


async def run_client_job(ws_url: str, token: str, request: ClientJob, out: Path,
                         on_progress: Callable[[str, float], None]) -> dict[str, Any]:
    """Submit `request`, follow it, and download its PSD to `out` and its variant PNGs beside it."""
    params = request.params
    job_id = f"cli-{uuid.uuid4().hex[:12]}"

    def on_event(message: Any) -> None:
        if isinstance(message, Accepted):
            on_progress(f"queued (position {message.queue_position})", 0.0)
        elif isinstance(message, Progress):
            on_progress(f"variant {message.variant + 1}/{params.variants}", message.fraction)
        elif isinstance(message, Result):
            on_progress(f"variant {message.variant + 1} ready", (message.variant + 1) / params.variants)

    async with await AgentClient.connect(ws_url, token) as client:
        await client.submit(job_id, request.mode, request.document, request.region, params,
                            _contiguous(request.image), _contiguous(request.mask),
                            control_images=[_contiguous(array) for array in request.control_images],
                            reference_images=[np.ascontiguousarray(array) for array in request.reference_images],
                            set_id=request.set_id)
        outcome = await client.follow(job_id, on_event)
    summary: dict[str, Any] = {"job_id": job_id, "state": outcome.state}
    if outcome.done is None or outcome.done.downloads is None:
        if outcome.error is not None:
            summary |= {"code": outcome.error.code, "message": outcome.error.message}
        return summary
    base = re.sub(r"^ws", "http", ws_url).removesuffix(WEBSOCKET_PATH)  # wss:// -> https://
    out.parent.mkdir(parents=True, exist_ok=True)
    variants = [variant_path(out, i) for i in range(len(outcome.done.downloads.variants))]
    # A TLS context made now, not aiohttp's own made at import, so a CA file the CLI was given counts.
    tls = aiohttp.TCPConnector(ssl=ssl.create_default_context())
    async with aiohttp.ClientSession(base, headers={"Authorization": f"Bearer {token}"}, connector=tls) as http:
        files = [(outcome.done.downloads.psd, out), *zip(outcome.done.downloads.variants, variants, strict=True)]
        if outcome.done.downloads.manifest is not None:  # the PSD's C2PA manifest, beside it as readers look for it
            files.append((outcome.done.downloads.manifest, out.with_suffix(SIDECAR_SUFFIX)))
        for url, path in files:
            async with http.get(url) as response:
                response.raise_for_status()
                path.write_bytes(await response.read())
    on_progress("done", 1.0)
    return summary | {
        "psd": str(out), "variants": [str(p) for p in variants],
        "seeds": outcome.done.recipe.seeds, "warnings": outcome.done.warnings,
        "recipe": outcome.done.recipe.model_dump(mode="json"),
    }

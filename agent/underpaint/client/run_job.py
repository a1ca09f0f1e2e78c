"""One job from the command line: submit through the websocket, follow it, fetch the files."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from underpaint.client.agent_client import AgentClient
from underpaint.imaging.codec import ImageLike, load_image_and_mask
from underpaint.jobs.spec import Mode, Params, Rect, Size
from underpaint.wire.messages import Accepted, Progress, Result


def variant_path(out: Path, index: int) -> Path:
    return out.with_name(f"{out.stem}.variant-{index + 1}.png")


async def run_client_job(
    ws_url: str, token: str, mode: Mode, image: ImageLike, mask: ImageLike, params: Params, out: Path,
    on_progress: Callable[[str, float], None],
) -> dict[str, Any]:
    pixels, selection, _ = load_image_and_mask(image, mask)
    height, width = selection.shape
    job_id = f"cli-{uuid.uuid4().hex[:12]}"

    def on_event(message: Any) -> None:
        if isinstance(message, Accepted):
            on_progress(f"queued (position {message.queue_position})", 0.0)
        elif isinstance(message, Progress):
            on_progress(f"variant {message.variant + 1}/{params.variants}", message.fraction)
        elif isinstance(message, Result):
            on_progress(f"variant {message.variant + 1} ready", (message.variant + 1) / params.variants)

    async with await AgentClient.connect(ws_url, token) as client:
        await client.submit(job_id, mode, Size(width=width, height=height),
                            Rect(x=0, y=0, width=width, height=height), params,
                            np.ascontiguousarray(pixels), np.ascontiguousarray(selection))
        outcome = await client.follow(job_id, on_event)
    summary: dict[str, Any] = {"job_id": job_id, "state": outcome.state}
    if outcome.done is None:
        if outcome.error is not None:
            summary |= {"code": outcome.error.code, "message": outcome.error.message}
        return summary
    base = ws_url.replace("ws://", "http://", 1).removesuffix("/v1/ws")
    out.parent.mkdir(parents=True, exist_ok=True)
    variants = [variant_path(out, i) for i in range(len(outcome.done.downloads.variants))]
    async with aiohttp.ClientSession(base, headers={"Authorization": f"Bearer {token}"}) as http:
        files = [(outcome.done.downloads.psd, out), *zip(outcome.done.downloads.variants, variants, strict=True)]
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

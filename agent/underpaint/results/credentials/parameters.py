"""The Automatic1111 `parameters` text: the de facto way image browsers and model sites read how an
image was generated (a PNG tEXt chunk named `parameters`; in JPEG and WebP the EXIF UserComment).

Layout, as stable-diffusion-webui writes it:
    <prompt, with a <lora:name:weight> tag per LoRA>
    Negative prompt: <negative prompt>
    Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model hash: 0123456789, Model: name, ...
"""

from __future__ import annotations

import json

from underpaint.core import Mode
from underpaint.results.recipe import Recipe
from underpaint.version import __version__

PARAMETERS_KEY = "parameters"
EXIF_IFD = 0x8769
USER_COMMENT = 0x9286
_UNICODE_PREFIX = b"UNICODE\x00"  # EXIF's character code for UCS-2, big-endian as webui writes it.

# Underpaint's scheduler names -> the sampler (and schedule type) webui shows for the same maths.
_SAMPLERS = {
    "euler": ("Euler", None),
    "euler_a": ("Euler a", None),
    "dpmpp_2m": ("DPM++ 2M", None),
    "dpmpp_2m_karras": ("DPM++ 2M", "Karras"),
    "ddim": ("DDIM", None),
    "unipc": ("UniPC", None),
    "lcm": ("LCM", None),
}


def parameters_text(recipe: Recipe, seed: int) -> str:
    """The webui text for the variant of `recipe` made with `seed`."""
    params = recipe.params
    prompt = params.prompt.strip()
    tags = " ".join(f"<lora:{lora.name}:{_number(lora.weight)}>" for lora in params.loras)
    lines = [" ".join(part for part in (prompt, tags) if part)]
    if params.negative_prompt.strip():
        lines.append(f"Negative prompt: {params.negative_prompt.strip()}")
    sampler, schedule = _SAMPLERS.get(params.scheduler, (params.scheduler, None))
    fields: list[tuple[str, str | None]] = [
        ("Steps", str(params.steps)),
        ("Sampler", sampler),
        ("Schedule type", schedule),
        ("CFG scale", _number(params.guidance)),
        ("Seed", str(seed)),
        ("Size", f"{recipe.region.width}x{recipe.region.height}"),
        ("Model hash", recipe.model.sha256[:10] if recipe.model and recipe.model.sha256 else None),
        ("Model", recipe.model.name if recipe.model else None),
        ("Denoising strength", _number(params.strength) if recipe.mode != Mode.GENERATE else None),
        ("Lora hashes", ", ".join(f"{lora.name}: {lora.sha256[:12]}" for lora in params.loras if lora.sha256)
         or None),
        ("Version", f"Underpaint {__version__}"),
    ]
    lines.append(", ".join(f"{name}: {_quoted(value)}" for name, value in fields if value is not None))
    return "\n".join(lines)


def user_comment(text: str) -> bytes:
    """`text` as an EXIF UserComment value, encoded as webui encodes it."""
    return _UNICODE_PREFIX + text.encode("utf-16-be")


def user_comment_text(value: object) -> str | None:
    """The text of an EXIF UserComment written by `user_comment`, or None for any other value."""
    if isinstance(value, bytes) and value.startswith(_UNICODE_PREFIX):
        return value[len(_UNICODE_PREFIX):].decode("utf-16-be", "replace")
    return None


def _number(value: float) -> str:
    return f"{value:g}"


def _quoted(value: str) -> str:
    # webui's own rule: a value holding a separator is written as a JSON string.
    return json.dumps(value, ensure_ascii=False) if any(c in value for c in ",:\n") else value

"""Resolving a style into a job's params: what the job leaves unset comes from the style.

The result holds plain values with `style` cleared, so a recipe made from it
replays without the style, whatever has become of it since.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ValidationError

from underpaint.core import MODE_FIELDS, Mode, Params
from underpaint.core.errors import request_error_from
from underpaint.styles.style import PLACEHOLDER, Style, StyleReference

_REPEATED_COMMAS = re.compile(r"\s*,(?:\s*,)+")
_SPACES = re.compile(r"\s{2,}")


@dataclass(frozen=True)
class Resolved:
    """A job's params with its style resolved in, and what the style added that needs pixels.

    `references` are the style's reference images the job takes, in order, after the job's own;
    `controls` counts the style's controls it takes (each derived from the job's source, so none
    comes with an image)."""

    params: Params
    references: tuple[StyleReference, ...]
    controls: int


def fill_template(template: str, prompt: str) -> str:
    """The job's prompt where the template's placeholder is ("{prompt}, flat vector" + "a cat" ->
    "a cat, flat vector"). Without a prompt the placeholder goes with the separator it leaves behind
    ("flat vector"), so an empty brief still gets the style's words and no dangling comma."""
    if not template:
        return prompt
    if prompt.strip():
        return template.replace(PLACEHOLDER, prompt)
    bare = _REPEATED_COMMAS.sub(",", template.replace(PLACEHOLDER, ""))
    return _SPACES.sub(" ", bare).strip(" ,;")


def resolve_style(style: Style, params: Params, mode: Mode) -> Resolved:
    """`params` with each field the job did not set (pydantic's `model_fields_set`) taken from `style`,
    for the fields `mode` uses; the template wraps the job's prompt. A job that sets `references` or
    `controls` replaces the style's; a generate job has no source to derive the style's controls from,
    so it takes none. Raises RequestError when the two together make no valid job (a prompt too long)."""
    given, uses = params.model_fields_set, MODE_FIELDS[mode]
    taken = {name: value for name, value in style.job_fields().items() if name in uses and name not in given}
    if mode is Mode.GENERATE:
        taken.pop("controls", None)
    if "prompt" in uses:
        taken["prompt"] = fill_template(style.prompt, params.prompt)
    try:
        resolved = Params.model_validate(params.model_dump(exclude={"style"}) | taken)
    except ValidationError as exc:
        raise request_error_from(exc, what=f"job with the style '{style.name}'") from None
    references = style.references if "references" in taken else ()
    return Resolved(resolved, references, len(style.controls) if "controls" in taken else 0)

"""JSON Schemas of protocol v1, generated from the pydantic models in `messages`.

`python -m underpaint.wire.schema_export protocol/schemas` (what `make schemas`
runs) rewrites protocol/schemas/; tests/test_protocol_conformance.py fails when
the files on disk and `message_schemas()` drift apart. `--check` only compares.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from underpaint.results.recipe import Recipe
from underpaint.wire.messages import AGENT_MESSAGES, CLIENT_MESSAGES, PROTOCOL_VERSION, StreamId

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://underpaint.dev/protocol/v{major}/"
RECIPE_SCHEMA = "recipe.schema.json"
FRAME_HEADER_SCHEMA = "binary-frame-header.schema.json"

JsonObject = dict[str, Any]


class FrameHeader(BaseModel):
    """The JSON header of one binary frame (see `underpaint.wire.frames`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stream: StreamId = Field(description="Stream id announced by a Blob in a JSON message.")
    index: int = Field(ge=0, description="0-based chunk index; chunks are sent in order.")
    count: int = Field(ge=1, description="Number of chunks in the stream; the same in every chunk.")


_DESCRIPTIONS: dict[str, str] = {
    "hello": "Client -> agent, first message on a connection: protocol version, client name, pairing token.",
    "plan": "Client -> agent: which context rectangle to send for a selection; answered by `planned`.",
    "submit": "Client -> agent: start a job with a client-chosen, idempotent job id. Image and mask bytes "
    "follow in binary frames tagged with the announced stream ids.",
    "submit_set": "Client -> agent: one recipe over many targets, queued all or none as ordinary jobs sharing "
    "set_id. Each target's image, mask and control bytes, then the shared reference bytes, follow in binary "
    "frames.",
    "cancel": "Client -> agent: cancel one job; it stops between steps and ends with `cancelled`.",
    "resume": "Client -> agent: replay a job's events with seq > after_seq, then follow it live.",
    "list_jobs": "Client -> agent: list recent jobs (newest first); answered by `jobs`.",
    "export": "Client -> agent: a finished job's variant as delivery presets' files; answered by `exported`.",
    "train": "Client -> agent: train a LoRA (and its style) from a dataset folder in the agent's own datasets "
    "folder; a job like any other (progress with loss and eta_seconds, previews of the samples, done with "
    "`trained`).",
    "welcome": "Agent -> client, reply to a valid `hello`: agent version and capabilities (engines, "
    "models, modes, formats, limits).",
    "planned": "Agent -> client, reply to `plan`: the context rectangle to send and the working size.",
    "accepted": "Agent -> client: a job is queued (queue_position > 0) or running (0); duplicate=true when "
    "the same job id and spec were submitted before.",
    "progress": "Agent -> client: a job advanced one step.",
    "preview": "Agent -> client: a small preview image of a running variant (only when submit.previews).",
    "result": "Agent -> client: one finished variant; its pixels and mask follow in binary frames.",
    "done": "Agent -> client, terminal: every variant was sent; carries the recipe and download URLs.",
    "error": "Agent -> client: a stable code, a human sentence and whether a retry can help. With a "
    "job_id and seq it is a job's terminal event.",
    "cancelled": "Agent -> client, terminal: the job was cancelled.",
    "jobs": "Agent -> client, reply to `list_jobs`.",
    "exported": "Agent -> client, reply to `export`: one download per preset, and warnings (an enlargement).",
}


def _major() -> str:
    return PROTOCOL_VERSION.split(".", 1)[0]


def _schema_id(file_name: str) -> str:
    return BASE_ID.format(major=_major()) + file_name


def _finish(schema: JsonObject, file_name: str, title: str, description: str) -> JsonObject:
    out: JsonObject = {
        "$schema": SCHEMA_DIALECT,
        "$id": _schema_id(file_name),
        **schema,
        "title": title,
        "description": description,
    }
    return out


def _message_schema(model: type[BaseModel]) -> JsonObject:
    schema = copy.deepcopy(model.model_json_schema(mode="validation"))
    # `type` has a Python default for convenience, but on the wire it is required:
    # it is what the receiver dispatches on.
    prop = schema["properties"]["type"]
    prop.pop("default", None)
    schema["required"] = ["type", *[name for name in schema.get("required", []) if name != "type"]]
    return schema


def _strip_recipe_version_default(schema: JsonObject) -> None:
    """The recipe's `underpaint` default is the running version: not part of the contract."""
    targets = [schema]
    if "Recipe" in schema.get("$defs", {}):
        targets.append(schema["$defs"]["Recipe"])
    for target in targets:
        prop = target.get("properties", {}).get("underpaint")
        if isinstance(prop, dict) and target.get("title") == "Recipe":
            prop.pop("default", None)


def message_schemas() -> dict[str, JsonObject]:
    """File name -> JSON Schema (draft 2020-12) for every protocol document."""
    schemas: dict[str, JsonObject] = {}
    for model in (*CLIENT_MESSAGES, *AGENT_MESSAGES):
        type_name = model.model_fields["type"].default
        assert isinstance(type_name, str)
        file_name = f"{type_name}.schema.json"
        schema = _message_schema(model)
        _strip_recipe_version_default(schema)
        schemas[file_name] = _finish(schema, file_name, model.__name__, _DESCRIPTIONS[type_name])

    recipe = copy.deepcopy(Recipe.model_json_schema(mode="validation"))
    _strip_recipe_version_default(recipe)
    schemas[RECIPE_SCHEMA] = _finish(
        recipe,
        RECIPE_SCHEMA,
        "Recipe",
        "Everything needed to re-create a result: engine, model, mode, parameters, the seed of each "
        "variant, input hashes and the Underpaint version. Stored in `done`, PNG text chunks and PSDs.",
    )
    header = copy.deepcopy(FrameHeader.model_json_schema(mode="validation"))
    schemas[FRAME_HEADER_SCHEMA] = _finish(
        header,
        FRAME_HEADER_SCHEMA,
        "FrameHeader",
        "JSON header of a binary frame. Frame layout: 4-byte big-endian header length N, N bytes of "
        "UTF-8 JSON matching this schema, then the chunk's payload bytes.",
    )
    return schemas


def render(schema: JsonObject) -> str:
    """The exact text of a schema file: sorted keys, indent 2, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_dir() -> Path:
    """Where the schema files are at runtime.

    An installed wheel carries them as underpaint/wire/schemas (pyproject's
    force-include); a source checkout has them in <repo>/protocol/schemas.
    """
    packaged = Path(__file__).resolve().parent / "schemas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "protocol" / "schemas"


def drift(directory: Path) -> list[str]:
    """File names whose content differs from `message_schemas()` (missing and stale ones included)."""
    expected = {name: render(schema) for name, schema in message_schemas().items()}
    problems = []
    for name, text in sorted(expected.items()):
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            problems.append(name)
    for path in sorted(directory.glob("*.schema.json")):
        if path.name not in expected:
            problems.append(path.name)
    return problems


def write_schemas(directory: Path) -> list[Path]:
    """(Re)write every schema file and delete stale `*.schema.json` files; returns what was written."""
    directory.mkdir(parents=True, exist_ok=True)
    schemas = message_schemas()
    for path in directory.glob("*.schema.json"):
        if path.name not in schemas:
            path.unlink()
    written = []
    for name, schema in sorted(schemas.items()):
        path = directory / name
        text = render(schema)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8", newline="\n")
            written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m underpaint.wire.schema_export", description="Write protocol v1 JSON Schemas."
    )
    parser.add_argument("directory", nargs="?", type=Path, default=None, help="default: schema_dir()")
    parser.add_argument("--check", action="store_true", help="only report drift; exit 1 if any")
    args = parser.parse_args(argv)
    directory: Path = args.directory or schema_dir()
    if args.check:
        problems = drift(directory)
        for name in problems:
            print(f"{directory / name} is out of date; run `make schemas`.", file=sys.stderr)
        return 1 if problems else 0
    written = write_schemas(directory)
    print(f"{len(message_schemas())} schemas in {directory}; {len(written)} rewritten.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""protocol/ is the single source of truth: schemas, examples, PROTOCOL.md and the codec agree.

- every example validates against its schema and round-trips exactly through the pydantic codec;
- every invalid example is rejected by every schema and by both adapters;
- the schema files on disk equal what the models generate (`make schemas` rewrites them);
- every message type has an example and every error code is documented, retryable flag included.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, TypeAdapter, ValidationError

from underpaint.core import RETRYABLE, ErrorCode
from underpaint.results.recipe import Recipe
from underpaint.wire.messages import (
    AGENT_MESSAGES,
    CLIENT_MESSAGES,
    agent_message_adapter,
    client_message_adapter,
)
from underpaint.wire.schema_export import (
    FRAME_HEADER_SCHEMA,
    RECIPE_SCHEMA,
    message_schemas,
    render,
    schema_dir,
)

REPO = Path(__file__).resolve().parents[1]
PROTOCOL = REPO / "protocol"
SCHEMAS = PROTOCOL / "schemas"
EXAMPLES = PROTOCOL / "examples"
INVALID = EXAMPLES / "invalid"

CLIENT_TYPES = {str(m.model_fields["type"].default) for m in CLIENT_MESSAGES}
AGENT_TYPES = {str(m.model_fields["type"].default) for m in AGENT_MESSAGES}
MESSAGE_TYPES = CLIENT_TYPES | AGENT_TYPES
DOCUMENT_KINDS = MESSAGE_TYPES | {"recipe"}

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))
INVALID_FILES = sorted(INVALID.glob("*.json"))
EXAMPLE_NAME = re.compile(r"^(?P<kind>[a-z_]+)\.(?P<case>[a-z0-9][a-z0-9-]*)\.json$")


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _kind(path: Path) -> str:
    match = EXAMPLE_NAME.match(path.name)
    assert match, f"{path.name} is not named <type>.<case>.json"
    return match["kind"]


def _validator(file_name: str) -> Draft202012Validator:
    schema = _load(SCHEMAS / file_name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _adapter(kind: str) -> TypeAdapter[Any]:
    if kind == "recipe":
        return TypeAdapter(Recipe)
    return client_message_adapter if kind in CLIENT_TYPES else agent_message_adapter


@pytest.fixture(scope="module")
def validators() -> dict[str, Draft202012Validator]:
    return {path.name: _validator(path.name) for path in sorted(SCHEMAS.glob("*.schema.json"))}


def test_schema_files_match_models() -> None:
    expected = {name: render(schema) for name, schema in message_schemas().items()}
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in SCHEMAS.glob("*.schema.json")}
    stale = sorted(set(on_disk) - set(expected))
    missing = sorted(set(expected) - set(on_disk))
    changed = sorted(name for name in set(expected) & set(on_disk) if expected[name] != on_disk[name])
    assert not (stale or missing or changed), (
        f"protocol/schemas drifted from underpaint.wire.messages (missing {missing}, stale {stale}, "
        f"changed {changed}); run `make schemas` "
        "(python -m underpaint.wire.schema_export protocol/schemas) and review the diff."
    )


def test_schema_files_are_draft_2020_12_with_ids() -> None:
    for name, schema in message_schemas().items():
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == f"https://underpaint.dev/protocol/v1/{name}"
        assert schema["title"] and schema["description"]
    for kind in MESSAGE_TYPES:
        schema = message_schemas()[f"{kind}.schema.json"]
        assert schema["required"][0] == "type", f"{kind}: `type` must be required on the wire"
        assert schema["additionalProperties"] is False
    assert {RECIPE_SCHEMA, FRAME_HEADER_SCHEMA} <= set(message_schemas())


def test_schema_dir_finds_the_schemas() -> None:
    # A source checkout reads protocol/schemas; an installed wheel its packaged copy of them.
    found = schema_dir()
    assert sorted(p.name for p in found.glob("*.schema.json")) == sorted(message_schemas())
    assert (found / "hello.schema.json").read_bytes() == (SCHEMAS / "hello.schema.json").read_bytes()


def test_every_message_type_has_an_example() -> None:
    kinds = {_kind(path) for path in EXAMPLE_FILES}
    assert kinds <= DOCUMENT_KINDS, f"examples for unknown kinds: {sorted(kinds - DOCUMENT_KINDS)}"
    missing = sorted(DOCUMENT_KINDS - kinds)
    assert not missing, f"no example in protocol/examples for {missing}"
    for many in ("submit", "error"):
        assert sum(_kind(p) == many for p in EXAMPLE_FILES) >= 3


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_matches_schema_and_round_trips(path: Path, validators: dict[str, Draft202012Validator]) -> None:
    kind = _kind(path)
    text = path.read_text(encoding="utf-8")
    document = json.loads(text)
    if kind != "recipe":
        assert document["type"] == kind, f"{path.name} holds a `{document['type']}` message"
    errors = [e.message for e in validators[f"{kind}.schema.json"].iter_errors(document)]
    assert not errors, f"{path.name} does not match its schema: {errors}"

    model = _adapter(kind).validate_json(text)
    assert isinstance(model, BaseModel)
    assert model.model_dump(mode="json", exclude_unset=True) == document
    # What the agent actually sends (every field, defaults included) must also match the schema.
    full = model.model_dump(mode="json")
    errors = [e.message for e in validators[f"{kind}.schema.json"].iter_errors(full)]
    assert not errors, f"{path.name} dumped with defaults does not match its schema: {errors}"
    assert _adapter(kind).validate_python(full) == model


@pytest.mark.parametrize("path", INVALID_FILES, ids=lambda p: p.name)
def test_invalid_example_is_rejected(path: Path, validators: dict[str, Draft202012Validator]) -> None:
    text = path.read_text(encoding="utf-8")
    document = json.loads(text)
    accepted_by = [name for name, v in validators.items() if name != FRAME_HEADER_SCHEMA and v.is_valid(document)]
    assert not accepted_by, f"{path.name} is accepted by {accepted_by}"
    for adapter in (client_message_adapter, agent_message_adapter, TypeAdapter(Recipe)):
        with pytest.raises(ValidationError):
            adapter.validate_json(text)


def test_invalid_examples_are_explained() -> None:
    readme = (INVALID / "README.md").read_text(encoding="utf-8")
    assert len(INVALID_FILES) >= 10
    for path in INVALID_FILES:
        assert f"`{path.name}`" in readme, f"{path.name} is not explained in protocol/examples/invalid/README.md"


def test_every_error_code_is_documented_with_its_retryable_flag() -> None:
    text = (PROTOCOL / "PROTOCOL.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\|\s*`([a-z_]+)`\s*\|\s*(yes|no)\s*\|", text, flags=re.MULTILINE))
    for code in ErrorCode:
        assert code.value in rows, f"error code `{code.value}` is missing from the table in PROTOCOL.md"
        expected = "yes" if code in RETRYABLE else "no"
        assert rows[code.value] == expected, f"PROTOCOL.md says retryable={rows[code.value]} for {code.value}"
    assert set(rows) <= {code.value for code in ErrorCode}


def test_protocol_md_names_every_message_type() -> None:
    text = (PROTOCOL / "PROTOCOL.md").read_text(encoding="utf-8")
    for kind in MESSAGE_TYPES:
        assert f"`{kind}`" in text, f"message `{kind}` is not described in PROTOCOL.md"


def test_json_blocks_in_protocol_md_are_valid(validators: dict[str, Draft202012Validator]) -> None:
    text = (PROTOCOL / "PROTOCOL.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL)
    assert blocks
    for block in blocks:
        document = json.loads(block)
        kind = document.get("type", "recipe")
        errors = [e.message for e in validators[f"{kind}.schema.json"].iter_errors(document)]
        assert not errors, f"a `{kind}` example in PROTOCOL.md is invalid: {errors}"
        _adapter(kind).validate_python(document)

"""Styles: named presets a team shares by file, resolved into each job at intake, never needed by a replay."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import TOKEN, soft_ellipse, textured_rgba
from underpaint.api import Underpaint
from underpaint.cli import main
from underpaint.client.agent_client import AgentClient
from underpaint.config import Settings
from underpaint.core import ErrorCode, Mode, Params, Rect, RequestError, Size
from underpaint.core.conditioning import ControlKind, ControlRef, ReferenceRef
from underpaint.core.spec import LoraRef
from underpaint.engines.base import Engine
from underpaint.engines.classic import ClassicEngine
from underpaint.jobs.intake import Intake, JobRequest
from underpaint.results.store import ResultStore
from underpaint.server.serve import RunningAgent
from underpaint.styles import MAX_STYLE_BYTES, Style, StyleBook, StyleReference, fill_template, resolve_style
from underpaint.wire.messages import StyleInfo

SIZE = 64
IMAGE, MASK = textured_rgba(SIZE, SIZE, seed=2), soft_ellipse(SIZE, SIZE, (16, 16, 32, 28))
BRAND = Style(name="brand", description="Flat brand look", prompt="{prompt}, flat vector, brand palette",
              negative_prompt="photo", model="sd15", loras=(LoraRef(name="ink", weight=0.7),), steps=3,
              guidance=5.0, scheduler="ddim")


def reference(seed: int = 1, weight: float = 0.5) -> StyleReference:
    return StyleReference.from_image(textured_rgba(24, 32, seed=seed), weight=weight)


def request(params: Params, mode: Mode = Mode.FILL, **guides: Any) -> JobRequest:
    size = Size(width=SIZE, height=SIZE)
    return JobRequest("job-1", mode, params, size, Rect(x=0, y=0, width=SIZE, height=SIZE), size, size, **guides)


def refusal(call: Any, *args: Any) -> RequestError:
    with pytest.raises(RequestError) as caught:
        call(*args)
    return caught.value


@pytest.fixture
def book(settings: Settings) -> StyleBook:
    book = StyleBook(settings.styles_dir)
    book.add(BRAND)
    return book


# Resolution


def test_the_template_puts_the_jobs_prompt_where_its_placeholder_is() -> None:
    assert resolve_style(BRAND, Params(prompt="a cat"), Mode.FILL).params.prompt == "a cat, flat vector, brand palette"


@pytest.mark.parametrize(("template", "expected"), [
    ("{prompt}, flat vector, brand palette", "flat vector, brand palette"),
    ("flat vector, {prompt}, bold", "flat vector, bold"),
    ("a poster of {prompt} at dusk", "a poster of at dusk"),
])
def test_an_empty_prompt_leaves_the_template_without_its_placeholder_or_a_dangling_comma(template: str,
                                                                                         expected: str) -> None:
    assert fill_template(template, "") == expected


def test_fields_the_job_leaves_unset_come_from_the_style() -> None:
    params = resolve_style(BRAND, Params(prompt="a cat", seed=9), Mode.FILL).params
    assert (params.model, params.loras, params.steps, params.guidance, params.scheduler, params.negative_prompt,
            params.seed) == ("sd15", BRAND.loras, 3, 5.0, "ddim", "photo", 9)


def test_fields_the_job_sets_win_over_the_style() -> None:
    params = resolve_style(BRAND, Params(steps=7, loras=(), negative_prompt="blur"), Mode.FILL).params
    assert (params.steps, params.loras, params.negative_prompt, params.guidance) == (7, (), "blur", 5.0)


def test_the_resolved_params_name_no_style() -> None:
    assert resolve_style(BRAND, Params(style="brand"), Mode.FILL).params.style is None


def test_a_remove_job_takes_the_styles_look_but_not_its_prompt() -> None:
    params = resolve_style(BRAND, Params(), Mode.REMOVE).params
    assert (params.prompt, params.model, params.steps) == ("", "sd15", 3)


def test_a_generate_job_takes_none_of_the_styles_controls_it_has_no_source_for() -> None:
    style = Style(name="edges", controls=(ControlRef(kind=ControlKind.CANNY, image="source"),))
    assert resolve_style(style, Params(), Mode.GENERATE).params.controls == ()
    assert resolve_style(style, Params(), Mode.FILL).params.controls == style.controls


def test_a_template_too_long_with_the_jobs_prompt_is_an_invalid_request() -> None:
    assert refusal(resolve_style, BRAND, Params(prompt="x" * 4000), Mode.FILL).code is ErrorCode.INVALID_MESSAGE


# At intake


def test_a_job_naming_an_unknown_style_is_refused_naming_the_known_ones(book: StyleBook) -> None:
    intake = Intake({"classic": ClassicEngine()}, "classic", 10**6, 4, book)
    error = refusal(intake.check, request(Params(style="brnad")))
    assert (error.code, error.job_id) == (ErrorCode.UNKNOWN_STYLE, "job-1") and "brand" in error.message


def test_a_styles_lora_goes_through_the_engines_checks(book: StyleBook, engine: Engine) -> None:
    intake = Intake({"diffusers": engine}, "diffusers", 10**6, 4, book)
    error = refusal(intake.check, request(Params(style="brand")))
    assert error.code is ErrorCode.UNKNOWN_LORA and "ink" in error.message


def test_the_styles_reference_images_follow_the_jobs_own_and_its_controls_take_no_image(book: StyleBook) -> None:
    style = Style(name="refs", references=(reference(1), reference(2, 0.9)),
                  controls=(ControlRef(kind=ControlKind.TILE, image="source"),))
    book.add(style)
    styled, resolved = Intake({}, "classic", 10**6, 4, book).styled(request(Params(style="refs")))
    assert resolved is not None and resolved.references == style.references
    assert styled.params.references == (ReferenceRef(weight=0.5), ReferenceRef(weight=0.9))
    assert styled.reference_images == (Size(width=32, height=24),) * 2 and styled.control_images == (None,)


def test_a_job_with_references_of_its_own_replaces_the_styles(book: StyleBook) -> None:
    book.add(Style(name="refs", references=(reference(),)))
    job = request(Params(style="refs", references=(ReferenceRef(weight=1.0),)),
                  reference_images=(Size(width=8, height=8),))
    styled, _ = Intake({}, "classic", 10**6, 4, book).styled(job)
    assert styled.params.references == job.params.references and styled.reference_images == job.reference_images


def test_the_job_spec_holds_the_resolved_params_and_the_styles_name(book: StyleBook) -> None:
    book.add(Style(name="quiet", steps=4, guidance=2.0, prompt="{prompt}, calm"))
    intake = Intake({"classic": ClassicEngine()}, "classic", 10**6, 4, book)
    spec = intake.spec(request(Params(style="quiet", prompt="sea")), IMAGE, MASK, "api", "python")
    assert (spec.style, spec.params.style, spec.params.steps, spec.params.prompt) == ("quiet", None, 4, "sea, calm")


# A replay needs no style


def test_editing_or_removing_the_style_after_a_job_changes_neither_its_recipe_nor_its_replay(
        settings: Settings, engine: Engine, tmp_path: Path) -> None:
    underpaint = Underpaint(settings, {"diffusers": engine})
    book = StyleBook(settings.styles_dir)
    book.add(Style(name="look", prompt="{prompt}, red sky", model="sd15", steps=2, guidance=6.0))
    first = underpaint.fill(IMAGE, MASK, prompt="the cat", style="look", seed=3)
    assert (first.recipe.style, first.recipe.params.style, first.recipe.params.prompt) == ("look", None,
                                                                                            "the cat, red sky")
    saved = ResultStore(tmp_path / "results", 30, 1000).save(first, "job-1")
    book.add(Style(name="look", prompt="{prompt}, the sea", model="sd15", steps=2, guidance=6.0), replace=True)
    edited = underpaint.fill(IMAGE, MASK, prompt="the cat", style="look", seed=3)
    assert not np.array_equal(edited.layers[0].pixels, first.layers[0].pixels)
    again = underpaint.replay(saved.psd)
    book.remove("look")
    after_removal = underpaint.replay(saved.psd)
    for replayed in (again, after_removal):
        assert replayed.recipe.params == first.recipe.params
        assert np.array_equal(replayed.layers[0].pixels, first.layers[0].pixels)


# The style folder


def test_a_style_changed_on_disk_is_seen_by_the_next_read(book: StyleBook) -> None:
    book.add(BRAND.model_copy(update={"steps": 30}), replace=True)
    assert book.get("brand").steps == 30


def test_a_name_never_reaches_outside_the_styles_folder(book: StyleBook) -> None:
    (book.folder.parent / "secret.json").write_text(BRAND.model_copy(update={"name": "secret"}).model_dump_json())
    assert refusal(book.get, "../secret").code is ErrorCode.UNKNOWN_STYLE


def test_a_broken_style_file_is_reported_and_hides_no_other(book: StyleBook) -> None:
    (book.folder / "torn.json").write_text('{"name": "torn", "steps": ')
    good, broken = book.styles()
    assert [style.name for style in good] == ["brand"] and "not JSON" in broken["torn"]


def test_an_import_keeps_a_style_of_the_same_name_unless_told_to_replace_it(book: StyleBook, tmp_path: Path) -> None:
    sent = tmp_path / "brand.json"
    sent.write_text(BRAND.model_copy(update={"steps": 9}).model_dump_json())
    assert refusal(book.import_file, sent).code is ErrorCode.BAD_STYLE and book.get("brand").steps == 3
    assert book.import_file(sent, replace=True).steps == 9 and book.get("brand").steps == 9


def _png_base64(image: Image.Image, fmt: str = "PNG") -> str:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode()


_SMALL = Image.new("RGB", (8, 8), "red")
BAD_FILES: dict[str, tuple[str | bytes, str]] = {
    "not JSON": (b"\x89PNG not a style", "not JSON"),
    "too large": (b" " * (MAX_STYLE_BYTES + 1), "larger than"),
    "a JSON list": ("[1, 2]", "not a style's fields"),
    "a bad name": ('{"name": "../../etc/passwd"}', "name"),
    "an unknown field": ('{"name": "x", "sampler": "euler"}', "sampler"),
    "a field out of range": ('{"name": "x", "steps": 900}', "steps"),
    "a sent control": ('{"name": "x", "controls": [{"kind": "canny", "image": "sent"}]}', "canny"),
    "a template without its placeholder": ('{"name": "x", "prompt": "flat vector"}', "{prompt}"),
    "an image that is not base64": ('{"name": "x", "references": [{"png": "%%%"}]}', "base64"),
    "an image that is not a PNG": (json.dumps({"name": "x", "references": [{"png": _png_base64(_SMALL, "JPEG")}]}),
                                   "not PNG"),
    "a truncated PNG": (json.dumps({"name": "x", "references": [{"png": _png_base64(_SMALL)[:60]}]}), "decoded"),
    "an oversized image": (json.dumps({"name": "x", "references": [{"png": _png_base64(Image.new("L", (1025, 4)))}]}),
                           "1024"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_or_hostile_style_file_is_refused_saying_what_is_wrong_and_nothing_is_kept(
        case: str, book: StyleBook, tmp_path: Path) -> None:
    content, said = BAD_FILES[case]
    sent = tmp_path / "sent.json"
    sent.write_bytes(content if isinstance(content, bytes) else content.encode())
    error = refusal(book.import_file, sent)
    assert error.code is ErrorCode.BAD_STYLE and said in error.message
    assert book.names() == ["brand"]


# Sharing by file, on the command line


def _cli(data: Path, *args: str) -> Any:
    env = {"UNDERPAINT_CONFIG_DIR": str(data / "config"), "UNDERPAINT_DATA_DIR": str(data / "data")}
    return CliRunner().invoke(main, ["styles", *args], env=env)


def test_a_style_exported_by_one_person_imports_unchanged_for_another_reference_image_included(tmp_path: Path) -> None:
    alice, bob, logo = tmp_path / "alice", tmp_path / "bob", tmp_path / "logo.png"
    Image.fromarray(textured_rgba(40, 60, seed=5)).save(logo)
    added = _cli(alice, "add", "brand-2027", "--prompt", "{prompt}, flat vector", "--model", "sd15", "--lora",
                 "ink:0.7", "--reference", f"{logo}:0.6", "--control", "canny:0.8", "--steps", "12")
    assert added.exit_code == 0, added.output
    assert _cli(alice, "export", "brand-2027", str(tmp_path / "brand-2027.json")).exit_code == 0
    imported = _cli(bob, "import", str(tmp_path / "brand-2027.json"))
    assert imported.exit_code == 0, imported.output
    mine, theirs = (StyleBook(person / "data" / "styles").get("brand-2027") for person in (alice, bob))
    assert theirs == mine and (theirs.steps, theirs.loras, theirs.controls[0].strength) == (12, mine.loras, 0.8)
    assert np.array_equal(theirs.references[0].pixels(), np.asarray(Image.open(logo).convert("RGBA")))


def test_the_command_line_lists_shows_and_removes_styles(tmp_path: Path) -> None:
    assert _cli(tmp_path, "add", "quiet", "--prompt", "{prompt}, calm", "--steps", "4").exit_code == 0
    assert json.loads(_cli(tmp_path, "list", "--json").output) == [{"name": "quiet", "description": "",
                                                                      "model": None}]
    assert json.loads(_cli(tmp_path, "show", "quiet", "--json").output)["prompt"] == "{prompt}, calm"
    assert _cli(tmp_path, "remove", "quiet").exit_code == 0
    gone = _cli(tmp_path, "show", "quiet")
    assert gone.exit_code != 0 and "No style named 'quiet'" in gone.output


def test_adding_a_style_over_an_existing_one_needs_replace(tmp_path: Path) -> None:
    assert _cli(tmp_path, "add", "quiet", "--steps", "4").exit_code == 0
    again = _cli(tmp_path, "add", "quiet", "--steps", "5")
    assert again.exit_code != 0 and "--replace" in again.output
    assert _cli(tmp_path, "add", "quiet", "--steps", "5", "--replace").exit_code == 0


# The handshake


async def test_the_welcome_lists_the_styles_with_the_fields_each_sets(settings: Settings,
                                                                      agent: RunningAgent) -> None:
    StyleBook(settings.styles_dir).add(BRAND)
    async with await AgentClient.connect(agent.ws_url, TOKEN) as client:
        assert client.welcome.capabilities.styles == [StyleInfo(name="brand", description="Flat brand look",
                                                                model="sd15", sets=BRAND.fields_set())]
        # Only the fields the style sets travel, so a panel can fill (and mark) exactly those.
        assert client.welcome.capabilities.styles[0].model_dump(mode="json")["sets"] == {
            "prompt": "{prompt}, flat vector, brand palette", "negative_prompt": "photo", "model": "sd15",
            "loras": [{"name": "ink", "weight": 0.7}], "steps": 3, "guidance": 5.0, "scheduler": "ddim"}

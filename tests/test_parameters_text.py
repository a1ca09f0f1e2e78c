"""The Automatic1111 `parameters` text, read back by an independent parser of that format (sd-parsers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sd_parsers import ParserManager
from sd_parsers.data import PromptInfo

from builders import gradient_rgba, make_result
from test_credentials_disclosure import encoded
from underpaint.core.spec import LoraRef
from underpaint.results.credentials import DISCLOSURE_ONLY, parameters_text, result_provenance, stamp
from underpaint.results.layered import LayeredResult
from underpaint.results.recipe import ModelRef
from underpaint.results.store import ResultStore


def a_result(**params: object) -> LayeredResult:
    result = make_result(prompt="a red kite over hills")
    recipe = result.recipe.model_copy(update={
        "params": result.recipe.params.model_copy(update={"negative_prompt": "blurry, text", "steps": 12,
                                                          "guidance": 6.5, "scheduler": "euler_a", **params}),
        "model": ModelRef(name="tiny-sd15", sha256="9f" * 32)})
    return LayeredResult(result.group_name, result.source, result.layers, recipe, result.selection)


def parsed(path: Path) -> PromptInfo:
    info = ParserManager().parse(str(path))
    assert info is not None, f"sd-parsers found no generation parameters in {path.name}"
    return info


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The second variant's PNG as the store writes it, and a JPEG and a WebP stamped for it."""
    folder = tmp_path_factory.mktemp("parameters")
    result = a_result()
    paths = {"png": ResultStore(folder, 14, 4096).save(result, "job").variants[1]}
    for fmt in ("jpeg", "webp"):
        paths[fmt] = folder / f"variant-2.{fmt}"
        paths[fmt].write_bytes(stamp(encoded(fmt, gradient_rgba(64, 96)), fmt, result_provenance(result, 1),
                                     DISCLOSURE_ONLY))
    return paths


FORMATS = ["png", "jpeg", "webp"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_prompt_and_negative_prompt_read_back(files: dict[str, Path], fmt: str) -> None:
    info = parsed(files[fmt])
    assert [p.value for p in info.prompts] == ["a red kite over hills"]
    assert [p.value for p in info.negative_prompts] == ["blurry, text"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_seed_steps_and_cfg_read_back_for_the_variant(files: dict[str, Path], fmt: str) -> None:
    (sampler,) = parsed(files[fmt]).samplers
    assert sampler.parameters == {"seed": "1235", "steps": "12", "cfg_scale": "6.5"}
    assert sampler.name == "Euler a"


@pytest.mark.parametrize("fmt", FORMATS)
def test_model_name_hash_and_size_read_back(files: dict[str, Path], fmt: str) -> None:
    info = parsed(files[fmt])
    assert [(m.name, m.hash) for m in info.models] == [("tiny-sd15", "9f" * 5)]
    assert info.metadata["Size"] == "96x64"


def test_loras_are_tags_in_the_prompt_and_their_hashes_a_field() -> None:
    text = parameters_text(a_result(loras=(LoraRef(name="ink", weight=0.8, sha256="ab" * 32),)).recipe, 7)
    assert text.splitlines()[0] == "a red kite over hills <lora:ink:0.8>"
    assert 'Lora hashes: "ink: abababababab"' in text


def test_a_value_holding_a_separator_is_quoted_as_webui_quotes_it() -> None:
    result = a_result()
    recipe = result.recipe.model_copy(update={"model": ModelRef(name="studio: v2", sha256=None)})
    assert 'Model: "studio: v2"' in parameters_text(recipe, 7)
    assert "Model hash" not in parameters_text(recipe, 7)


def test_the_png_keeps_the_underpaint_recipe_beside_the_parameters(files: dict[str, Path]) -> None:
    from underpaint.results.png import read_png_recipe

    assert read_png_recipe(files["png"]) == a_result().recipe

"""LoRA stacks: registered like models, checked at submit, applied to warm pipelines, pinned in recipes.

Tiny random-weight LoRAs (tests/tiny_loras.py) in kohya and diffusers format for the tiny SD 1.5 and SDXL
models, registered as `underpaint models add` does and loaded through diffusers' own `load_lora_weights`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from pydantic import ValidationError
from safetensors.torch import save_file

from conftest import make_settings, soft_ellipse, textured_rgba
from tiny_loras import TINY_LORAS, build_tiny_loras, save_kohya_lora
from underpaint.api import Underpaint
from underpaint.cli import main
from underpaint.cli_jobs import LoraType
from underpaint.core import ErrorCode, Mode, Params, Rect, RequestError, Size
from underpaint.core.spec import MAX_LORAS, LoraRef
from underpaint.engines.base import EngineError
from underpaint.engines.classic import ClassicEngine
from underpaint.engines.diffusers.architecture import Family
from underpaint.engines.diffusers.checkpoint import ModelFileError, TensorInfo
from underpaint.engines.diffusers.device import placement
from underpaint.engines.diffusers.engine import DiffusersEngine
from underpaint.engines.diffusers.lora_files import detect_lora
from underpaint.engines.diffusers.registry import ModelRegistry, make_entry
from underpaint.jobs.intake import JobRequest
from underpaint.results.layered import LayeredResult
from underpaint.results.store import ResultStore

H, W = 48, 64
IMAGE, MASK = textured_rgba(H, W, seed=4), soft_ellipse(H, W, (16, 10, 30, 26))
JOB = {"prompt": "a red cat", "steps": 2, "seed": 5}
ARCHITECTURES = {"sd15": "sd1", "sdxl": "sdxl"}


@pytest.fixture(scope="module")
def registry(registry_path: Path, tmp_path_factory: pytest.TempPathFactory) -> ModelRegistry:
    """The tiny models and the tiny LoRAs in one registry, each LoRA added as `underpaint models add` does."""
    root = tmp_path_factory.mktemp("loras")
    registry = ModelRegistry(root / "models.json")
    for name in ("sd15", "sd15-inpaint", "sdxl"):
        registry.put(ModelRegistry(registry_path).get(name))
    for name, path in build_tiny_loras(registry_path.parent, root).items():
        registry.put(make_entry(name, path))
    return registry


def new_engine(registry: ModelRegistry) -> DiffusersEngine:
    from underpaint.engines.diffusers.loader import LoadOptions

    return DiffusersEngine(registry, "sd15", LoadOptions(placement("cpu")), max_models=3)


@pytest.fixture(scope="module")
def engine(registry: ModelRegistry) -> DiffusersEngine:
    """This module's own engine, so the LoRAs it loads stay out of the session's warm models."""
    return new_engine(registry)


@pytest.fixture(scope="module")
def underpaint(engine: DiffusersEngine, tmp_path_factory: pytest.TempPathFactory) -> Underpaint:
    return Underpaint(make_settings(tmp_path_factory.mktemp("api")), {"diffusers": engine})


def fill(underpaint: Underpaint, *loras: tuple[str, float], model: str = "sd15") -> LayeredResult:
    stack = [LoraRef(name=name, weight=weight) for name, weight in loras]
    return underpaint.fill(IMAGE, MASK, model=model, loras=stack, **JOB)


def pixels(result: LayeredResult) -> np.ndarray:
    return result.layers[0].pixels


def refusal(underpaint: Underpaint, **params: object) -> RequestError:
    """What the intake answers a fill with `params`, from the request alone (before any upload)."""
    request = JobRequest("j", Mode.FILL, Params.model_validate(JOB | params), Size(width=W, height=H),
                         Rect(x=0, y=0, width=W, height=H), Size(width=W, height=H), Size(width=W, height=H))
    with pytest.raises(RequestError) as caught:
        underpaint.intake.check(request)
    assert caught.value.job_id == "j"
    return caught.value


def test_a_lora_changes_the_output(underpaint: Underpaint) -> None:
    assert not np.array_equal(pixels(fill(underpaint, ("ink", 1.0))), pixels(fill(underpaint)))


def test_weight_zero_gives_exactly_the_job_without_it(underpaint: Underpaint) -> None:
    assert np.array_equal(pixels(fill(underpaint, ("ink", 0.0))), pixels(fill(underpaint)))


@pytest.mark.parametrize("name", list(TINY_LORAS))
def test_kohya_and_diffusers_formats_both_load_and_apply(underpaint: Underpaint, name: str) -> None:
    model = TINY_LORAS[name][0]
    assert not np.array_equal(pixels(fill(underpaint, (name, 0.8), model=model)), pixels(fill(underpaint, model=model)))


def test_switching_stacks_between_jobs_gives_each_stack_its_own_pixels(underpaint: Underpaint) -> None:
    first = pixels(fill(underpaint, ("ink", 1.0), ("wash", -0.5)))
    other = pixels(fill(underpaint, ("wash", 1.0)))
    again = pixels(fill(underpaint, ("ink", 1.0), ("wash", -0.5)))
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_the_job_after_a_lora_job_equals_the_same_job_before_any_lora(registry: ModelRegistry, tmp_path: Path) -> None:
    fresh = Underpaint(make_settings(tmp_path), {"diffusers": new_engine(registry)})
    before = pixels(fill(fresh))
    fill(fresh, ("ink", 1.0), ("wash", 0.7))
    assert np.array_equal(pixels(fill(fresh)), before)


def test_the_recipe_pins_each_loras_name_weight_and_content_hash(underpaint: Underpaint,
                                                                  registry: ModelRegistry) -> None:
    recipe = fill(underpaint, ("ink", 0.6), ("wash", -1.0)).recipe
    assert recipe.params.loras == (LoraRef(name="ink", weight=0.6, sha256=registry.get("ink").sha256),
                                   LoraRef(name="wash", weight=-1.0, sha256=registry.get("wash").sha256))


def test_a_lora_stack_replays_bit_identically_from_the_psd_alone(underpaint: Underpaint, tmp_path: Path) -> None:
    first = fill(underpaint, ("ink", 0.9), ("wash", 0.4))
    saved = ResultStore(tmp_path / "results", 30, 1000).save(first, "job-1")
    assert np.array_equal(pixels(underpaint.replay(saved.psd)), pixels(first))


def test_a_replay_refuses_a_lora_whose_file_changed_since(registry: ModelRegistry, tmp_path: Path) -> None:
    mine = ModelRegistry(tmp_path / "models.json")
    for name in ("sd15", "ink", "wash"):
        mine.put(registry.get(name))
    underpaint = Underpaint(make_settings(tmp_path), {"diffusers": new_engine(mine)})
    saved = ResultStore(tmp_path / "results", 30, 1000).save(fill(underpaint, ("ink", 1.0)), "job-1")
    mine.put(make_entry("ink", registry.get("wash").location))  # `models add ink OTHER_FILE`
    with pytest.raises(RequestError) as caught:
        underpaint.replay(saved.psd)
    assert caught.value.code is ErrorCode.LORA_CHANGED and "'ink'" in caught.value.message


def test_a_lora_for_another_architecture_is_refused_at_submit_naming_both(underpaint: Underpaint) -> None:
    refused = refusal(underpaint, model="sd15", loras=[{"name": "xl-ink"}])
    assert refused.code is ErrorCode.INCOMPATIBLE_LORA and not refused.retryable
    assert all(word in refused.message for word in ("'xl-ink'", "sdxl", "'sd15'", "sd1"))


def test_an_unknown_lora_is_refused_at_submit_with_its_code(underpaint: Underpaint) -> None:
    refused = refusal(underpaint, loras=[{"name": "watercolour"}])
    assert refused.code is ErrorCode.UNKNOWN_LORA and "'watercolour'" in refused.message
    assert "ink" in refused.message, "lists the LoRAs there are"


def test_a_lora_is_not_a_model(underpaint: Underpaint) -> None:
    assert refusal(underpaint, model="ink").code is ErrorCode.UNKNOWN_MODEL


def test_the_classic_engine_refuses_any_lora_saying_it_cannot_apply_them(tmp_path: Path) -> None:
    classic = Underpaint(make_settings(tmp_path), {"classic": ClassicEngine()})
    with pytest.raises(RequestError) as caught:
        classic.fill(IMAGE, MASK, loras=[LoraRef(name="ink")])
    assert caught.value.code is ErrorCode.UNSUPPORTED_FEATURE and "cannot apply LoRAs" in caught.value.message


@pytest.mark.parametrize("loras", [
    [{"name": f"l{i}"} for i in range(MAX_LORAS + 1)],
    [{"name": "ink", "weight": 2.5}],
    [{"name": "ink"}, {"name": "ink", "weight": 0.5}],
], ids=["too-many", "weight-out-of-range", "twice"])
def test_a_stack_out_of_range_is_an_invalid_request(loras: list[dict[str, object]]) -> None:
    with pytest.raises(ValidationError, match="loras"):
        Params.model_validate({"loras": loras})


def test_capabilities_list_the_loras_made_for_each_models_architecture(engine: DiffusersEngine) -> None:
    assert engine.capabilities_for("sd15").loras == ("ink", "wash")
    assert engine.capabilities_for("sd15-inpaint").loras == ("ink", "wash"), "a family's LoRAs fit its inpainting"
    assert engine.capabilities_for("sdxl").loras == ("xl-ink", "xl-wash")
    assert set(engine.capabilities.models) == {"sd15", "sd15-inpaint", "sdxl"}, "LoRAs are not models"


def test_a_corrupt_lora_file_fails_its_job_naming_it_and_the_engine_serves_the_next(
        registry: ModelRegistry, registry_path: Path, underpaint: Underpaint, tmp_path: Path) -> None:
    broken = save_kohya_lora(registry_path.parent / "sd15", tmp_path / "broken.safetensors", seed=99)
    registry.put(make_entry("broken", broken))
    broken.write_bytes(broken.read_bytes()[:-1000])  # cut short after it was registered
    before = pixels(fill(underpaint))
    try:
        with pytest.raises(EngineError) as caught:
            fill(underpaint, ("wash", 1.0), ("broken", 1.0))
    finally:
        registry.remove("broken")
    assert caught.value.code is ErrorCode.MODEL_UNAVAILABLE
    assert "'broken'" in caught.value.message and str(broken) in caught.value.message
    assert "truncated" in caught.value.message and "again" in caught.value.message
    assert np.array_equal(pixels(fill(underpaint)), before), "nothing of the failed stack stays applied"


def test_models_add_tells_a_lora_and_its_architecture_from_the_weights(registry: ModelRegistry,
                                                                        tmp_path: Path) -> None:
    env = {"UNDERPAINT_CONFIG_DIR": str(tmp_path / "config"), "UNDERPAINT_DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()
    for name in TINY_LORAS:
        misleading = tmp_path / f"sd15-{name}.safetensors"  # the name lies for the SDXL ones
        misleading.write_bytes(registry.get(name).location.read_bytes())
        added = runner.invoke(main, ["models", "add", name, str(misleading)], env=env)
        assert added.exit_code == 0 and "LoRA" in added.output, added.output
    listed = json.loads(runner.invoke(main, ["models", "list", "--json"], env=env).output)
    assert {(m["name"], m["role"], m["architecture"], m["sha256"]) for m in listed} == {
        (name, "lora", ARCHITECTURES[model], registry.get(name).sha256) for name, (model, _) in TINY_LORAS.items()}


def _header(shapes: dict[str, tuple[int, ...]]) -> dict[str, TensorInfo]:
    return {name: TensorInfo(shape, "F16") for name, shape in shapes.items()}


@pytest.mark.parametrize(("shapes", "expected"), [
    ({"lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": (8, 768)}, Family.SD1),
    ({"lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": (8, 1024)}, Family.SD2),
    ({"unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight": (8, 2048)}, Family.SDXL),
    ({"lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": (8, 1024)}, Family.SD2),
    ({"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": (8, 320, 1, 1)}, Family.SD1),
    ({"lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": (8, 1280)}, Family.SDXL),
], ids=["sd1-context", "sd2-context", "sdxl-context", "sd2-text", "sd1-conv-projection", "sdxl-second-text"])
def test_real_sized_loras_of_each_family_are_told_apart(shapes: dict[str, tuple[int, ...]], expected: Family) -> None:
    assert detect_lora(_header(shapes), Path("x.safetensors")) is expected


def test_a_lycoris_file_is_refused_saying_what_it_is(tmp_path: Path) -> None:
    import torch

    path = tmp_path / "loha.safetensors"
    save_file({"lora_unet_mid_block_attentions_0_proj_in.hada_w1_a": torch.zeros(4, 8)}, str(path))
    with pytest.raises(ModelFileError, match="LyCORIS"):
        make_entry("loha", path)


def test_the_command_line_reads_a_lora_as_name_and_optional_weight() -> None:
    assert LoraType().convert("ink:0.5", None, None) == LoraRef(name="ink", weight=0.5)
    assert LoraType().convert("ink", None, None) == LoraRef(name="ink", weight=1.0)

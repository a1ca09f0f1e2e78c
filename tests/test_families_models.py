"""FLUX.1 and SD 3.5 models: families read from the weights and configs, the places users keep them, their
LoRAs, what they refuse, and the memory options, with the tiny models (tests/tiny_flux.py, tests/tiny_sd3.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

from conftest import soft_ellipse, textured_rgba
from tiny_flux import save_transformer_file, save_transformer_lora
from underpaint.cli import main
from underpaint.core import ErrorCode, Mode, Params, RequestError
from underpaint.core.conditioning import ControlKind, ControlRef, ReferenceRef
from underpaint.core.spec import LoraRef
from underpaint.engines.base import CancelToken, WorkItem
from underpaint.engines.diffusers import memory
from underpaint.engines.diffusers.architecture import Family, detect
from underpaint.engines.diffusers.checkpoint import ModelFileError, TensorInfo
from underpaint.engines.diffusers.device import Placement, for_transformers, placement
from underpaint.engines.diffusers.engine import DiffusersEngine
from underpaint.engines.diffusers.loader import LoadOptions
from underpaint.engines.diffusers.lora_files import detect_lora
from underpaint.engines.diffusers.registry import ModelRegistry, make_entry

FAMILIES = ("flux-dev", "flux-schnell", "flux-fill", "flux-kontext", "sd3")
IMAGE, MASK = textured_rgba(64, 64, seed=2)[..., :3], soft_ellipse(64, 64, (16, 16, 32, 32))


def work(model: str, mode: Mode = Mode.GENERATE, **params: object) -> WorkItem:
    job = Params.model_validate({"prompt": "a red cat", "model": model, "steps": 2, "seed": 6} | params)
    image = None if mode is Mode.GENERATE else IMAGE
    return WorkItem(mode=mode, width=64, height=64, params=job, seeds=job.seeds(), image=image, mask=MASK)


def run(engine: DiffusersEngine, item: WorkItem) -> np.ndarray:
    return next(iter(engine.run(item, lambda *args: None, CancelToken())))


def configs_only(source: Path, target: Path) -> Path:
    """`source`'s configs without its weights: all that detection reads."""
    for path in source.rglob("*.json"):
        (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / path.relative_to(source))
    return target


def test_each_family_is_read_from_its_configs(family_registry_path: Path) -> None:
    root = family_registry_path.parent
    assert {name: detect(root / name).name for name in FAMILIES} == {name: name for name in FAMILIES}


def test_only_the_pipeline_class_tells_kontext_from_dev(family_registry_path: Path, tmp_path: Path) -> None:
    folder = configs_only(family_registry_path.parent / "flux-kontext", tmp_path / "misleading-flux-kontext")
    index = json.loads((folder / "model_index.json").read_text())
    (folder / "model_index.json").write_text(json.dumps(index | {"_class_name": "FluxPipeline"}))
    assert detect(folder).family is Family.FLUX_DEV


def test_a_lone_flux_transformer_file_is_refused_saying_what_to_point_at(family_registry_path: Path,
                                                                         tmp_path: Path) -> None:
    lone = save_transformer_file(family_registry_path.parent / "flux-dev", tmp_path / "flux1-dev.safetensors")
    with pytest.raises(ModelFileError, match="transformer alone") as refused:
        make_entry("lone", lone)
    assert "diffusers folder" in str(refused.value) and "models pull" in str(refused.value)


def test_an_sd35_single_file_is_refused_saying_what_to_point_at(tmp_path: Path) -> None:
    path = tmp_path / "sd3.5_large.safetensors"
    save_file({"model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight": torch.zeros(6, 2)}, str(path))
    with pytest.raises(ModelFileError, match=r"Stable Diffusion 3\.5 single file") as refused:
        make_entry("sd35", path)
    assert "diffusers folder" in str(refused.value)


def test_a_corrupt_transformer_config_is_named(family_registry_path: Path, tmp_path: Path) -> None:
    folder = configs_only(family_registry_path.parent / "flux-fill", tmp_path / "fill")
    (folder / "transformer" / "config.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="corrupt") as refused:
        detect(folder)
    assert str(folder / "transformer" / "config.json") in str(refused.value)


def test_a_hugging_face_cache_folder_registers_its_snapshot(family_registry_path: Path, tmp_path: Path) -> None:
    repo = tmp_path / "hub" / "models--black-forest-labs--FLUX.1-schnell"
    snapshot = repo / "snapshots" / "0123abcd"
    shutil.copytree(family_registry_path.parent / "flux-schnell", snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    entry = make_entry("schnell", repo)
    assert (entry.architecture, entry.path) == ("flux-schnell", str(snapshot.resolve()))


def test_models_list_shows_family_size_on_disk_and_memory_at_the_dtype_it_runs_in(
        family_registry_path: Path, tmp_path: Path) -> None:
    env = {"UNDERPAINT_CONFIG_DIR": str(tmp_path / "config"), "UNDERPAINT_DATA_DIR": str(tmp_path / "data"),
           "UNDERPAINT_DEVICE": "cpu"}
    runner = CliRunner()
    added = runner.invoke(main, ["models", "add", "mine", str(family_registry_path.parent / "flux-kontext")], env=env)
    assert added.exit_code == 0 and "flux-kontext" in added.output, added.output
    listed = {dtype: json.loads(runner.invoke(main, ["models", "list", "--json"],
                                              env=env | {"UNDERPAINT_DTYPE": dtype}).output)[0]
              for dtype in ("fp32", "bf16")}
    assert listed["fp32"]["architecture"] == "flux-kontext"
    assert listed["fp32"]["dtype"] == "float32" and listed["bf16"]["dtype"] == "bfloat16"
    assert listed["fp32"]["memory_bytes"] == 2 * listed["bf16"]["memory_bytes"], "every weight at half the size"
    assert 0 < listed["fp32"]["memory_bytes"] <= listed["fp32"]["disk_bytes"]
    table = runner.invoke(main, ["models", "list"], env=env | {"COLUMNS": "250"}).output
    assert "flux-kontext" in table and "MiB" in table


def test_models_list_still_lists_a_file_that_became_unreadable(family_registry_path: Path, tmp_path: Path) -> None:
    env = {"UNDERPAINT_CONFIG_DIR": str(tmp_path / "config"), "UNDERPAINT_DATA_DIR": str(tmp_path / "data"),
           "UNDERPAINT_DEVICE": "cpu"}
    lora = save_transformer_lora(family_registry_path.parent / "flux-dev", tmp_path / "ink.safetensors")
    runner = CliRunner()
    assert runner.invoke(main, ["models", "add", "ink", str(lora)], env=env).exit_code == 0
    lora.write_bytes(lora.read_bytes()[:100])
    listed = runner.invoke(main, ["models", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [(m["name"], m["disk_bytes"]) for m in json.loads(listed.output)] == [("ink", None)]
    assert "unreadable" in runner.invoke(main, ["models", "list"], env=env | {"COLUMNS": "250"}).output


@pytest.mark.parametrize(("names", "expected"), [
    ({"lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight": (16, 3072)}, Family.FLUX_DEV),
    ({"lora_unet_single_blocks_7_linear1.lora_down.weight": (16, 3072)}, Family.FLUX_DEV),
    ({"transformer.single_transformer_blocks.0.attn.to_q.lora_A.weight": (16, 3072)}, Family.FLUX_DEV),
    ({"transformer.transformer_blocks.0.attn.to_q.lora_A.weight": (16, 3072)}, Family.FLUX_DEV),
    ({"transformer.transformer_blocks.0.attn.to_q.lora_A.weight": (16, 2432)}, Family.SD3),
    ({"lora_unet_joint_blocks_0_x_block_attn_qkv.lora_down.weight": (16, 1536)}, Family.SD3),
], ids=["flux-kohya-double", "flux-kohya-single", "flux-diffusers", "flux-double-only-width",
        "sd35-large-diffusers", "sd35-kohya"])
def test_flux_and_sd3_loras_are_told_apart_from_their_keys(names: dict[str, tuple[int, ...]],
                                                          expected: Family) -> None:
    header = {name: TensorInfo(shape, "BF16") for name, shape in names.items()}
    assert detect_lora(header, Path("x.safetensors")) is expected


@pytest.fixture(scope="module")
def lora_engine(family_registry_path: Path, registry_path: Path, tmp_path_factory: pytest.TempPathFactory,
                family_engine: DiffusersEngine) -> DiffusersEngine:
    """FLUX [dev] and SD 3.5 with a LoRA for each and an SD 1.5 one registered beside them, as `underpaint models
    add` does."""
    from tiny_loras import save_kohya_lora

    root = tmp_path_factory.mktemp("transformer-loras")
    registry = ModelRegistry(root / "models.json")
    for model, lora in LORAS.items():
        registry.put(ModelRegistry(family_registry_path).get(model))
        registry.put(make_entry(lora, save_transformer_lora(family_registry_path.parent / model,
                                                            root / f"{lora}.safetensors", seed=3)))
    registry.put(make_entry("sd-ink", save_kohya_lora(registry_path.parent / "sd15", root / "sd-ink.safetensors")))
    engine = DiffusersEngine(registry, "flux-dev", family_engine.options)
    engine.cache = family_engine.cache  # the warm models
    return engine


LORAS = {"flux-dev": "flux-ink", "sd3": "sd3-ink"}


@pytest.mark.parametrize(("model", "lora"), LORAS.items())
def test_a_transformer_lora_is_registered_for_its_family_and_changes_the_output(
        lora_engine: DiffusersEngine, model: str, lora: str) -> None:
    assert lora_engine.registry.get(lora).architecture == model
    assert lora_engine.capabilities_for(model).loras == (lora,)
    plain = run(lora_engine, work(model))
    styled = run(lora_engine, work(model, loras=[{"name": lora, "weight": 1.0}]))
    assert not np.array_equal(plain, styled)
    assert np.array_equal(plain, run(lora_engine, work(model))), "switched off after its job"


def test_an_sd_lora_on_a_flux_model_is_refused_naming_both(lora_engine: DiffusersEngine) -> None:
    with pytest.raises(RequestError) as refused:
        lora_engine.pin(Params(model="flux-dev", loras=(LoraRef(name="sd-ink"),)))
    assert refused.value.code is ErrorCode.INCOMPATIBLE_LORA
    assert "sd1" in refused.value.message and "flux-dev" in refused.value.message


@pytest.mark.parametrize(("model", "asked"), [
    ("flux-kontext", {"controls": (ControlRef(kind=ControlKind.CANNY),)}),
    ("flux-dev", {"references": (ReferenceRef(),)}), ("flux-dev", {"guidance_skip": 0.3}),
], ids=["controls", "references", "guidance_skip"])
def test_what_diffusers_cannot_run_on_flux_is_refused_at_submit_with_a_sentence(
        family_engine: DiffusersEngine, model: str, asked: dict[str, object]) -> None:
    with pytest.raises(RequestError) as refused:
        family_engine.pin(Params.model_validate({"model": model} | asked))
    assert refused.value.code is ErrorCode.UNSUPPORTED_FEATURE
    assert model in refused.value.message and "SD 1.x" in refused.value.message


def test_an_edit_that_may_go_part_of_the_way_runs_that_part_of_the_steps(family_engine: DiffusersEngine) -> None:
    steps: list[int] = []
    partial = next(iter(family_engine.run(work("flux-kontext", Mode.EDIT, strength=0.5, steps=4),
                                          lambda variant, step, total, preview=None: steps.append(total),
                                          CancelToken())))
    assert set(steps) == {2}, "from the source noised half way: half of the 4 steps"
    assert not np.array_equal(partial, run(family_engine, work("flux-kontext", Mode.EDIT, steps=2)))


def test_dropping_t5_after_encoding_frees_it_and_gives_the_same_pixels(family_engine: DiffusersEngine) -> None:
    options = LoadOptions(placement("cpu"), drop_text_encoders=True)
    dropping = DiffusersEngine(family_engine.registry, "flux-schnell", options, max_models=1)
    first = run(dropping, work("flux-schnell"))
    t5 = dropping.cache.get(dropping.entry("flux-schnell")).base.text_encoder_2
    assert memory.is_dropped(t5), "T5 is freed after the prompt is encoded"
    second = run(dropping, work("flux-schnell"))  # read back from disk for this job's prompt
    assert np.array_equal(first, second)
    assert np.array_equal(first, run(family_engine, work("flux-schnell"))), "the same as keeping T5"


def test_quantised_weights_without_their_library_are_refused_saying_what_to_install() -> None:
    with pytest.raises(ValueError, match="bitsandbytes"):
        LoadOptions(placement("cpu"), quantize="nf4")


def test_previews_of_a_flux_job_are_its_packed_latents_at_an_eighth_of_the_size(
        family_engine: DiffusersEngine) -> None:
    previews: list[np.ndarray] = []

    def progress(variant: int, step: int, steps: int, preview: np.ndarray | None = None) -> None:
        if preview is not None:
            previews.append(preview)

    list(family_engine.run(work("flux-schnell", steps=5), progress, CancelToken()))
    assert [preview.shape for preview in previews] == [(8, 8, 3)], "one at step 4 of 5"
    assert previews[0].std() > 0


def test_flux_and_sd3_run_in_bf16_where_a_gpu_was_picked_fp16_and_has_bf16() -> None:
    gpu = Placement(torch.device("cuda"), torch.float16, "GPU")
    assert for_transformers(gpu, gpu_bf16=True).dtype == torch.bfloat16
    assert for_transformers(gpu, gpu_bf16=False) == gpu, "fp16 where the GPU has no bf16"
    asked = Placement(torch.device("cuda"), torch.float16, "asked")
    assert for_transformers(asked, gpu_bf16=True) == asked, "a dtype the user set is kept"

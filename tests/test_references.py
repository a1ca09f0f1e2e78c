"""Reference images (IP-Adapter): registered like models, checked at pin, run in the warm model, each at its weight.

Tiny random-weight IP-Adapters with their image encoders (tests/tiny_ip_adapter.py), laid out as h94/IP-Adapter
ships them, registered as `underpaint models add` does and loaded through diffusers' own `load_ip_adapter`;
jobs go through the diffusers engine as the agent hands them over (pinned params, a WorkItem at working size).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import soft_ellipse, textured_rgba
from tiny_ip_adapter import ENCODERS, TINY_IP_ADAPTERS, build_tiny_ip_adapters, save_ip_adapter
from tiny_loras import save_kohya_lora
from underpaint.cli import main
from underpaint.core import ErrorCode, Mode, Params, RequestError
from underpaint.core.spec import LoraRef
from underpaint.engines.base import CancelToken, EngineError, WorkItem
from underpaint.engines.diffusers.architecture import Family
from underpaint.engines.diffusers.checkpoint import ModelFileError, TensorInfo
from underpaint.engines.diffusers.device import placement
from underpaint.engines.diffusers.engine import DiffusersEngine
from underpaint.engines.diffusers.ip_adapter_files import IpAdapterKind, detect_ip_adapter
from underpaint.engines.diffusers.loader import LoadOptions
from underpaint.engines.diffusers.registry import ModelRegistry, RegistryError, make_entry

H, W = 48, 64
IMAGE, MASK = textured_rgba(H, W, seed=4)[..., :3], soft_ellipse(H, W, (16, 10, 30, 26))
PORTRAIT, LANDSCAPE = textured_rgba(90, 30, seed=9)[..., :3], textured_rgba(40, 70, seed=2)[..., :3]
"""Reference images come at any size."""
ARCHITECTURES = {"sd15": "sd1", "sdxl": "sdxl"}


@pytest.fixture(scope="module")
def adapters(registry_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_tiny_ip_adapters(registry_path.parent, tmp_path_factory.mktemp("ip-adapters"))


@pytest.fixture(scope="module")
def registry(registry_path: Path, adapters: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
             ) -> ModelRegistry:
    """The tiny models, IP-Adapters and a LoRA in one registry, each added by its file as `models add` does."""
    registry = ModelRegistry(tmp_path_factory.mktemp("references") / "models.json")
    for name in ("sd15", "sd15-inpaint", "sd2", "sdxl"):
        registry.put(ModelRegistry(registry_path).get(name))
    for name, path in adapters.items():
        registry.put(make_entry(name, path))
    ink = save_kohya_lora(registry_path.parent / "sd15", registry.path.parent / "ink.safetensors")
    registry.put(make_entry("ink", ink))
    return registry


def new_engine(registry: ModelRegistry) -> DiffusersEngine:
    return DiffusersEngine(registry, "sd15", LoadOptions(placement("cpu")), max_models=3)


@pytest.fixture(scope="module")
def engine(registry: ModelRegistry) -> DiffusersEngine:
    """This module's own engine, so the adapters it loads stay out of the session's warm models."""
    return new_engine(registry)


def ref(weight: float = 0.8, **fields: object) -> dict[str, object]:
    return {"weight": weight, **fields}


def run(engine: DiffusersEngine, *references: dict[str, object], images: tuple[np.ndarray, ...] | None = None,
        model: str = "sd15", mode: Mode = Mode.FILL, loras: tuple[LoraRef, ...] = ()) -> np.ndarray:
    """One variant of a 2-step job with `references` (each with its image: PORTRAIT unless `images` says)."""
    params = engine.pin(Params(model=model, prompt="a red cat", steps=2, seed=5, references=references, loras=loras))
    work = WorkItem(mode, W, H, params, [5], image=None if mode is Mode.GENERATE else IMAGE,
                    mask=MASK if mode is Mode.FILL else None,
                    reference_images=images if images is not None else (PORTRAIT,) * len(references))
    [image] = list(engine.run(work, lambda *_: None, CancelToken()))
    return image


def refused(engine: DiffusersEngine, *references: dict[str, object], model: str = "sd15") -> RequestError:
    with pytest.raises(RequestError) as caught:
        engine.pin(Params(model=model, references=references))
    return caught.value


# registering


def test_models_add_tells_an_ip_adapter_and_its_family_from_the_weights(adapters: dict[str, Path],
                                                                        registry: ModelRegistry,
                                                                        tmp_path: Path) -> None:
    env = {"UNDERPAINT_CONFIG_DIR": str(tmp_path / "config"), "UNDERPAINT_DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()
    for name, path in adapters.items():
        misleading = tmp_path / f"sd15-{name}.safetensors"  # the name lies for the SDXL one
        shutil.copy(path, misleading)
        added = runner.invoke(main, ["models", "add", name, str(misleading), "--image-encoder",
                                     str(path.parent / "image_encoder")], env=env)
        assert added.exit_code == 0 and "IP-Adapter" in added.output, added.output
    listed = json.loads(runner.invoke(main, ["models", "list", "--json"], env=env).output)
    assert {(m["name"], m["role"], m["architecture"], m["sha256"]) for m in listed} == {
        (name, "ip_adapter", ARCHITECTURES[model], registry.get(name).sha256)
        for name, (model, *_) in TINY_IP_ADAPTERS.items()}


def test_the_image_encoder_beside_the_adapter_is_found_without_being_named(registry: ModelRegistry) -> None:
    entry = registry.get("ip-sdxl")
    assert Path(entry.image_encoder or "") == entry.location.parent / "image_encoder"


def test_a_folder_holding_one_adapter_registers_as_that_adapter(adapters: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "ip-adapter-sdxl"
    shutil.copytree(adapters["ip-sdxl"].parent, folder)
    entry = make_entry("xl", folder)
    assert (entry.role, entry.architecture, entry.location) == ("ip_adapter", "sdxl", folder / adapters["ip-sdxl"].name)


def test_a_folder_holding_several_adapters_is_refused_naming_them(adapters: dict[str, Path]) -> None:
    with pytest.raises(ModelFileError, match=r"several IP-Adapters.*ip-adapter-plus_sd15.*ip-adapter_sd15"):
        make_entry("both", adapters["ip-sd15"].parent)


def test_an_adapter_without_its_image_encoder_is_refused_naming_the_option(adapters: dict[str, Path],
                                                                          tmp_path: Path) -> None:
    alone = tmp_path / "ip-adapter_sd15.safetensors"
    shutil.copy(adapters["ip-sd15"], alone)
    with pytest.raises(ModelFileError, match=r"image encoder .* is missing.*--image-encoder"):
        make_entry("alone", alone)


def test_an_image_encoder_of_another_width_is_refused(adapters: dict[str, Path]) -> None:
    with pytest.raises(ModelFileError, match=r"features 24 wide.*reads 16"):
        make_entry("mismatched", adapters["ip-sd15"], image_encoder=adapters["ip-sdxl"].parent / "image_encoder")


def test_an_image_encoder_is_only_for_ip_adapters(registry: ModelRegistry, adapters: dict[str, Path]) -> None:
    with pytest.raises(RegistryError, match="--image-encoder is for IP-Adapters"):
        make_entry("model", registry.get("sd15").location, image_encoder=adapters["ip-sd15"].parent / "image_encoder")


def _adapter_header(width: int, layers: int, projection: dict[str, tuple[int, ...]]) -> dict[str, TensorInfo]:
    keys = {f"ip_adapter.{2 * i + 1}.to_k_ip.weight": (640, width) for i in range(layers)}
    return {name: TensorInfo(shape, "F16") for name, shape in (keys | projection).items()}


@pytest.mark.parametrize(("header", "expected"), [
    (_adapter_header(768, 16, {"image_proj.proj.weight": (3072, 1024), "image_proj.norm.weight": (768,)}),
     IpAdapterKind(Family.SD1, plus=False, image_width=1024)),
    (_adapter_header(768, 16, {"image_proj.latents": (1, 16, 768), "image_proj.proj_in.weight": (768, 1280),
                               "image_proj.proj_out.weight": (768, 768)}),
     IpAdapterKind(Family.SD1, plus=True, image_width=1280)),
    (_adapter_header(2048, 70, {"image_proj.proj.weight": (8192, 1280), "image_proj.norm.weight": (2048,)}),
     IpAdapterKind(Family.SDXL, plus=False, image_width=1280)),
    (_adapter_header(2048, 70, {"image_proj.latents": (1, 16, 1280), "image_proj.proj_in.weight": (1280, 1280),
                                "image_proj.proj_out.weight": (2048, 1280)}),
     IpAdapterKind(Family.SDXL, plus=True, image_width=1280)),
], ids=["sd15", "sd15-plus", "sdxl", "sdxl-plus-vit-h"])
def test_real_sized_adapters_are_told_apart_by_their_widths(header: dict[str, TensorInfo],
                                                            expected: IpAdapterKind) -> None:
    assert detect_ip_adapter(header, Path("x.safetensors")) == expected


def test_a_faceid_adapter_is_refused_saying_what_it_needs() -> None:
    header = _adapter_header(768, 16, {"image_proj.norm.weight": (768,), "image_proj.proj.0.weight": (1024, 512)})
    with pytest.raises(ModelFileError, match=r"FaceID.*insightface"):
        detect_ip_adapter(header, Path("faceid.safetensors"))


# pinning


def test_a_reference_without_a_model_gets_the_adapter_of_its_family_pinned(engine: DiffusersEngine,
                                                                           registry: ModelRegistry) -> None:
    [pinned] = engine.pin(Params(model="sdxl", references=[ref(0.5)])).references
    assert (pinned.model, pinned.sha256, pinned.weight) == ("ip-sdxl", registry.get("ip-sdxl").sha256, 0.5)


def test_an_sdxl_adapter_on_an_sd15_job_is_refused_naming_both(engine: DiffusersEngine) -> None:
    error = refused(engine, ref(model="ip-sdxl"))
    assert error.code is ErrorCode.INCOMPATIBLE_IP_ADAPTER and not error.retryable
    assert all(word in error.message for word in ("'ip-sdxl'", "sdxl", "'sd15'", "sd1"))


def test_an_unknown_adapter_is_refused_listing_those_there_are(engine: DiffusersEngine) -> None:
    error = refused(engine, ref(model="ip-watercolour"))
    assert error.code is ErrorCode.UNKNOWN_IP_ADAPTER and "'ip-watercolour'" in error.message
    assert "ip-sd15, ip-sd15-plus" in error.message


def test_a_family_without_an_adapter_is_refused_saying_how_to_add_one(engine: DiffusersEngine) -> None:
    error = refused(engine, ref(), model="sd2")
    assert error.code is ErrorCode.UNKNOWN_IP_ADAPTER and "underpaint models add" in error.message


def test_an_adapter_whose_files_changed_since_the_recipe_is_refused(engine: DiffusersEngine) -> None:
    error = refused(engine, ref(model="ip-sd15", sha256="0" * 64))
    assert error.code is ErrorCode.IP_ADAPTER_CHANGED and "'ip-sd15'" in error.message


def test_an_ip_adapter_is_not_a_model(engine: DiffusersEngine) -> None:
    with pytest.raises(RegistryError, match="is an IP-Adapter, not a model"):
        engine.entry("ip-sd15")
    assert "ip-sd15" not in engine.capabilities.models


def test_capabilities_list_the_ip_adapters_made_for_each_models_family(engine: DiffusersEngine) -> None:
    assert engine.capabilities_for("sd15").ip_adapters == ("ip-sd15", "ip-sd15-plus")
    assert engine.capabilities_for("sd15-inpaint").ip_adapters == ("ip-sd15", "ip-sd15-plus")
    assert engine.capabilities_for("sdxl").ip_adapters == ("ip-sdxl",)


# running


def test_a_reference_changes_a_fill(engine: DiffusersEngine) -> None:
    assert not np.array_equal(run(engine, ref()), run(engine))


def test_weight_zero_gives_exactly_the_job_without_it(engine: DiffusersEngine) -> None:
    assert np.array_equal(run(engine, ref(0.0)), run(engine))


def test_the_job_without_references_after_one_with_them_equals_the_job_before_any(registry: ModelRegistry) -> None:
    fresh = new_engine(registry)
    before = run(fresh)
    run(fresh, ref(0.9), ref(0.4, model="ip-sd15-plus"), images=(PORTRAIT, LANDSCAPE))
    assert np.array_equal(run(fresh), before)


def test_a_fixed_seed_replays_bit_identically(engine: DiffusersEngine) -> None:
    first = run(engine, ref(0.7), ref(0.3, focus="style"), images=(PORTRAIT, LANDSCAPE))
    run(engine, ref(1.2, model="ip-sd15-plus"))
    assert np.array_equal(run(engine, ref(0.7), ref(0.3, focus="style"), images=(PORTRAIT, LANDSCAPE)), first)


def test_two_references_run_together_unlike_either_alone(engine: DiffusersEngine) -> None:
    both = run(engine, ref(0.9), ref(0.4), images=(PORTRAIT, LANDSCAPE))
    assert not np.array_equal(both, run(engine, ref(0.9), images=(PORTRAIT,)))
    assert not np.array_equal(both, run(engine, ref(0.4), images=(LANDSCAPE,)))


def test_each_reference_steers_at_its_own_weight(engine: DiffusersEngine) -> None:
    assert not np.array_equal(run(engine, ref(0.9), ref(0.4), images=(PORTRAIT, LANDSCAPE)),
                              run(engine, ref(0.4), ref(0.9), images=(PORTRAIT, LANDSCAPE)))


def test_focus_style_steers_the_style_layers_alone(engine: DiffusersEngine) -> None:
    style = run(engine, ref(focus="style"))
    assert not np.array_equal(style, run(engine, ref(focus="all")))
    assert not np.array_equal(style, run(engine))


def test_a_plus_adapter_steers_from_the_encoders_hidden_states(engine: DiffusersEngine) -> None:
    plus = run(engine, ref(model="ip-sd15-plus"))
    assert not np.array_equal(plus, run(engine)) and not np.array_equal(plus, run(engine, ref(model="ip-sd15")))


@pytest.mark.parametrize(("mode", "model"), [(Mode.GENERATE, "sd15"), (Mode.REFINE, "sd15"),
                                             (Mode.FILL, "sd15-inpaint")])
def test_references_steer_every_mode(engine: DiffusersEngine, mode: Mode, model: str) -> None:
    assert not np.array_equal(run(engine, ref(), model=model, mode=mode), run(engine, model=model, mode=mode))


def test_a_reference_and_a_lora_steer_one_job_together(engine: DiffusersEngine) -> None:
    ink = (LoraRef(name="ink"),)
    both = run(engine, ref(), loras=ink)
    assert not np.array_equal(both, run(engine, ref())) and not np.array_equal(both, run(engine, loras=ink))


def test_a_reference_changes_an_sdxl_fill(engine: DiffusersEngine) -> None:
    assert not np.array_equal(run(engine, ref(), model="sdxl"), run(engine, model="sdxl"))


def test_focus_style_on_sdxl_steers_its_style_layer_alone(engine: DiffusersEngine) -> None:
    style = run(engine, ref(focus="style"), model="sdxl")
    assert not np.array_equal(style, run(engine, ref(), model="sdxl"))
    assert not np.array_equal(style, run(engine, model="sdxl"))


@pytest.fixture
def broken(registry: ModelRegistry, registry_path: Path, adapters: dict[str, Path], tmp_path: Path
           ) -> Iterator[Path]:
    """An SD 1.5 adapter of its own (never loaded before) with a copy of its encoder, registered as 'broken';
    the test damages it."""
    folder = tmp_path / "models"
    shutil.copytree(adapters["ip-sd15"].parent / "image_encoder", folder / "image_encoder")
    path = save_ip_adapter(registry_path.parent / "sd15", folder / "ip-adapter_sd15.safetensors", ENCODERS["models"],
                           plus=False, seed=99)
    registry.put(make_entry("broken", path))
    yield folder
    registry.remove("broken")


def test_a_corrupt_adapter_file_fails_its_job_naming_it_and_the_next_job_runs(engine: DiffusersEngine,
                                                                              broken: Path) -> None:
    before = run(engine)
    path = broken / "ip-adapter_sd15.safetensors"
    path.write_bytes(path.read_bytes()[:-1000])  # cut short after it was registered
    with pytest.raises(EngineError) as caught:
        run(engine, ref(0.5), ref(model="broken"), images=(PORTRAIT, LANDSCAPE))
    assert caught.value.code is ErrorCode.MODEL_UNAVAILABLE
    assert all(part in caught.value.message for part in ("'broken'", str(path), "truncated", "again"))
    assert np.array_equal(run(engine), before), "nothing of the failed job stays active"


def test_a_missing_image_encoder_fails_its_job_naming_it(engine: DiffusersEngine, broken: Path) -> None:
    shutil.rmtree(broken / "image_encoder")
    with pytest.raises(EngineError) as caught:
        run(engine, ref(model="broken"))
    assert caught.value.code is ErrorCode.MODEL_UNAVAILABLE
    assert str(broken / "image_encoder") in caught.value.message and "missing" in caught.value.message

"""Models for the diffusers engine: architecture detection, broken files, the registry and its commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from safetensors.torch import save_file

from agent_process import free_port, start_server, underpaint
from conftest import soft_ellipse, textured_rgba
from tiny_pipelines import MODELS, NATIVE, build_tiny_models
from underpaint.cli import main
from underpaint.engines.diffusers.architecture import Architecture, Family, detect
from underpaint.engines.diffusers.checkpoint import ModelFileError
from underpaint.engines.diffusers.device import placement
from underpaint.engines.diffusers.loader import LoadOptions, load_model
from underpaint.engines.diffusers.registry import ModelRegistry, make_entry
from underpaint.jobs.runtime import build_engines
from underpaint.results.png import read_png_recipe


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_models(tmp_path_factory.getbasetemp() / "tiny-models").parent


def test_architecture_is_read_from_the_weights_not_the_names(models: Path, tmp_path: Path) -> None:
    assert detect(models / "sd15") == Architecture(Family.SD1, inpaint=False)
    assert detect(models / "sd15-inpaint") == Architecture(Family.SD1, inpaint=True)
    assert detect(models / "sd2") == Architecture(Family.SD2, inpaint=False)
    assert detect(models / "sdxl") == Architecture(Family.SDXL, inpaint=False)
    misleading = tmp_path / "sdxl-inpainting-v2.safetensors"  # the name lies; the weights are SD 1.x
    misleading.write_bytes((models / "checkpoints" / "model.safetensors").read_bytes())
    assert detect(misleading) == Architecture(Family.SD1, inpaint=False)


def _realign(pipe: object) -> None:
    """Every weight into fresh (64-byte aligned) memory, so both pipelines run the same CPU kernels.

    Loaded weights sit in memory-mapped files at whatever alignment their offset gives (and the single-file
    loader copies some, such as the transposed text projection), and CPU matmul kernels choose their
    vectorisation by alignment: bit-identical weights can then differ in the last bit of a sum.
    """
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        module = getattr(pipe, name, None)
        for param in module.parameters() if module is not None else ():
            param.data = param.data.clone()


@pytest.mark.parametrize(("folder", "single", "expected"), [
    ("sd15", "sd15-file", Architecture(Family.SD1, inpaint=False)),
    ("sd2", "sd2-file", Architecture(Family.SD2, inpaint=False)),
    ("sdxl", "sdxl-file", Architecture(Family.SDXL, inpaint=False)),
])
def test_a_single_file_checkpoint_is_the_same_model_as_its_diffusers_folder(
        models: Path, folder: str, single: str, expected: Architecture) -> None:
    registry = ModelRegistry(models / "models.json")
    entry = registry.get(single)
    assert Path(entry.path).is_file() and Path(entry.path).suffix == ".safetensors"
    assert detect(Path(entry.path)) == detect(models / folder) == expected, "read from the tensor names"
    a, b = (load_model(registry.get(name), LoadOptions(placement("cpu"))) for name in (folder, single))
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        if (ours := getattr(a.base, name, None)) is None:
            continue
        mine, theirs = ours.state_dict(), getattr(b.base, name).state_dict()
        assert mine.keys() == theirs.keys(), name
        assert all(torch.equal(mine[k], theirs[k]) for k in mine), f"{name} weights are bit-identical"
    images = []
    for loaded in (a, b):
        _realign(loaded.base)
        generator = torch.Generator().manual_seed(7)
        images.append(loaded.pipeline("txt2img")(prompt="a red cat", num_inference_steps=2, height=64, width=64,
                                                 generator=generator, output_type="np").images)
    assert images[0].std() > 0.01
    assert np.array_equal(*images), "same weights, same seed, same pixels"


def _fake_checkpoint(path: Path, names: list[str], in_channels: int = 4) -> Path:
    tensors = {name: torch.zeros(1) for name in names}
    tensors["model.diffusion_model.input_blocks.0.0.weight"] = torch.zeros(8, in_channels, 3, 3)
    save_file(tensors, str(path))
    return path


@pytest.mark.parametrize(("text_encoder", "in_channels", "expected"), [
    ("cond_stage_model.transformer.text_model.embeddings.token_embedding.weight", 4, "sd1"),
    ("cond_stage_model.model.token_embedding.weight", 4, "sd2"),
    ("cond_stage_model.model.token_embedding.weight", 9, "sd2-inpaint"),
    ("conditioner.embedders.1.model.positional_embedding", 4, "sdxl"),
    ("conditioner.embedders.1.model.positional_embedding", 9, "sdxl-inpaint"),
])
def test_single_files_of_each_family_are_told_apart(tmp_path: Path, text_encoder: str, in_channels: int,
                                                      expected: str) -> None:
    path = _fake_checkpoint(tmp_path / "x.safetensors", [text_encoder], in_channels)
    assert detect(path).name == expected


def test_a_truncated_or_corrupt_checkpoint_is_named_with_what_to_do(models: Path, tmp_path: Path) -> None:
    whole = (models / "checkpoints" / "model.safetensors").read_bytes()
    truncated, garbage = tmp_path / "cut.safetensors", tmp_path / "garbage.safetensors"
    truncated.write_bytes(whole[: len(whole) - 1000])
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!" + bytes(100))
    for path, why in ((truncated, "truncated"), (garbage, "not valid safetensors")):
        with pytest.raises(ModelFileError, match=why) as info:
            detect(path)
        assert str(path) in str(info.value) and "again" in str(info.value)
    with pytest.raises(ModelFileError, match="does not exist"):
        detect(tmp_path / "missing.safetensors")


def test_a_damaged_diffusers_folder_fails_to_load_with_the_file_named(models: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(models / "sd15", folder)
    unet = folder / "unet" / "diffusion_pytorch_model.safetensors"
    unet.write_bytes(unet.read_bytes()[:5000])
    entry = make_entry("copy", models / "sd15").model_copy(update={"path": str(folder)})
    with pytest.raises(ModelFileError, match="truncated") as info:
        load_model(entry, LoadOptions(placement("cpu")))
    assert str(unet) in str(info.value)


def test_pickle_checkpoints_need_an_explicit_opt_in(models: Path, tmp_path: Path) -> None:
    ckpt = tmp_path / "model.ckpt"
    from safetensors.torch import load_file

    torch.save({"state_dict": load_file(models / "checkpoints" / "model.safetensors")}, ckpt)
    with pytest.raises(ModelFileError, match="can run code"):
        make_entry("pickled", ckpt)
    entry = make_entry("pickled", ckpt, allow_ckpt=True, config=str(models / "sd15"), native=NATIVE)
    assert entry.architecture == "sd1" and entry.allow_ckpt


def test_models_commands_manage_the_registry_with_content_hashes(models: Path, tmp_path: Path) -> None:
    env = {"UNDERPAINT_CONFIG_DIR": str(tmp_path / "config"), "UNDERPAINT_DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()
    added = runner.invoke(main, ["models", "add", "mine", str(models / "sd15-inpaint"), "--native", "64", "64",
                                 "4096"], env=env)
    assert added.exit_code == 0, added.output
    refused = runner.invoke(main, ["models", "add", "bad", str(tmp_path)], env=env)
    assert refused.exit_code != 0 and "missing" in refused.output
    listed = json.loads(runner.invoke(main, ["models", "list", "--json"], env=env).output)
    assert [(m["name"], m["architecture"], len(m["sha256"])) for m in listed] == [("mine", "sd1-inpaint", 64)]
    assert runner.invoke(main, ["models", "remove", "mine"], env=env).exit_code == 0
    assert json.loads(runner.invoke(main, ["models", "list", "--json"], env=env).output) == []


def test_the_diffusers_engine_is_offered_only_when_a_model_is_set_or_registered(
        models: Path, tmp_path: Path) -> None:
    from conftest import make_settings

    assert set(build_engines(make_settings(tmp_path))) == {"classic"}
    with pytest.raises(ValueError, match="models add"):
        build_engines(make_settings(tmp_path, engine="diffusers"))
    registered = make_settings(tmp_path, models_file=models / "models.json", device="cpu", engine="diffusers")
    engines = build_engines(registered)
    caps = engines["diffusers"].capabilities
    assert set(caps.models) == set(MODELS)
    assert (caps.native_min, caps.native_max) == NATIVE[:2]
    assert "sd1" in caps.description and "dpmpp_2m_karras" in caps.description


def test_serve_with_a_model_fills_and_the_recipe_replays_bit_identically(models: Path, tmp_path: Path) -> None:
    env = os.environ | {"UNDERPAINT_CONFIG_DIR": str(tmp_path / "config"), "UNDERPAINT_DATA_DIR": str(tmp_path / "d"),
                        "UNDERPAINT_PORT": str(free_port()), "UNDERPAINT_MODELS_FILE": str(models / "models.json"),
                        "UNDERPAINT_DEVICE": "cpu"}
    image, mask = tmp_path / "photo.png", tmp_path / "mask.png"
    Image.fromarray(textured_rgba(80, 96)[..., :3]).save(image)
    Image.fromarray(soft_ellipse(80, 96, (30, 24, 36, 30))).save(mask)
    process = start_server(env | {"UNDERPAINT_MODEL": "sd15-file", "UNDERPAINT_ENGINE": "diffusers"})
    try:
        first = json.loads(underpaint(env, "fill", str(image), "--mask", str(mask), "--out", str(tmp_path / "a.psd"),
                                      "--variants", "2", "--seed", "7", "--prompt", "a cat", "--json").stdout)
        underpaint(env, "replay", str(tmp_path / "a.psd"), "--mask", str(mask), "--out", str(tmp_path / "b.psd"))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert first["recipe"]["engine"] == "diffusers"
    for index in (1, 2):
        a, b = (tmp_path / f"{name}.variant-{index}.png" for name in "ab")
        assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))
        assert read_png_recipe(b).seeds == [7, 8]


def test_an_unknown_default_model_stops_serve_with_what_to_do(models: Path, tmp_path: Path) -> None:
    env = os.environ | {"UNDERPAINT_CONFIG_DIR": str(tmp_path / "c"), "UNDERPAINT_DATA_DIR": str(tmp_path / "d"),
                        "UNDERPAINT_MODELS_FILE": str(models / "models.json")}
    result = subprocess.run([sys.executable, "-m", "underpaint", "serve", "--model", "nope", "--port", "0"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "No model named 'nope'" in result.stderr and "models add" in result.stderr

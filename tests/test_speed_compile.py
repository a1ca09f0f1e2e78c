"""compile = true: the UNet compiled in place (inductor), its kernels cached in the folder the agent gives,
and refused with a sentence where inductor cannot build.

Compiling even the tiny UNet takes minutes on a 2-core CPU (docs/benchmarks.md measures it, and that the
compiled image matches the eager one), so these tests stop short of the first compiled call.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from underpaint.engines.diffusers.device import placement
from underpaint.engines.diffusers.loader import LoadOptions, load_model
from underpaint.engines.diffusers.registry import ModelRegistry


def test_compile_true_compiles_the_unet_in_place_with_its_cache_where_the_agent_says(
        registry_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    options = LoadOptions(placement("cpu"), compile=True, compile_cache=tmp_path / "compile-cache")
    model = load_model(ModelRegistry(registry_path).get("sd15"), options)
    assert type(model.base.unet).__name__ == "UNet2DConditionModel"
    assert model.base.unet._compiled_call_impl is not None
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "compile-cache")


def test_compile_is_off_by_default(registry_path: Path) -> None:
    model = load_model(ModelRegistry(registry_path).get("sd15"), LoadOptions(placement("cpu")))
    assert model.base.unet._compiled_call_impl is None


def test_compile_without_a_cpp_compiler_is_refused_saying_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("CXX", raising=False)
    with pytest.raises(ValueError, match=r"no C\+\+ compiler was found .*g\+\+"):
        LoadOptions(placement("cpu"), compile=True)

"""Less work per job: what every variant shares is computed once, and the pixels stay what they were.

The tiny pipelines, 3 variants each; the text encoder's and the VAE encoder's forwards are counted with
forward hooks. "Before" is the per-variant path: `run_one` without precomputed embeddings, outside the
job's kept encodings, so the pipeline encodes everything itself as it did before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from conftest import soft_ellipse, textured_rgba
from underpaint.core import Mode, Params
from underpaint.engines.base import CancelToken, Engine, WorkItem
from underpaint.engines.diffusers.calls import run_one
from underpaint.engines.diffusers.engine import DiffusersEngine
from underpaint.engines.diffusers.loader import LoadedModel

SIZE = 64
SEEDS = [11, 12, 13]
SOURCE = textured_rgba(SIZE, SIZE, seed=3)[..., :3].copy()
HOLE = soft_ellipse(SIZE, SIZE, (16, 16, 32, 32))


def work(mode: Mode, model: str, strength: float = 1.0) -> WorkItem:
    params = Params(model=model, prompt="a red cat", negative_prompt="the sky", steps=2, guidance=7.0,
                    strength=strength, variants=len(SEEDS))
    mask = HOLE if mode is Mode.FILL else None
    return WorkItem(mode, SIZE, SIZE, params, SEEDS, image=SOURCE, mask=mask)


def warm(engine: Engine, name: str) -> LoadedModel:
    assert isinstance(engine, DiffusersEngine)
    return engine.cache.get(engine.entry(name))


def variants(engine: Engine, item: WorkItem) -> list[np.ndarray]:
    return list(engine.run(item, lambda *_: None, CancelToken()))


@contextmanager
def forwards_counted(module: Any) -> Iterator[list[int]]:
    calls = [0]
    handle = module.register_forward_pre_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    try:
        yield calls
    finally:
        handle.remove()


def test_the_prompt_and_negative_prompt_are_encoded_once_per_job_not_per_variant(engine: Engine) -> None:
    with forwards_counted(warm(engine, "sd15").base.text_encoder) as calls:
        variants(engine, work(Mode.GENERATE, "sd15"))
    assert calls[0] == 2  # the prompt and the negative prompt, for all 3 variants


def test_sdxls_two_text_encoders_each_run_once_per_prompt_per_job(engine: Engine) -> None:
    base = warm(engine, "sdxl").base
    with forwards_counted(base.text_encoder) as first, forwards_counted(base.text_encoder_2) as second:
        variants(engine, work(Mode.FILL, "sdxl"))
    assert (first[0], second[0]) == (2, 2)


def test_a_refines_source_is_vae_encoded_once_per_job(engine: Engine) -> None:
    with forwards_counted(warm(engine, "sd15").base.vae.encoder) as calls:
        variants(engine, work(Mode.REFINE, "sd15", strength=0.6))
    assert calls[0] == 1


def test_an_inpainting_fill_encodes_its_source_and_masked_source_once_each_per_job(engine: Engine) -> None:
    with forwards_counted(warm(engine, "sd15-inpaint").base.vae.encoder) as calls:
        variants(engine, work(Mode.FILL, "sd15-inpaint", strength=0.8))
    assert calls[0] == 2


def test_the_kept_encodings_end_with_the_job(engine: Engine) -> None:
    model = warm(engine, "sd15")
    variants(engine, work(Mode.REFINE, "sd15", strength=0.6))
    assert "encode" not in model.base.vae.__dict__


@pytest.mark.parametrize(("mode", "model", "strength"), [
    (Mode.REFINE, "sd15", 0.6), (Mode.FILL, "sd15-inpaint", 0.8), (Mode.FILL, "sdxl", 1.0)])
def test_each_variant_is_bit_identical_to_the_per_variant_path_with_its_seed(
        engine: Engine, mode: Mode, model: str, strength: float) -> None:
    item = work(mode, model, strength)
    before = [run_one(warm(engine, model), item, seed, lambda *_: None) for seed in SEEDS]
    after = variants(engine, item)
    assert all(np.array_equal(old, new) for old, new in zip(before, after, strict=True))

"""Control and reference images travel in the PSD and each variant PNG, so a replay needs no other file."""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from psd_tools import PSDImage

from builders import REGION, gradient_rgba, make_result, noise_rgba
from underpaint.core.conditioning import ControlKind, ControlRef, ReferenceRef
from underpaint.results import guides
from underpaint.results.guides import Guides, decode_guides, encode_guides
from underpaint.results.layered import LayeredResult
from underpaint.results.png import GUIDES_CHUNK, read_png_guides, read_private_chunks, variant_png
from underpaint.results.psd import read_psd_guides, write_psd
from underpaint.results.recipe import pixels_sha256
from underpaint.results.replay import load_replay

EDGES = noise_rgba(REGION.height, REGION.width, seed=7)
REFERENCE = gradient_rgba(40, 30, seed=3)


def _guided() -> LayeredResult:
    """A fill sent one edge map (a second control derived from the source) and one reference image."""
    result = make_result(variants=2)
    controls = (ControlRef(kind=ControlKind.CANNY, preprocess=False, image_sha256=pixels_sha256(EDGES)),
                ControlRef(kind=ControlKind.TILE, image="source"))
    references = (ReferenceRef(weight=0.6, image_sha256=pixels_sha256(REFERENCE)),)
    params = result.recipe.params.model_copy(update={"controls": controls, "references": references})
    return dataclasses.replace(result, recipe=result.recipe.model_copy(update={"params": params}),
                               guides=Guides((EDGES, None), (REFERENCE,)))


def _png(tmp_path: Path, result: LayeredResult) -> Path:
    path = tmp_path / "result.variant-1.png"
    path.write_bytes(variant_png(result, 0))
    return path


def test_a_bundle_gives_back_each_image_at_its_position() -> None:
    guides = decode_guides(encode_guides(Guides((None, EDGES), (REFERENCE,))), 2, 1, "bundle")
    assert guides.controls[0] is None and np.array_equal(guides.controls[1], EDGES)  # type: ignore[arg-type]
    assert np.array_equal(guides.references[0], REFERENCE)


def test_a_psd_holds_the_sent_control_and_reference_images(tmp_path: Path) -> None:
    result = _guided()
    write_psd(result, tmp_path / "result.psd")
    held = read_psd_guides(tmp_path / "result.psd", result.recipe)
    assert np.array_equal(held.controls[0], EDGES) and held.controls[1] is None  # type: ignore[arg-type]
    assert np.array_equal(held.references[0], REFERENCE)


def test_a_psd_with_guides_still_opens_with_the_same_layers(tmp_path: Path) -> None:
    write_psd(_guided(), tmp_path / "guided.psd")
    write_psd(make_result(variants=2), tmp_path / "plain.psd")
    names = [[layer.name for layer in PSDImage.open(tmp_path / name).descendants()]
             for name in ("guided.psd", "plain.psd")]
    assert names[0] == names[1]
    if shutil.which("identify") is not None:
        frames = subprocess.run(["identify", str(tmp_path / "guided.psd")], capture_output=True, text=True,
                                check=True).stdout.splitlines()
        assert len(frames) == 1 + 1 + 2  # composite, Background, two variants


def test_a_variant_png_holds_the_sent_control_and_reference_images(tmp_path: Path) -> None:
    result = _guided()
    held = read_png_guides(_png(tmp_path, result), result.recipe)
    assert np.array_equal(held.controls[0], EDGES)  # type: ignore[arg-type]
    assert np.array_equal(held.references[0], REFERENCE)


def test_a_job_without_sent_images_writes_no_bundle(tmp_path: Path) -> None:
    assert GUIDES_CHUNK not in read_private_chunks(_png(tmp_path, make_result()), {GUIDES_CHUNK})


def test_a_replay_takes_the_guides_from_the_psd_alone(tmp_path: Path) -> None:
    write_psd(_guided(), tmp_path / "result.psd")
    replay = load_replay(tmp_path / "result.psd")
    assert np.array_equal(replay.guides.controls[0], EDGES)  # type: ignore[arg-type]
    assert replay.guides.controls[1] is None
    assert np.array_equal(replay.guides.references[0], REFERENCE)


def test_a_replay_refuses_a_given_reference_that_is_not_the_recipes(tmp_path: Path) -> None:
    write_psd(_guided(), tmp_path / "result.psd")
    with pytest.raises(ValueError, match="reference image 1 differs"):
        load_replay(tmp_path / "result.psd", reference_images=[gradient_rgba(40, 30, seed=4)])


def test_a_replay_from_a_recipe_alone_names_the_missing_control_image(tmp_path: Path) -> None:
    result = _guided()
    (tmp_path / "recipe.json").write_text(result.recipe.to_json())
    (tmp_path / "source.png").write_bytes(variant_png(result, 0))
    with pytest.raises(ValueError, match="--control-image"):
        load_replay(tmp_path / "recipe.json", image=result.source, mask=result.selection)


def test_a_bundle_claiming_more_than_the_limit_is_refused_before_inflating(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guides, "MAX_BUNDLE_BYTES", 4096)  # the real limit is a gigabyte
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("control-0.npy", b"\0" * 4097)
    with pytest.raises(ValueError, match="claim more than"):
        decode_guides(out.getvalue(), 1, 0, "forged.psd")


def test_a_bundle_with_images_the_recipe_does_not_name_is_refused() -> None:
    with pytest.raises(ValueError, match="do not match"):
        decode_guides(encode_guides(Guides((EDGES, EDGES), ())), 1, 0, "forged.png")


def test_a_damaged_bundle_is_refused_with_the_file_named() -> None:
    with pytest.raises(ValueError, match=r"broken\.psd: the Underpaint guide images are corrupt"):
        decode_guides(b"PK\x03\x04 not really", 1, 0, "broken.psd")

"""PSDs, which no C2PA manifest can be embedded in, carry theirs beside them as NAME.c2pa, whichever door wrote
them: a PSD deliverable of a preset, and the Python API's save_psd."""

from __future__ import annotations

import signal
from pathlib import Path

from PIL import Image

from agent_process import agent_env, start_server, underpaint
from builders import make_result
from conftest import make_settings, textured_rgba
from underpaint.api import Underpaint
from underpaint.engines.classic import ClassicEngine
from underpaint.jobs.runtime import credentials_for
from underpaint.results.credentials import Validation, inspect_file
from underpaint.results.delivery.export import credentials_stamp, deliver, read_variant
from underpaint.results.delivery.library import PresetLibrary
from underpaint.results.store import ResultStore


def test_a_psd_deliverable_has_a_manifest_beside_it_saying_it_was_resized(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    credentials = credentials_for(settings)
    saved = ResultStore(tmp_path / "results", 1, 100, credentials).save(make_result(1), "job-1")
    presets = tmp_path / "presets"
    presets.mkdir()
    (presets / "flat.toml").write_text('width = 64\nheight = 48\nformat = "psd"\n')
    variant = read_variant(saved.variants[0])
    preset = PresetLibrary(presets).get("flat")
    delivered = deliver(variant, [preset], tmp_path / "out", "cover",
                        credentials_stamp(credentials, variant, saved.variants[0])).files[0]
    sidecar = delivered.path.with_suffix(".c2pa")
    found = inspect_file(delivered.path.read_bytes(), None, sidecar.read_bytes())
    assert found.manifest.validation is Validation.UNTRUSTED
    assert "c2pa.resized" in [action["action"] for action in found.manifest.actions]


def test_the_apis_save_psd_writes_the_manifest_beside_the_psd(tmp_path: Path) -> None:
    underpaint = Underpaint(make_settings(tmp_path), {"classic": ClassicEngine()})
    path = underpaint.save_psd(make_result(1), tmp_path / "fill.psd")
    found = inspect_file(path.read_bytes(), None, (tmp_path / "fill.c2pa").read_bytes())
    assert found.manifest.validation is Validation.UNTRUSTED
    assert found.source_type is not None and found.source_type.endswith("TrainedAlgorithmicMedia")


def test_a_psd_the_cli_fetches_from_the_agent_comes_with_its_manifest(tmp_path: Path) -> None:
    env = agent_env(tmp_path)
    Image.fromarray(textured_rgba(24, 32, seed=3)).save(tmp_path / "photo.png")
    process = start_server(env)
    try:
        underpaint(env, "upscale", str(tmp_path / "photo.png"), "--factor", "2", "--out", str(tmp_path / "up.psd"))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    found = inspect_file((tmp_path / "up.psd").read_bytes(), None, (tmp_path / "up.c2pa").read_bytes())
    assert found.manifest.validation is Validation.UNTRUSTED

"""The front doors of a training: `underpaint train` through a live agent, and the `train` message's limits."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import TOKEN
from hotfolder_support import error_of, live_agent, names, until
from tiny_datasets import brand_set, one_thread, training_settings  # noqa: F401 (one_thread: a fixture)
from underpaint.cli import main
from underpaint.client.agent_client import AgentClient
from underpaint.core import ErrorCode
from underpaint.engines.classic import ClassicEngine
from underpaint.engines.diffusers.registry import ModelRegistry
from underpaint.server.serve import start_agent
from underpaint.wire.messages import Train

pytestmark = pytest.mark.usefixtures("one_thread")


async def test_the_train_command_trains_through_the_agent_and_names_the_style(
        tmp_path: Path, registry_path: Path) -> None:
    settings = training_settings(tmp_path, registry_path)
    running = await start_agent(settings, {"classic": ClassicEngine()})
    env = {"UNDERPAINT_CONFIG_DIR": str(tmp_path / "config"), "UNDERPAINT_DATA_DIR": str(settings.data_dir),
           "UNDERPAINT_PORT": str(running.port), "UNDERPAINT_TOKEN": TOKEN}
    try:
        result = await asyncio.to_thread(CliRunner().invoke, main, [
            "train", "inkwell", str(brand_set(tmp_path / "brand")), "--base", "sd15", "--steps", "4", "--rank", "2",
            "--resolution", "64", "--checkpoint-every", "2", "--sample-steps", "1", "--job-id", "train-cli"], env=env)
    finally:
        await running.stop()
    assert result.exit_code == 0, result.output
    assert "style inkwell" in " ".join(result.output.split())
    assert ModelRegistry(settings.models_path).get("inkwell").trained is not None
    assert not (settings.datasets_dir / "train-cli").exists()  # the command's copy goes; the training keeps its own
    report = json.loads((settings.training_dir / "train-cli" / "inkwell.report.json").read_text())
    assert report["steps"] == 4


async def test_a_train_message_may_name_only_a_folder_in_the_agents_datasets_folder() -> None:
    with pytest.raises(ValueError, match="dataset"):
        Train(job_id="t-1", name="brandx", dataset="../../etc")


async def test_a_train_message_for_a_missing_dataset_or_a_link_out_of_the_folder_is_an_empty_dataset(
        tmp_path: Path, registry_path: Path) -> None:
    settings = training_settings(tmp_path, registry_path)
    settings.datasets_dir.mkdir(parents=True)
    (settings.datasets_dir / "escape").symlink_to(brand_set(tmp_path / "elsewhere"), target_is_directory=True)
    running = await start_agent(settings, {"classic": ClassicEngine()})
    try:
        async with await AgentClient.connect(running.ws_url, TOKEN) as client:
            for job_id, dataset in (("t-2", "nothing-here"), ("t-3", "escape")):
                await client.ws.send(Train(job_id=job_id, name="brandx", dataset=dataset).model_dump_json())
            outcomes = await client.follow_all(["t-2", "t-3"])
    finally:
        await running.stop()
    assert {job_id: o.error.code if o.error else None for job_id, o in outcomes.items()} == {
        "t-2": ErrorCode.EMPTY_DATASET, "t-3": ErrorCode.EMPTY_DATASET}
    assert "not a folder inside" in (outcomes["t-3"].error.message if outcomes["t-3"].error else "")


async def test_a_hot_folder_training_files_the_lora_and_its_report_and_a_bad_one_says_why(
        tmp_path: Path, registry_path: Path) -> None:
    models = training_settings(tmp_path, registry_path).models_path
    staging = tmp_path / "staging"
    brand_set(staging / "acme")
    (staging / "acme" / "train.json").write_text(json.dumps(
        {"base": "sd15", "steps": 2, "rank": 2, "resolution": 64, "sample_steps": 1}), encoding="utf-8")
    brand_set(staging / "lonely", 1)
    (staging / "lonely" / "train.json").write_text(json.dumps({"resolution": 64}), encoding="utf-8")
    async with live_agent(tmp_path, models_file=models, model="sd15", device="cpu"):
        hot = tmp_path / "hot"
        for folder in sorted(staging.iterdir()):
            folder.rename(hot / "in" / folder.name)
        await until(lambda: (hot / "out" / "acme" / "acme.report.json").is_file()
                    and (hot / "failed" / "lonely" / "lonely.error.json").is_file(), 120, "both trainings filed")
    assert {"acme.safetensors", "acme.loss.png", "acme.samples.png"} <= set(names(hot / "out" / "acme"))
    assert "train.json" in names(hot / "done" / "acme")
    assert error_of(hot / "failed" / "lonely", "lonely")["code"] == "too_few_images"
    assert ModelRegistry(models).get("acme").trained is not None

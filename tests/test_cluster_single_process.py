"""Studio mode's parts that need no Ray cluster: placement, `underpaint worker`, and the single-process
agent, which never imports Ray."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from underpaint.cli import main
from underpaint.cli_cluster import ray_start_command
from underpaint.cluster.placement import Candidate, pick

SD15, SDXL = ("sd15",), ("sdxl",)


def test_a_job_goes_to_a_free_worker_with_its_model_loaded() -> None:
    free = [Candidate("a", (), frozenset(), 0), Candidate("b", SDXL, frozenset(), 5)]
    assert pick(free, "sdxl", frozenset(), frozenset()).name == "b"


def test_among_warm_workers_the_one_with_the_jobs_loras_wins() -> None:
    free = [Candidate("a", SD15, frozenset(), 0), Candidate("b", SD15, frozenset({"ink"}), 3)]
    assert pick(free, "sd15", frozenset({"ink"}), frozenset()).name == "b"


def test_with_no_worker_warm_the_least_loaded_takes_the_job() -> None:
    free = [Candidate("a", SD15 + SDXL, frozenset(), 0), Candidate("b", SD15, frozenset(), 9),
            Candidate("c", SD15, frozenset(), 2)]
    assert pick(free, "sd2", frozenset(), frozenset()).name == "c"


def test_a_retry_avoids_the_worker_it_lost_while_another_is_free() -> None:
    free = [Candidate("a", SD15, frozenset(), 0), Candidate("b", (), frozenset(), 0)]
    assert pick(free, "sd15", frozenset(), frozenset({"a"})).name == "b"
    assert pick(free[:1], "sd15", frozenset(), frozenset({"a"})).name == "a"


def test_underpaint_worker_joins_through_the_heads_gcs_port() -> None:
    command = ray_start_command("10.0.0.5:6379", 8, None)
    assert Path(command[0]).name == "ray" and command[1:] == ["start", "--address=10.0.0.5:6379", "--block",
                                                               "--num-cpus=8"]


def test_underpaint_worker_refuses_a_ray_client_address_naming_the_port_to_use() -> None:
    result = CliRunner().invoke(main, ["worker", "--cluster", "ray://head:10001"])
    assert result.exit_code == 2 and "HOST:6379" in result.output


def test_an_agent_started_without_cluster_never_imports_ray(tmp_path: Path) -> None:
    script = (
        "import asyncio, sys\n"
        "from underpaint.cli import main\n"
        "from underpaint.config import Settings\n"
        "from underpaint.engines.classic import ClassicEngine\n"
        "from underpaint.server.serve import start_agent\n"
        "async def serve_and_stop():\n"
        "    settings = Settings(port=0, token='t' * 24, data_dir=sys.argv[1])\n"
        "    agent = await start_agent(settings, {'classic': ClassicEngine()})\n"
        "    await agent.stop()\n"
        "asyncio.run(serve_and_stop())\n"
        "print('ray' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "False"


def test_serve_says_which_port_cluster_takes() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert "HOST:6379" in result.output and "ray://HOST:10001" in result.output

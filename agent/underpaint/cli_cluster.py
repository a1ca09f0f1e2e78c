"""`underpaint cluster` (a studio gateway's workers) and `underpaint worker` (join a machine to the pool)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from underpaint.cli_common import connect_settings, with_client_options, ws_url
from underpaint.wire.messages import WEBSOCKET_PATH, ClusterInfo

GCS_PORT = 6379
CLIENT_PORT = 10001


@click.command()
@with_client_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def cluster(ctx: click.Context, /, host: str | None, port: int | None, as_json: bool) -> None:
    """Print a studio gateway's workers: devices, loaded models, running job, and the queue's length.

    Asks the running agent (its /health, with your token): an admin's token sees the workers.
    """
    settings = connect_settings(ctx, host, port)
    health = fetch_health(ws_url(settings), settings.token or "")
    if "workers" not in health:
        raise click.ClickException("This agent runs jobs in its own process (it was not started with --cluster).")
    if health.get("cluster") is None:
        raise click.ClickException(f"The agent has {health['workers']} worker(s); only an admin's token is shown "
                                   "which they are and what they do.")
    info = ClusterInfo.model_validate(health["cluster"])
    if as_json:
        click.echo(json.dumps(info.model_dump(mode="json"), indent=2))
        return
    table = Table("worker", "state", "device", "node", "loaded models", "running job", "jobs run",
                  title=f"{len(info.workers)} worker(s), {info.queued} job(s) queued")
    for worker in info.workers:
        table.add_row(worker.name, worker.state, worker.device, worker.node[:12], ", ".join(worker.loaded_models),
                      worker.running_job or "", str(worker.jobs_run))
    Console(width=160).print(table)


def fetch_health(websocket_url: str, token: str) -> dict[str, Any]:
    """The agent's /health as the holder of `token` sees it."""
    url = websocket_url.replace("ws", "http", 1).removesuffix(WEBSOCKET_PATH) + "/health"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body: dict[str, Any] = json.load(response)
    except (urllib.error.URLError, OSError) as exc:
        raise click.ClickException(f"No agent answers at {url} ({exc}). Is it running?") from None
    return body


@click.command()
@click.option("--cluster", "address", required=True, metavar="HOST:PORT",
              help=f"The Ray head's GCS address, HOST:{GCS_PORT} (what `ray start --head` prints), not the Ray "
                   f"Client address ray://HOST:{CLIENT_PORT} that `serve --cluster` may use.")
@click.option("--num-cpus", type=click.IntRange(min=0), help="CPUs this machine lends (default: all).")
@click.option("--num-gpus", type=click.IntRange(min=0), help="GPUs this machine lends (default: all).")
def worker(address: str, num_cpus: int | None, num_gpus: int | None) -> None:
    """Join this machine to a studio's Ray cluster, until stopped (Ctrl+C).

    A thin wrapper over Ray's own `ray start --address=HOST:6379 --block`. The gateway
    (`underpaint serve --cluster ...`) then starts one worker per GPU here, or one for the CPUs
    on a machine without GPUs. This machine must see the models folder at the same path as the
    gateway (a shared mount) and have the same Python environment.
    """
    command = ray_start_command(address, num_cpus, num_gpus)
    click.echo(f"Joining {address}: {' '.join(command)}", err=True)
    os.execv(command[0], command)


def ray_start_command(address: str, num_cpus: int | None, num_gpus: int | None) -> list[str]:
    """The `ray start` that joins this machine to the cluster whose head's GCS is at `address`."""
    if address.startswith("ray://"):
        raise click.BadParameter(f"{address} is a Ray Client address (port {CLIENT_PORT}); a machine joins "
                                 f"through the head's GCS port: --cluster HOST:{GCS_PORT}.", param_hint="--cluster")
    beside = Path(sys.executable).with_name("ray")
    ray = str(beside) if beside.is_file() else shutil.which("ray")
    if ray is None:
        raise click.ClickException("Ray's `ray` command is not installed with this Python: pip install 'ray>=2.50'.")
    command = [ray, "start", f"--address={address}", "--block"]
    if num_cpus is not None:
        command.append(f"--num-cpus={num_cpus}")
    if num_gpus is not None:
        command.append(f"--num-gpus={num_gpus}")
    return command


CLUSTER_COMMANDS = (cluster, worker)

"""`underpaint train NAME FOLDER`: a brand LoRA from a folder of images, through the running agent.

Like `underpaint fill`, the command is a client: the agent queues the training with everyone's jobs,
reports its progress (step, loss, time left) and makes the LoRA, its report and its style. The agent
reads datasets only inside its own datasets folder, so the command copies FOLDER there first (the
agent runs on this machine: the command reads the same settings) and removes the copy at the end;
the training keeps its own copy for resuming.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from underpaint.cli_common import connect_settings, console, run_client, with_client_options, ws_url
from underpaint.core.errors import request_error_from


@click.command("train")
@click.argument("name")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--base", help="Registered SD 1.5, SD 2.x or SDXL model to train on (default: the agent's).")
@click.option("--trigger", default="", help="Word that calls the look in a prompt (default: NAME).")
@click.option("--steps", type=int, help="Training steps (default 1000).")
@click.option("--rank", type=int, help="LoRA rank (default 16).")
@click.option("--resolution", type=int, help="Training size in pixels (default: the base's, 512 or 1024).")
@click.option("--learning-rate", type=float, help="AdamW learning rate (default 1e-4).")
@click.option("--text-encoder", is_flag=True, help="Train the text encoders too.")
@click.option("--checkpoint-every", type=int, help="Steps between checkpoints and samples (default 250).")
@click.option("--sample-steps", type=int, help="Denoising steps of each sample image (default 20).")
@click.option("--job-id", help="Job id (default: a new one).")
@with_client_options
@click.pass_context
def train(ctx: click.Context, /, name: str, folder: Path, host: str | None, port: int | None, job_id: str | None,
          **options: Any) -> None:
    """Train the LoRA NAME on the brand images in FOLDER; it becomes a style of the same name."""
    from underpaint.wire.messages import Train

    settings = connect_settings(ctx, host, port)
    job_id = job_id or f"train-{uuid.uuid4().hex[:12]}"
    given = {key: value for key, value in options.items() if value not in (None, "", False)}
    try:
        message = Train(job_id=job_id, name=name, dataset=job_id, **given)
    except ValidationError as exc:
        raise click.ClickException(request_error_from(exc, job_id, "training").message) from None
    copy = settings.datasets_dir / job_id
    shutil.copytree(folder, copy, dirs_exist_ok=True)
    try:
        summary = run_client(_train(ws_url(settings), settings.token or "", message))
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    if summary["state"] != "done":
        raise click.ClickException(summary.get("message") or f"The training ended {summary['state']}.")
    console.print(f"[green]Trained[/green] {summary['lora']} ({summary['steps']} steps, "
                  f"{summary['seconds']:.0f} s on {summary['device']}); style [bold]{summary['style']}[/bold].")
    console.print(f"LoRA: {summary['file']}\nReport: {summary['report']}")


async def _train(url: str, token: str, message: Any) -> dict[str, Any]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from underpaint.client.agent_client import AgentClient
    from underpaint.wire.messages import Progress as StepProgress

    async with await AgentClient.connect(url, token) as client:
        await client.ws.send(message.model_dump_json())
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[loss]}"),
                      TimeRemainingColumn(), console=console) as bar:
            task = bar.add_task(f"training {message.name}", total=1.0, loss="")

            def on_event(event: Any) -> None:
                if isinstance(event, StepProgress) and event.loss is not None:
                    bar.update(task, completed=event.fraction, loss=f"step {event.step}/{event.steps} "
                                                                     f"loss {event.loss:.4f}")

            outcome = await client.follow(message.job_id, on_event)
    if outcome.done is None or outcome.done.trained is None:
        error = outcome.error
        return {"state": outcome.state, "message": error.message if error else None}
    trained = outcome.done.trained
    return {"state": "done", **trained.model_dump(mode="json"), "report": trained.report.get("report", "")}

"""The report beside a trained LoRA: how the loss went, what the samples looked like, what it cost.

`NAME.loss.png` (matplotlib, Agg backend: no display needed) plots each step's loss and its running
mean; `NAME.samples.png` is the grid of samples, one row per checkpoint (step 0 is the base model),
one column per fixed seed; `NAME.report.json` holds the numbers: steps, time, device, first and
last mean loss, the dataset's hash and what was skipped, and the recipe.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from PIL import Image, ImageDraw

_SAMPLE = re.compile(r"^step-(\d+)-seed-(\d+)\.png$")
WINDOW = 10
"""Steps in the running mean of the curve, and in the report's first and last mean loss."""


def running_mean(values: list[float], window: int = WINDOW) -> list[float]:
    out, total = [], 0.0
    for index, value in enumerate(values):
        total += value - (values[index - window] if index >= window else 0.0)
        out.append(total / min(index + 1, window))
    return out


def write_loss_curve(losses: list[float], path: Path, title: str) -> None:
    figure, axes = plt.subplots(figsize=(6, 3.2), dpi=100)
    steps = list(range(1, len(losses) + 1))
    axes.plot(steps, losses, color="#9aa5b1", linewidth=0.8, label="loss per step")
    axes.plot(steps, running_mean(losses), color="#d1495b", linewidth=1.8, label=f"mean of {WINDOW}")
    axes.set_xlabel("step")
    axes.set_ylabel("denoising loss")
    axes.set_title(title)
    axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def write_sample_grid(samples: Path, path: Path) -> int:
    """The grid of the sample PNGs in `samples` (rows: steps, columns: seeds); returns the row count."""
    found: dict[int, dict[int, Path]] = {}
    for file in samples.glob("step-*.png") if samples.is_dir() else []:
        if match := _SAMPLE.match(file.name):
            found.setdefault(int(match.group(1)), {})[int(match.group(2))] = file
    if not found:
        return 0
    seeds = sorted({seed for row in found.values() for seed in row})
    first = Image.open(next(iter(next(iter(found.values())).values())))
    cell_w, cell_h, label = first.width, first.height, 18
    grid = Image.new("RGB", (cell_w * len(seeds), (cell_h + label) * len(found)), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    for row, step in enumerate(sorted(found)):
        top = row * (cell_h + label)
        draw.text((4, top + 3), f"step {step}" + (" (base)" if step == 0 else ""), fill=(0, 0, 0))
        for column, seed in enumerate(seeds):
            if seed in found[step]:
                with Image.open(found[step][seed]) as image:
                    grid.paste(image.convert("RGB").resize((cell_w, cell_h)), (column * cell_w, top + label))
    grid.save(path)
    return len(found)


def write_report(folder: Path, name: str, losses: list[float], facts: dict[str, Any]) -> dict[str, Path]:
    """Loss curve, sample grid and the numbers, beside the LoRA in `folder`; the paths written."""
    paths = {"loss_curve": folder / f"{name}.loss.png", "samples": folder / f"{name}.samples.png",
             "report": folder / f"{name}.report.json"}
    write_loss_curve(losses, paths["loss_curve"], f"{name}: {len(losses)} steps")
    rows = write_sample_grid(folder / "samples", paths["samples"])
    window = min(WINDOW, len(losses))
    numbers = {"steps": len(losses), "first_loss": sum(losses[:window]) / window,
               "last_loss": sum(losses[-window:]) / window, "sample_rows": rows} | facts
    paths["report"].write_text(json.dumps(numbers, indent=2) + "\n", encoding="utf-8")
    return paths

"""Delivery: one 1024x1024 result exported to every built-in preset, per preset and in total.

The result is a real one as the agent keeps it (ResultStore: a layered PSD and a variant PNG) over a
photograph (scikit-image's astronaut, enlarged to 1024x1024); each preset is rendered from the variant read
back from the PSD, stamped with Content Credentials (the disclosure, and a C2PA manifest signed with a
local pair) and written to disk. Prints a Markdown section for docs/benchmarks.md.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from builders import make_result
from run import machine
from speed import cpu_flags
from underpaint.core import Rect, Size
from underpaint.results.credentials import configured_credentials
from underpaint.results.delivery.export import Stamp, credentials_stamp, deliver, read_variant
from underpaint.results.delivery.library import builtin_presets
from underpaint.results.delivery.preset import Preset
from underpaint.results.delivery.render import layout
from underpaint.results.layered import LayeredResult, VariantLayer
from underpaint.results.store import ResultStore

RUNS = int(os.environ.get("BENCH_EXPORT_RUNS", "3"))
SIDE = 1024


def photo_result() -> LayeredResult:
    """A 1024x1024 fill result over a photograph: the astronaut as source, a patch of it as the variant."""
    photo = Image.fromarray(data.astronaut()).resize((SIDE, SIDE), Image.Resampling.LANCZOS).convert("RGBA")
    source = np.asarray(photo)
    template = make_result(1, region=Rect(x=0, y=0, width=SIDE, height=SIDE),
                           bounds=Rect(x=256, y=256, width=512, height=512))
    layer = template.layers[0]
    # The patch painted in: the photo's own pixels from elsewhere, so it encodes like a real fill.
    patch = np.ascontiguousarray(source[::-1][256:768, 256:768])
    variant = VariantLayer(layer.index, layer.seed, layer.name, layer.bounds, patch, layer.mask, True)
    return LayeredResult(template.group_name, source, [variant], template.recipe, template.selection)


def timed_stamp(stamp: Stamp, seconds: dict[str, list[float]]) -> Stamp:
    """`stamp`, adding how long each call took to `seconds[preset name]`."""

    def timed(data: bytes, preset: Preset) -> tuple[bytes, bytes | None]:
        begun = time.perf_counter()
        stamped = stamp.finish(data, preset)
        seconds[preset.name].append(time.perf_counter() - begun)
        return stamped

    return replace(stamp, finish=timed)


def main() -> None:
    presets = list(builtin_presets().values())
    with tempfile.TemporaryDirectory(prefix="underpaint-exportbench-") as temp:
        root = Path(temp)
        saved = ResultStore(root / "results", 1, 1000).save(photo_result(), "bench")
        credentials = configured_credentials(True, True, None, None, None, root / "credentials")
        reads, totals = [], []
        per_preset: dict[str, list[float]] = {preset.name: [] for preset in presets}
        stamping: dict[str, list[float]] = {preset.name: [] for preset in presets}
        sizes: dict[str, int] = {}
        for run in range(RUNS):
            started = time.perf_counter()
            variant = read_variant(saved.psd, 0)
            reads.append(time.perf_counter() - started)
            timed = timed_stamp(credentials_stamp(credentials, variant, saved.psd), stamping)
            for preset in presets:
                begun = time.perf_counter()
                delivery = deliver(variant, [preset], root / f"out-{run}", "bench", timed)
                per_preset[preset.name].append(time.perf_counter() - begun)
                sizes[preset.name] = delivery.files[0].bytes
            totals.append(time.perf_counter() - started)
    print(f"## Delivery ({time.strftime('%Y-%m-%d')})\n")
    print(f"`bench/export.py` (part of `make bench`). Machine: {machine()}; CPU flags: {cpu_flags()}. One 1024x1024 "
          "result (a fill over a photograph, read back from its PSD) exported to every built-in preset: fit, "
          "resample (enlarging with Lanczos and unsharp mask where the preset is larger), colour conversion with "
          "LittleCMS, encoding, Content Credentials (IPTC disclosure and a C2PA manifest signed with the local "
          f"pair) and the atomic write; {RUNS} runs, medians.\n")
    print("| preset | size | format, colour | enlarged | file | median | of it, Content Credentials |")
    print("|---|---|---|---|---|---|---|")
    for preset in presets:
        plan = layout(Size(width=SIDE, height=SIDE), preset)
        left, top, right, bottom = plan.crop
        factor = max(plan.scaled.width / (right - left), plan.scaled.height / (bottom - top))
        enlarged = f"{factor:.2f}x" if plan.enlarges else "no"
        print(f"| {preset.name} | {preset.width}x{preset.height} | {preset.format.upper()}, {preset.profile}, "
              f"{preset.dpi} dpi | {enlarged} | {sizes[preset.name] / 2**20:.2f} MiB | "
              f"{statistics.median(per_preset[preset.name]):.2f} s | "
              f"{statistics.median(stamping[preset.name]):.2f} s |")
    print(f"| reading the variant from the PSD | | | | | {statistics.median(reads):.2f} s | |")
    print(f"| **all {len(presets)} presets, in total** | | | | | **{statistics.median(totals):.2f} s** | |")


if __name__ == "__main__":
    main()

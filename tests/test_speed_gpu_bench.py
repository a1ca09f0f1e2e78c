"""bench/gpu_bench.py's code paths run here, on the CPU with tiny configs (`--dry-run`): the GPU half of the
speed benchmark is never untested code, though no GPU is lent to the test machine."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
from gpu_bench import main


def test_the_dry_run_measures_both_architectures_off_and_on_and_the_first_variant() -> None:
    report = main(["--dry-run"])
    number = r"([\d.]+(?:e[+-]\d+)?)"
    rows = re.findall(rf"^\| (SD 1\.5|SDXL) \(tiny\) \| {number} \| {number} \| {number}x \| {number} \|$", report,
                      re.M)
    assert [row[0] for row in rows] == ["SD 1.5", "SDXL"]
    assert all(float(off) > 0 and float(on) > 0 and float(warmup) >= 0 for _, off, on, _, warmup in rows)
    assert re.search(r"first of 4 variants .*: [\d.]+ s off, [\d.]+ s on", report)

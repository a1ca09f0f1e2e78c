"""bench/families.py's GPU path runs here, on the CPU with tiny configs (`--dry-run`): no GPU is lent to the test
machine, yet the FLUX.1 [dev] benchmark is never code that has not run."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
from families import main


def test_the_dry_run_measures_every_memory_option() -> None:
    report = main(["--dry-run"])
    rows = re.findall(r"^\| (off|drop T5|model offload|sequential offload) \| ([\d.e+-]+) \| [\d.]+ GiB \|$", report,
                      re.M)
    assert [name for name, _ in rows] == ["off", "drop T5", "model offload", "sequential offload"]
    assert all(float(rate) > 0 for _, rate in rows)

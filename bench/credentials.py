"""Content Credentials: what the disclosure and the signed C2PA manifest add to writing a job's files,
and what stamping one deliverable costs per format.

A job's files are written by ResultStore.save (a layered PSD and a PNG per variant) for a fill over a
photograph (scikit-image's astronaut, resized), three ways, interleaved: with nothing added (what
Underpaint wrote before), with the IPTC disclosure and the parameters text, and with both plus a
manifest signed by a local pair. Prints a Markdown section for docs/benchmarks.md.
"""

from __future__ import annotations

import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

sys.path.insert(0, str(Path(__file__).parent))
from run import machine
from speed import cpu_flags
from underpaint.core import Mode, Params, Rect, Size
from underpaint.results.credentials import Credentials, local_signing_key, result_provenance, sidecar_manifest, stamp
from underpaint.results.layered import LayeredResult, VariantLayer
from underpaint.results.png import variant_png
from underpaint.results.recipe import ModelRef, Recipe
from underpaint.results.store import ResultStore

RUNS = int(os.environ.get("BENCH_CREDENTIALS_RUNS", "5"))
SIZES = ((1024, 1024), (4000, 3000))
VARIANTS = 2


def photo_result(width: int, height: int) -> LayeredResult:
    """A fill of the middle third of a photograph, two variants (the photo's own pixels, flipped)."""
    photo = np.asarray(Image.fromarray(data.astronaut()).resize((width, height), Image.Resampling.LANCZOS))
    source = np.dstack([photo, np.full((height, width), 255, np.uint8)])
    bounds = Rect(x=width // 3, y=height // 3, width=width // 3, height=height // 3)
    patch = source[bounds.y:bounds.bottom, bounds.x:bounds.right]
    mask = np.full((bounds.height, bounds.width), 255, np.uint8)
    params = Params(prompt="a red kite", variants=VARIANTS, seed=7)
    layers = [VariantLayer(i, seed, f"a red kite #{i + 1} (seed {seed})", bounds,
                           np.ascontiguousarray(patch[::-1] if i else patch[:, ::-1]), mask, i == 0)
              for i, seed in enumerate(params.seeds())]
    region = Rect(x=0, y=0, width=width, height=height)
    recipe = Recipe(engine="diffusers", model=ModelRef(name="sd15", sha256="0" * 64), mode=Mode.FILL,
                    params=params, seeds=params.seeds(), document=Size(width=width, height=height), region=region)
    selection = np.zeros((height, width), np.uint8)
    selection[bounds.y:bounds.bottom, bounds.x:bounds.right] = 255
    return LayeredResult("a red kite", source, layers, recipe, selection)


def timed_save(result: LayeredResult, root: Path, credentials: Credentials, run: int) -> tuple[float, int]:
    store = ResultStore(root, 14, 1 << 20, credentials)
    start = time.perf_counter()
    saved = store.save(result, f"job{run + 1}")
    seconds = time.perf_counter() - start
    size = saved.psd.stat().st_size + sum(path.stat().st_size for path in saved.variants)
    return seconds, size


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="underpaint-bench-credentials-"))
    try:
        measure(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def measure(scratch: Path) -> None:
    key = local_signing_key(scratch / "credentials")
    ways = {"nothing added": Credentials(disclosure=False), "disclosure + parameters": Credentials(),
            "+ signed C2PA manifest": Credentials(signing_key=key)}
    print(f"## Content Credentials ({time.strftime('%Y-%m-%d')})\n")
    print(f"`bench/credentials.py` (part of `make bench`). Machine: {machine()}; CPU flags: {cpu_flags()}. "
          f"A fill over a photograph with {VARIANTS} variants saved by ResultStore (a layered PSD and a PNG per "
          f"variant), {RUNS} runs of each way, interleaved; median.\n")
    print("| image | files written with | median | runs (s) | bytes on disk | time ratio |")
    print("|---|---|---|---|---|---|")
    for width, height in SIZES:
        result = photo_result(width, height)
        times: dict[str, list[float]] = {name: [] for name in ways}
        sizes: dict[str, int] = {}
        for name, credentials in ways.items():  # warm-up: first writes pay for page cache and imports
            timed_save(result, scratch / f"{width}-{name}", credentials, -1)
        for run in range(RUNS):
            for name, credentials in ways.items():
                seconds, sizes[name] = timed_save(result, scratch / f"{width}-{name}", credentials, run)
                times[name].append(seconds)
        base = statistics.median(times["nothing added"])
        for name in ways:
            median = statistics.median(times[name])
            runs = ", ".join(f"{value:.2f}" for value in times[name])
            print(f"| {width}x{height} | {name} | {median:.2f} s | {runs} | {sizes[name]:,} | {median / base:.2f} |")
    print("\nThe credentials' own work on the 4000x3000 job's files, each step timed alone (median of the runs), "
          "since the whole save above varies more from run to run than they cost:\n")
    print("| step | median |")
    print("|---|---|")
    big = photo_result(4000, 3000)
    png = variant_png(big, 0, Credentials(disclosure=False))
    psd = ResultStore(scratch / "sidecar", 14, 1 << 20, Credentials()).save(big, "job").psd
    provenance_big = result_provenance(big, 0)
    steps = {
        "source ingredient (256-pixel JPEG of the source)": lambda: result_provenance(big, 0),
        "disclosure + parameters into the 17 MB variant PNG": lambda: stamp(png, "png", provenance_big,
                                                                             Credentials()),
        "+ signing its C2PA manifest": lambda: stamp(png, "png", provenance_big, Credentials(signing_key=key)),
        "sidecar manifest of the 80 MB PSD": lambda: sidecar_manifest(psd, provenance_big,
                                                                      Credentials(signing_key=key)),
    }
    for name, step in steps.items():
        seconds = []
        for _ in range(RUNS):
            start = time.perf_counter()
            step()
            seconds.append(time.perf_counter() - start)
        print(f"| {name} | {statistics.median(seconds) * 1000:.0f} ms |")
    print("\nStamping one 1024x1024 deliverable (disclosure, parameters text where the format has one, signed "
          "manifest where c2pa embeds one), median of the runs:\n")
    print("| format | encoded | stamped | added | stamp time |")
    print("|---|---|---|---|---|")
    result = photo_result(1024, 1024)
    provenance = result_provenance(result, 0)
    assert result.source is not None
    for fmt in ("png", "jpeg", "webp", "tiff", "avif"):
        encoded = _encoded(result.source, fmt)
        seconds = []
        for _ in range(RUNS):
            start = time.perf_counter()
            stamped = stamp(encoded, fmt, provenance, Credentials(signing_key=key))
            seconds.append(time.perf_counter() - start)
        print(f"| {fmt} | {len(encoded):,} | {len(stamped):,} | {len(stamped) - len(encoded):,} | "
              f"{statistics.median(seconds) * 1000:.0f} ms |")


def _encoded(pixels: np.ndarray, fmt: str) -> bytes:
    out = io.BytesIO()
    image = Image.fromarray(pixels[..., :3], "RGB")
    image.save(out, format=fmt.upper(), **({"quality": 85} if fmt in ("jpeg", "webp", "avif") else {}))
    return out.getvalue()


if __name__ == "__main__":
    main()

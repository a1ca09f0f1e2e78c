"""`make bench`: fill quality on real photographs, the classic engine against OpenCV's Telea.

scikit-image's bundled sample photos (no network at run time) each lose a
square at three sizes; both engines fill it through the same pipeline
(planner, composer, default grow/feather/colour match), so only the engine
differs. Per image and size it reports:
- texture: high-frequency energy in the hole over the ring around it
  (`underpaint.imaging.quality.texture_ratio`; the original photo's own
  value is the reference, a blur scores near 0);
- seam: gradient across the blend's edge over the source's nearby (mean;
  about 1 is seamless);
- seconds per megapixel of filled area.
The summary of texture and seam against BASELINE averages every fill over
QUALITY_SEEDS, since one seed's fill of a large hole can copy the wrong
thing and swing a mean. Then `underpaint fill` on a 4000x3000 photo with a 600x400 soft selection,
end to end through a running agent. Prints Markdown for docs/benchmarks.md.

Before and after in one run: the classic engine of BASELINE (the commit
before issue 17's speed work, taken with `git archive`) runs the same fills
in a subprocess, interleaved with today's, so both see the same machine:
wall time with every thread, and CPU seconds with one (`NUMBA_NUM_THREADS=1`,
`time.process_time`), which other work on a shared machine disturbs least.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image
from skimage import data

from run import machine
from underpaint.core import JobSpec, Mode, Params, Rect, Size
from underpaint.core.capabilities import EngineCapabilities
from underpaint.engines.base import CancelToken, Engine, ModellessEngine, ProgressSink, WorkItem
from underpaint.engines.classic import ClassicEngine
from underpaint.imaging.blend import blend_masked
from underpaint.imaging.quality import seam_ratio, texture_ratio
from underpaint.jobs.pipeline import run_pipeline
from underpaint.results.layered import LayeredResult

PHOTOS = ["astronaut", "coffee", "chelsea", "rocket", "camera", "brick", "grass", "gravel"]
HOLE_SIZES = (0.08, 0.2, 0.35)
"""Side of the square hole as a fraction of the photo's short side."""
LARGE = HOLE_SIZES[-1]
"""The large holes, whose seconds per megapixel issue 17 asks to cut."""
BASELINE = "3d2a827"
"""The commit whose classic engine is the "before" of the speed comparison."""
QUALITY_SEEDS = (0, 1, 2)
SPEED_ROUNDS = int(os.environ.get("BENCH_QUALITY_ROUNDS", 2))
ROOT = Path(__file__).resolve().parent.parent


class Telea(ModellessEngine):
    """OpenCV's fast-marching inpainting (diffusion, no texture) as an engine, for the baseline."""

    @property
    def capabilities(self) -> EngineCapabilities:
        caps = ClassicEngine().capabilities
        return EngineCapabilities(name="telea", modes=caps.modes, uses_prompt=False, native_min=caps.native_min,
                                  native_max=caps.native_max, multiple=caps.multiple, max_pixels=caps.max_pixels)

    def run(self, work: WorkItem, progress: ProgressSink, cancel: CancelToken) -> Iterator[np.ndarray]:
        assert work.image is not None and work.mask is not None
        for _ in work.seeds:
            yield cv2.inpaint(work.image, work.mask, 5, cv2.INPAINT_TELEA)


def _quiet(variant: int, step: int, steps: int, preview: np.ndarray | None = None) -> None:
    pass


def photo(name: str) -> np.ndarray:
    rgb = getattr(data, name)()
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, axis=-1)
    return np.concatenate([rgb[..., :3], np.full((*rgb.shape[:2], 1), 255, np.uint8)], axis=-1)


def hole(shape: tuple[int, ...], fraction: float, seed: int) -> np.ndarray:
    height, width = shape[:2]
    side = round(min(height, width) * fraction)
    rng = np.random.default_rng(seed)
    y = int(rng.integers(height // 6, height - side - height // 6 + 1))
    x = int(rng.integers(width // 6, width - side - width // 6 + 1))
    mask = np.zeros((height, width), np.uint8)
    mask[y : y + side, x : x + side] = 255
    return mask


def composite(result: LayeredResult) -> tuple[np.ndarray, np.ndarray]:
    """The first variant over the source, and its layer mask, in the source's coordinates."""
    assert result.source is not None
    layer = result.layers[0]
    image = result.source.copy()
    mask = np.zeros(image.shape[:2], np.uint8)
    b = layer.bounds.offset(-result.region.x, -result.region.y)
    window = image[b.y : b.bottom, b.x : b.right]
    window[...] = blend_masked(window, layer.pixels, layer.mask)
    mask[b.y : b.bottom, b.x : b.right] = layer.mask
    return image, mask


def measure(engine: Engine, image: np.ndarray, mask: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    height, width = mask.shape
    spec = JobSpec(job_id="q", mode=Mode.FILL, params=Params(seed=seed), document=Size(width=width, height=height),
                   region=Rect(x=0, y=0, width=width, height=height), image=image, mask=mask)
    start = time.perf_counter()
    result = run_pipeline(spec, engine, _quiet, CancelToken())
    seconds = time.perf_counter() - start
    filled, layer_mask = composite(result)
    selected = mask > 0
    # The reference ring starts beyond the blend's soft edge, where the pixels are the source's.
    gap = int(np.ceil(cv2.distanceTransform((~selected).astype(np.uint8), cv2.DIST_L2, 3)[layer_mask > 0].max()))
    texture = texture_ratio(filled, selected, image, gap=gap)
    return texture, seam_ratio(filled, image, layer_mask)[0], seconds / (selected.sum() / 1e6)


def warm_up() -> None:
    # numba compiles (or loads its cache) on the first call, which is not the engine's speed.
    image = photo("coffee")
    list(run_pipeline(JobSpec(job_id="w", mode=Mode.FILL, params=Params(), document=Size(width=600, height=400),
                              region=Rect(x=0, y=0, width=600, height=400), image=image,
                              mask=hole(image.shape, 0.08, 0)), ClassicEngine(), _quiet, CancelToken()).layers)


def fills() -> Iterator[tuple[str, float, np.ndarray, np.ndarray]]:
    for index, name in enumerate(PHOTOS):
        image = photo(name)
        for fraction in HOLE_SIZES:
            yield name, fraction, image, hole(image.shape, fraction, index)


def classic_figures() -> list[tuple[float, float, float]]:
    """(texture, seam, s/MP) of the classic engine on every fill, `fills` order within QUALITY_SEEDS order."""
    warm_up()
    return [measure(ClassicEngine(), image, mask, seed) for seed in QUALITY_SEEDS for _, _, image, mask in fills()]


def quality_table(before_seeds: list[tuple[float, float, float]]) -> tuple[list[str], list[str]]:
    """The table rows (today's engine, BASELINE's, Telea; the first seed) and a summary of before
    against after over every seed."""
    after_seeds = classic_figures()
    count = len(after_seeds) // len(QUALITY_SEEDS)
    before = before_seeds[:count]
    rows = ["| photo | hole | original texture | classic texture | before | Telea texture | classic seam | before "
            "| Telea seam | classic s/MP | before | Telea s/MP |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    wins = 0
    originals: list[float] = []
    large: list[int] = []
    for index, ((name, fraction, image, mask), (bt, bs, bm), (ct, cs, cm)) in enumerate(
        zip(fills(), before, after_seeds[:count], strict=True)
    ):
        tt, ts, tm = measure(Telea(), image, mask)
        original = texture_ratio(image, mask > 0, image)
        side = round(min(image.shape[:2]) * fraction)
        rows.append(f"| {name} {image.shape[1]}x{image.shape[0]} | {side}x{side} | {original:.2f} | "
                    f"**{ct:.2f}** | {bt:.2f} | {tt:.2f} | {cs:.2f} | {bs:.2f} | {ts:.2f} | {cm:.1f} | {bm:.1f} "
                    f"| {tm:.1f} |")
        wins += ct > 2 * tt
        originals.append(original)
        large += [index + seed * count for seed in range(len(QUALITY_SEEDS))] if fraction == LARGE else []
    seeds = ", ".join(map(str, QUALITY_SEEDS))
    summary = [f"The classic engine keeps more than twice Telea's texture on {wins} of {count} fills.", "",
               f"| mean over all fills, seeds {seeds} | before | after | over the large holes: before | after |",
               "|---|---|---|---|---|"]
    every = originals * len(QUALITY_SEEDS)
    for label, figure in (("texture off the original's, \\|log(classic / original)\\|", _texture_error),
                          ("seam off seamless, \\|seam - 1\\|", _seam_error)):
        old, new = figure(before_seeds, every), figure(after_seeds, every)
        old_large = figure([before_seeds[i] for i in large], [every[i] for i in large])
        new_large = figure([after_seeds[i] for i in large], [every[i] for i in large])
        summary.append(f"| {label} | {old:.3f} | {new:.3f} | {old_large:.3f} | {new_large:.3f} |")
    return rows, summary


def _texture_error(figures: list[tuple[float, float, float]], originals: list[float]) -> float:
    # Floors at 0.01 keep a flat photo (rocket's sky: 0.00) from dividing by zero.
    return statistics.mean(abs(np.log(max(t, 0.01) / max(o, 0.01))) for (t, _, _), o in zip(figures, originals,
                                                                                          strict=True))


def _seam_error(figures: list[tuple[float, float, float]], originals: list[float]) -> float:
    return statistics.mean(abs(s - 1) for _, s, _ in figures)


def cli_inputs() -> tuple[np.ndarray, np.ndarray]:
    """The 4000x3000 photo (coffee, scaled up, with sensor-like grain) and its 600x400 soft ellipse."""
    image = cv2.resize(data.coffee(), (4000, 3000), interpolation=cv2.INTER_CUBIC)
    image = np.clip(image + np.random.default_rng(0).normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    ys, xs = np.mgrid[0:3000, 0:4000].astype(np.float32)
    r = np.sqrt(((xs - 2300) / 300) ** 2 + ((ys - 1500) / 200) ** 2)
    mask = (np.clip((1 - r) / 0.2, 0, 1) * 255).astype(np.uint8)
    return image, mask


def engine_speed() -> dict[str, float]:
    """Seconds per megapixel of hole of the classic engine that imports here, wall and CPU: the
    large holes through the pipeline, and the 12 MP fill in-process (`underpaint.fill`, decode
    included)."""
    from underpaint import api

    warm_up()
    start, cpu, pixels = time.perf_counter(), time.process_time(), 0
    for _, fraction, image, mask in fills():
        if fraction == LARGE:
            run_pipeline(JobSpec(job_id="s", mode=Mode.FILL, params=Params(),
                                 document=Size(width=mask.shape[1], height=mask.shape[0]),
                                 region=Rect(x=0, y=0, width=mask.shape[1], height=mask.shape[0]), image=image,
                                 mask=mask), ClassicEngine(), _quiet, CancelToken())
            pixels += int((mask > 0).sum())
    large, large_cpu = (time.perf_counter() - start) / (pixels / 1e6), (time.process_time() - cpu) / (pixels / 1e6)
    image, mask = cli_inputs()
    hole_mp = int((mask > 0).sum()) / 1e6
    with tempfile.TemporaryDirectory() as folder:
        Image.fromarray(image).save(Path(folder) / "photo.png", compress_level=1)
        Image.fromarray(mask).save(Path(folder) / "mask.png")
        start, cpu = time.perf_counter(), time.process_time()
        api.fill(Path(folder) / "photo.png", Path(folder) / "mask.png")
        photo, photo_cpu = (time.perf_counter() - start) / hole_mp, (time.process_time() - cpu) / hole_mp
    return {"large": large, "large_cpu": large_cpu, "photo_fill": photo, "photo_fill_cpu": photo_cpu,
            "photo_hole_mp": hole_mp}


def baseline(folder: Path) -> dict[str, str]:
    """The environment that makes a subprocess import BASELINE's package, extracted under `folder`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE, "agent/underpaint"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return os.environ | {"PYTHONPATH": str(folder / "agent")}


def in_subprocess(mode: str, env: dict[str, str] | None = None) -> Any:
    out = subprocess.run([sys.executable, __file__, mode], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.splitlines()[-1])


def compare_speed(before: dict[str, str]) -> dict[str, list[dict[str, float]]]:
    """Both engines' `engine_speed`, interleaved, SPEED_ROUNDS each, each in a fresh process: on
    every thread ("before", "after") and on one ("before 1 thread", "after 1 thread")."""
    one = {"NUMBA_NUM_THREADS": "1"}
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": [], "before 1 thread": [],
                                               "after 1 thread": []}
    for _ in range(SPEED_ROUNDS):
        runs["before"].append(in_subprocess("--engine-speed", before))
        runs["after"].append(in_subprocess("--engine-speed"))
        runs["before 1 thread"].append(in_subprocess("--engine-speed", before | one))
        runs["after 1 thread"].append(in_subprocess("--engine-speed", dict(os.environ) | one))
    return runs


def cli_fill() -> tuple[float, float]:
    """Median seconds of `underpaint fill` (4000x3000, 600x400 soft ellipse, one variant) and in-process."""
    image, mask = cli_inputs()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        Image.fromarray(image).save(tmp / "photo.png", compress_level=1)
        Image.fromarray(mask).save(tmp / "mask.png")
        env = os.environ | {"UNDERPAINT_DATA_DIR": str(tmp / "data"), "UNDERPAINT_CONFIG_DIR": str(tmp / "config"),
                            "UNDERPAINT_PORT": "7499"}
        cli = [sys.executable, "-m", "underpaint"]
        agent = subprocess.Popen([*cli, "serve", "--log-level", "warning"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(3)
            runs = []
            for i in range(3):
                start = time.perf_counter()
                subprocess.run([*cli, "fill", str(tmp / "photo.png"), "--mask", str(tmp / "mask.png"),
                                "--out", str(tmp / f"out{i}.psd"), "--port", "7499", "--json",
                                "--variants", "1", "--seed", str(i)],
                               env=env, check=True, stdout=subprocess.DEVNULL)
                runs.append(time.perf_counter() - start)
        finally:
            agent.terminate()
            agent.wait(10)
        from underpaint import api

        start = time.perf_counter()
        api.fill(tmp / "photo.png", tmp / "mask.png")
        return statistics.median(runs), time.perf_counter() - start


def main() -> None:
    if sys.argv[1:] == ["--engine-speed"]:
        print(json.dumps(engine_speed()))
        return
    if sys.argv[1:] == ["--classic-figures"]:
        print(json.dumps(classic_figures()))
        return
    with tempfile.TemporaryDirectory(prefix="underpaint-baseline-") as folder:
        before_env = baseline(Path(folder))
        before = [(float(t), float(s), float(m)) for t, s, m in in_subprocess("--classic-figures", before_env)]
        speed = compare_speed(before_env)
    rows, summary = quality_table(before)
    end_to_end, in_process = cli_fill()
    print(f"## Fill quality: classic engine vs Telea ({time.strftime('%Y-%m-%d')})\n")
    print(f"Machine: {machine()}, no GPU; CPU flags: {cpu_flags()}; load average {os.getloadavg()[0]:.1f} "
          "at the end (other work shares the cores: read the ratios).\n")
    print("\n".join(rows))
    print("\n" + "\n".join(summary) + "\n")
    print(f"`underpaint fill` 4000x3000 photo, 600x400 soft selection, 1 variant, through a running agent "
          f"(CLI process start, upload, fill, PSD + PNG download): **{end_to_end:.2f} s** median of 3; "
          f"the same fill in-process (`underpaint.fill`, decode included): {in_process:.2f} s.\n")
    print(f"### Classic engine speed, before ({BASELINE}) and after, interleaved, {SPEED_ROUNDS} rounds\n")
    print("| measure (median of the rounds) | before | after | after / before |\n|---|---|---|---|")
    hole_mp = speed["after"][0]["photo_hole_mp"]
    large = f"large holes ({LARGE:.0%} of the short side, 8 photos)"
    photo = f"4000x3000 fill in-process ({hole_mp:.2f} MP hole)"
    for label, runs, key in ((f"{large}, wall s/MP of hole, every thread", "", "large"),
                             (f"{large}, CPU s/MP of hole, one thread", " 1 thread", "large_cpu"),
                             (f"{photo}, wall s/MP of hole, every thread", "", "photo_fill"),
                             (f"{photo}, CPU s/MP of hole, one thread", " 1 thread", "photo_fill_cpu")):
        old = statistics.median(r[key] for r in speed["before" + runs])
        new = statistics.median(r[key] for r in speed["after" + runs])
        print(f"| {label} | {old:.1f} | **{new:.1f}** | {new / old:.2f} ({old / new:.1f}x faster) |")


def cpu_flags() -> str:
    from underpaint.engines.diffusers.device import NATIVE_BF16_FLAGS, cpu_facts

    facts = cpu_facts()
    shown = sorted(flag for flag in facts.flags if flag in NATIVE_BF16_FLAGS or flag.startswith("amx"))
    return ", ".join(shown) or "no bf16/AMX flags"


if __name__ == "__main__":
    main()

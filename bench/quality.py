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
Then `underpaint fill` on a 4000x3000 photo with a 600x400 soft selection,
end to end through a running agent. Prints Markdown for docs/benchmarks.md.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data

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


def measure(engine: Engine, image: np.ndarray, mask: np.ndarray) -> tuple[float, float, float]:
    height, width = mask.shape
    spec = JobSpec(job_id="q", mode=Mode.FILL, params=Params(), document=Size(width=width, height=height),
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


def quality_table() -> tuple[list[str], int, int]:
    # One fill first: numba compiles (or loads its cache) on the first call, which is not the engine's speed.
    warm = photo("coffee")
    list(run_pipeline(JobSpec(job_id="w", mode=Mode.FILL, params=Params(), document=Size(width=600, height=400),
                              region=Rect(x=0, y=0, width=600, height=400), image=warm,
                              mask=hole(warm.shape, 0.08, 0)), ClassicEngine(), _quiet, CancelToken()).layers)
    rows = ["| photo | hole | original texture | classic texture | Telea texture | classic seam | Telea seam "
            "| classic s/MP | Telea s/MP |", "|---|---|---|---|---|---|---|---|---|"]
    wins = total = 0
    for index, name in enumerate(PHOTOS):
        image = photo(name)
        for fraction in HOLE_SIZES:
            mask = hole(image.shape, fraction, index)
            ct, cs, cm = measure(ClassicEngine(), image, mask)
            tt, ts, tm = measure(Telea(), image, mask)
            original = texture_ratio(image, mask > 0, image)
            side = round(min(image.shape[:2]) * fraction)
            rows.append(f"| {name} {image.shape[1]}x{image.shape[0]} | {side}x{side} | {original:.2f} | "
                        f"**{ct:.2f}** | {tt:.2f} | {cs:.2f} | {ts:.2f} | {cm:.1f} | {tm:.1f} |")
            wins += ct > 2 * tt
            total += 1
    return rows, wins, total


def cli_fill() -> tuple[float, float]:
    """Median seconds of `underpaint fill` (4000x3000, 600x400 soft ellipse, one variant) and in-process."""
    image = cv2.resize(data.coffee(), (4000, 3000), interpolation=cv2.INTER_CUBIC)
    image = np.clip(image + np.random.default_rng(0).normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    ys, xs = np.mgrid[0:3000, 0:4000].astype(np.float32)
    r = np.sqrt(((xs - 2300) / 300) ** 2 + ((ys - 1500) / 200) ** 2)
    mask = (np.clip((1 - r) / 0.2, 0, 1) * 255).astype(np.uint8)
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
    rows, wins, total = quality_table()
    end_to_end, in_process = cli_fill()
    print(f"## Fill quality: classic engine vs Telea ({time.strftime('%Y-%m-%d')})\n")
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {platform.system()}, no GPU.\n")
    print("\n".join(rows))
    print(f"\nThe classic engine keeps more than twice Telea's texture on {wins} of {total} fills.\n")
    print(f"`underpaint fill` 4000x3000 photo, 600x400 soft selection, 1 variant, through a running agent "
          f"(CLI process start, upload, fill, PSD + PNG download): **{end_to_end:.2f} s** median of 3; "
          f"the same fill in-process (`underpaint.fill`, decode included): {in_process:.2f} s.")


if __name__ == "__main__":
    main()

"""The upscale path: a region made larger (a super-resolution model, or Lanczos with a light unsharp mask when
none is named), optionally re-detailed in overlapping img2img tiles, returned as a layer like every other.

The result lives in the upscaled document: its recipe's `document` and `region` are the upscaled ones (as an
Expand's recipe keeps the grown canvas), so the PSD opens at the upscaled size with the layer in place. The
Background is the source with each pixel enlarged to a block (nearest neighbour): hiding the layer shows
the image as it was, and sampling each block's centre gives the source back exactly, so the file still holds
the pixels the recipe's `image_sha256` names (what a replay of an upscale will read back). The layer's mask
is the whole region, and there is no saved selection: an upscale changes every pixel.

Refining runs the engine's own `run()` once per tile as a Mode.REFINE WorkItem at strength `refine`, each
tile seeded with its variant's seed (variant i: seed + i), with the model's tile ControlNet steering it from
the tile itself when one is registered. Tiles are as large as the model's native size and blend across
their overlaps (imaging.tiles), so no grid shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from underpaint.core import ErrorCode, JobSpec, Mode, Params, RequestError, Size
from underpaint.core.capabilities import EngineCapabilities
from underpaint.core.conditioning import ControlKind, ControlRef
from underpaint.core.upscale import UpscaleParams
from underpaint.engines.base import CancelToken, Engine, EngineError, ProgressSink, WorkItem
from underpaint.imaging.references import reference_rgb
from underpaint.imaging.resample import blocks, enlarge
from underpaint.imaging.tiles import Blender, Grid
from underpaint.jobs.intake import check_region, pin
from underpaint.jobs.upscale_plan import check_upscale, geometry, upscale_params
from underpaint.results.layered import LayeredResult, VariantLayer, group_name, layer_name
from underpaint.results.recipe import ModelRef, Recipe, pixels_sha256

if TYPE_CHECKING:
    from underpaint.engines.upscalers.book import Upscalers

REFINE_OVERLAP = 4
"""A refine tile shares 1/REFINE_OVERLAP of its side with each neighbour (128 pixels of a 512 tile), blended
over all of it: img2img tiles differ everywhere, so the gentlest ramp hides the change from one to the next."""


def run_upscale(spec: JobSpec, engine: Engine, upscalers: Upscalers | None, progress: ProgressSink,
                cancel: CancelToken, on_layer: Callable[[VariantLayer], None] | None = None) -> LayeredResult:
    """`spec` (Mode.UPSCALE) made larger; each layer goes to `on_layer` as soon as its variant is ready."""
    caps = engine.capabilities_for(spec.params.model)
    check_region(spec.region, spec.document, spec.job_id)
    image = _source(spec)
    upscale = upscale_params(spec.params, spec.job_id)
    target = check_upscale(spec.params, spec.region, caps, spec.job_id)
    warnings = list(spec.input_warnings)
    if spec.mask is not None:
        warnings.append("An upscale enlarges its whole region; the mask was not used.")
    if upscale.refine == 0 and spec.params.variants > 1:
        warnings.append(f"Without refine an upscale has one result, not {spec.params.variants} variants.")
    params = _pinned(spec, engine, upscalers, upscale, caps)
    seeds = params.seeds()
    enlarged = _enlarged(image, target, params.upscale, upscalers, progress, cancel, spec.job_id)
    place = geometry(spec.document, spec.region, target)
    group = group_name(params.prompt, Mode.UPSCALE)
    layers: list[VariantLayer] = []
    for index, seed in enumerate(seeds):
        cancel.raise_if_cancelled()
        pixels = enlarged
        if upscale.refine > 0:
            pixels = enlarged.copy()
            pixels[..., :3] = _refined(enlarged[..., :3], engine, caps, params, seed, spec, index, progress, cancel)
        layer = VariantLayer(index=index, seed=seed, name=layer_name(group, index, seed), bounds=place.region,
                             pixels=pixels, mask=np.full(pixels.shape[:2], 255, np.uint8), visible=index == 0)
        layers.append(layer)
        if on_layer is not None:
            on_layer(layer)
    identity = engine.model_identity(params.model) if upscale.refine > 0 else None
    return LayeredResult(
        group_name=group,
        source=blocks(image, target),
        layers=layers,
        recipe=Recipe(engine=caps.name, model=ModelRef(name=identity[0], sha256=identity[1]) if identity else None,
                      mode=Mode.UPSCALE, params=params, seeds=seeds, document=place.document, region=place.region,
                      image_sha256=pixels_sha256(spec.image), style=spec.style, set_id=spec.set_id,
                      sent_document=spec.document, sent_region=spec.region),
        warnings=warnings,
    )



def _source(spec: JobSpec) -> np.ndarray:
    expected = (spec.region.height, spec.region.width, 4)
    if spec.image is None or spec.image.dtype != np.uint8 or spec.image.shape != expected:
        got = "none" if spec.image is None else f"{spec.image.dtype} {spec.image.shape}"
        raise RequestError(ErrorCode.BAD_IMAGE, f"An upscale needs the region's image as RGBA8 {expected}, got {got}.",
                           spec.job_id)
    return spec.image


def _pinned(spec: JobSpec, engine: Engine, upscalers: Upscalers | None, upscale: UpscaleParams,
            caps: EngineCapabilities) -> Params:
    """The params the recipe records: the upscaler's hash, and for a refine the tile ControlNet it uses and
    every add-on's hash; a single variant when nothing varies between variants."""
    if upscale.upscaler is not None:
        if upscalers is None:
            raise RequestError(ErrorCode.UNKNOWN_UPSCALER, f"No upscaler named '{upscale.upscaler}': this agent "
                                                           "keeps no upscalers.", spec.job_id)
        upscale = upscalers.pin(upscale, spec.job_id)
    update: dict[str, object] = {"upscale": upscale}
    if upscale.refine == 0:
        update["variants"] = 1
    elif not spec.params.controls:
        tile = next((name for name, kind in caps.controlnets if kind is ControlKind.TILE), None)
        if tile is not None:
            update["controls"] = (ControlRef(kind=ControlKind.TILE, model=tile, image="source"),)
    params = spec.params.model_copy(update=update)
    return pin(engine, params, spec.job_id) if upscale.refine > 0 else params


def _enlarged(image: np.ndarray, target: Size, upscale: UpscaleParams | None, upscalers: Upscalers | None,
              progress: ProgressSink, cancel: CancelToken, job_id: str) -> np.ndarray:
    """RGBA8 at `target`: through the upscaler (as many passes as reach the size, then Lanczos to it exactly;
    alpha by Lanczos alone), or Lanczos with a light unsharp mask when none is named."""
    if upscale is None or upscale.upscaler is None or upscalers is None:
        enlarged = enlarge(image, target)
        progress(0, 1, 1)
        return enlarged
    model = upscalers.load(upscale.upscaler, job_id)
    # Tiles of every pass counted first, so progress runs once from 0 to all of them.
    passes: list[int] = []
    height, width = image.shape[:2]
    while not passes or width < target.width or height < target.height:
        passes.append(len(model.grid(Size(width=width, height=height)).tiles()))
        width, height = width * model.scale, height * model.scale
    rgb = np.ascontiguousarray(image[..., :3])
    for number in range(len(passes)):
        before = sum(passes[:number])

        def each_tile(done: int, _count: int, before: int = before) -> None:
            progress(0, before + done, sum(passes))

        rgb = model.enlarge(rgb, each_tile, cancel)
    if (rgb.shape[1], rgb.shape[0]) != (target.width, target.height):
        rgb = np.asarray(Image.fromarray(rgb).resize((target.width, target.height), Image.Resampling.LANCZOS))
    alpha = image[..., 3]
    if bool((alpha == 255).all()):
        grown_alpha = np.full((target.height, target.width), 255, np.uint8)
    else:
        grown_alpha = np.asarray(Image.fromarray(alpha).resize((target.width, target.height),
                                                               Image.Resampling.LANCZOS))
    return np.dstack([rgb, grown_alpha])


def _refined(rgb: np.ndarray, engine: Engine, caps: EngineCapabilities, params: Params, seed: int, spec: JobSpec,
             variant: int, progress: ProgressSink, cancel: CancelToken) -> np.ndarray:
    """`rgb` re-detailed tile by tile with img2img at strength `refine`, every tile on `seed`, blended."""
    assert params.upscale is not None
    height, width = rgb.shape[:2]
    multiple = max(caps.multiple, 1)
    tile = max(multiple, caps.native_min // multiple * multiple)
    # The engine works in multiples of `multiple`: pad by edge pixels to the next one, crop after.
    padded = np.pad(rgb, ((0, -height % multiple), (0, -width % multiple), (0, 0)), mode="edge")
    grid = Grid.over(Size(width=padded.shape[1], height=padded.shape[0]), tile, tile // REFINE_OVERLAP, multiple,
                     edge=0.0)
    blender = Blender(grid, 3)
    tiles = grid.tiles()
    tile_params = params.model_copy(update={"strength": params.upscale.refine, "variants": 1})
    references = tuple(reference_rgb(image) for image in spec.reference_images)
    for number, rect in enumerate(tiles):
        cancel.raise_if_cancelled()
        piece = np.ascontiguousarray(padded[rect.y : rect.bottom, rect.x : rect.right])
        work = WorkItem(mode=Mode.REFINE, width=rect.width, height=rect.height, params=tile_params, seeds=[seed],
                        image=piece, mask=np.full((rect.height, rect.width), 255, np.uint8),
                        control_images=tuple(piece for _ in params.controls), reference_images=references)
        outputs = list(engine.run(work, _TileSteps(progress, variant, number, len(tiles)), cancel))
        expected = (rect.height, rect.width, 3)
        if len(outputs) != 1 or outputs[0].shape != expected or outputs[0].dtype != np.uint8:
            raise EngineError(ErrorCode.ENGINE_FAILED, f"{caps.name} returned no uint8 {expected} image for a "
                                                       "refine tile.")
        blender.add(outputs[0])
    return blender.image[:height, :width]



@dataclass(frozen=True)
class _TileSteps:
    """The engine's steps on tile `number` of `count` as the variant's progress over all its tiles (a tile's
    preview is not the image's, so none is passed on)."""

    progress: ProgressSink
    variant: int
    number: int
    count: int

    def __call__(self, variant: int, step: int, steps: int, preview: np.ndarray | None = None) -> None:
        del variant, preview
        self.progress(self.variant, self.number * steps + step, self.count * steps)

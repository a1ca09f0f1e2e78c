"""What an upscale job will make, decided from the request alone: the checks the intake runs before any
pixels arrive, and the geometry the upscale path builds its layer with."""

from __future__ import annotations

from dataclasses import dataclass

from underpaint.core import ErrorCode, Mode, Params, Rect, RequestError, Size
from underpaint.core.capabilities import EngineCapabilities
from underpaint.core.upscale import UpscaleParams


@dataclass(frozen=True)
class UpscaleGeometry:
    """The upscaled `region` inside the upscaled `document`: each side `region.width / request width` times
    larger (the same on both axes within a pixel)."""

    document: Size
    region: Rect


def upscale_params(params: Params, job_id: str | None) -> UpscaleParams:
    if params.upscale is None:
        raise RequestError(ErrorCode.INVALID_MESSAGE, "An upscale job needs params.upscale: a factor (2, 4, 1.5) or "
                                                      "a size.", job_id)
    return params.upscale


def target_size(region: Rect, upscale: UpscaleParams, job_id: str | None) -> Size:
    """The size `region` becomes: by the factor, or the size asked, which must keep the region's aspect ratio
    (within a pixel) and be larger."""
    if upscale.factor is not None:
        return Size(width=max(1, round(region.width * upscale.factor)),
                    height=max(1, round(region.height * upscale.factor)))
    assert upscale.size is not None  # UpscaleParams holds exactly one of the two
    size = upscale.size
    if abs(size.width * region.height / region.width - size.height) > 1:
        raise RequestError(ErrorCode.INVALID_MESSAGE,
                           f"An upscale to {size.width}x{size.height} would stretch the {region.width}x"
                           f"{region.height} region; keep its aspect ratio (or crop first).", job_id)
    if size.width <= region.width or size.height <= region.height:
        raise RequestError(ErrorCode.INVALID_MESSAGE,
                           f"An upscale to {size.width}x{size.height} is no larger than the {region.width}x"
                           f"{region.height} region.", job_id)
    return size


def geometry(document: Size, region: Rect, target: Size) -> UpscaleGeometry:
    """Where the upscaled region lies in the upscaled document: its corner scaled like its sides."""
    sx, sy = target.width / region.width, target.height / region.height
    x, y = round(region.x * sx), round(region.y * sy)
    placed = Rect(x=x, y=y, width=target.width, height=target.height)
    grown = Size(width=max(round(document.width * sx), placed.right),
                 height=max(round(document.height * sy), placed.bottom))
    return UpscaleGeometry(grown, placed)


def check_upscale(params: Params, region: Rect, caps: EngineCapabilities, job_id: str) -> Size:
    """The size an upscale of `region` makes, once it is one the engine can make: a known target and, when it
    refines, an engine that can refine, with no control but a tile ControlNet (invalid_message,
    unsupported_feature)."""
    upscale = upscale_params(params, job_id)
    target = target_size(region, upscale, job_id)
    if upscale.refine > 0 and Mode.REFINE not in caps.modes:
        raise RequestError(ErrorCode.UNSUPPORTED_FEATURE,
                           f"The {caps.name} engine cannot re-detail an upscale (refine {upscale.refine}): it has no "
                           "img2img. Upscale with refine 0, or on an engine that refines (diffusers).", job_id)
    if any(control.kind != "tile" or control.image != "source" for control in params.controls):
        raise RequestError(ErrorCode.UNSUPPORTED_FEATURE,
                           "An upscale's only control is a tile ControlNet on its own pixels (kind 'tile', image "
                           "'source'), used while it refines.", job_id)
    return target


def check_upscale_pixels(target: Size, max_pixels: int, job_id: str) -> None:
    """upscale_too_large when the upscale would make more pixels than the agent takes."""
    if target.width * target.height > max_pixels:
        raise RequestError(ErrorCode.UPSCALE_TOO_LARGE,
                           f"The upscale would make {target.width}x{target.height} = {target.width * target.height} "
                           f"pixels; this agent makes at most {max_pixels}. Upscale less, or a smaller region.",
                           job_id)

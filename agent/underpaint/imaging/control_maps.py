"""Control maps: what a ControlNet sees, at working size, made without model weights.

Each control's image (sent by the client covering the job's output area, or the job's own source) is
cropped to the context and resized exactly as the source is, then, when the control asks for it, turned
into the map its kind's ControlNet was trained on:
- canny: OpenCV's Canny edges of the working-size image, white on black, with the control's thresholds;
- scribble: a drawing binarised to white strokes on black (dark strokes on light paper or light on dark
  alike: the strokes are the smaller class; on a layer with transparency, its opaque pixels);
- tile: the image itself;
- inpaint: the image itself. The SD 1.5 inpaint ControlNet also wants the selection marked as -1,
  which RGB8 cannot hold, so the engine marks it from the job's mask (`inpaint_condition`).
Other kinds (depth, pose, line art...) take the image as it is (sent, or the source): where a
preprocessor model makes their map (depth, segmentation), the engine runs it on that image. Maps are
flattened onto black (transparent carries no control), and an Expand's new strips, which hold no
picture yet, draw no edge where they meet it.
"""

from __future__ import annotations

import cv2
import numpy as np

from underpaint.core import ErrorCode, JobSpec, Mode, RequestError
from underpaint.core.conditioning import ControlKind, ControlRef
from underpaint.imaging.composer import at_working_size
from underpaint.imaging.planner import Plan

OPAQUE = 128
"""Alpha from which a drawing's pixel counts as a stroke."""


def prepare_controls(spec: JobSpec, plan: Plan) -> tuple[np.ndarray, ...]:
    """One RGB8 control map at working size per control of `spec`, in order (`spec` as the planner saw it:
    for an Expand, on the grown canvas, which the sent control images cover)."""
    maps = []
    source = None
    for index, (control, sent) in enumerate(zip(spec.params.controls, spec.control_images, strict=True), start=1):
        if sent is None:
            if spec.image is None:
                raise RequestError(ErrorCode.CONTROL_NEEDS_SOURCE,
                                   f"Control {index} ({control.kind}) is derived from the source, but the job has "
                                   "none; send the control image.", spec.job_id)
            if source is None:
                source = at_working_size(spec.image, plan)
            # An Expand's grown canvas is transparent where it is new (imaging.canvas.expand_canvas).
            blank = source[..., 3] == 0 if spec.mode is Mode.EXPAND else None
            maps.append(control_map(control, source, preprocess=True, blank=blank))
            continue
        covers = (plan.region.height, plan.region.width)
        if sent.dtype != np.uint8 or sent.shape != (*covers, 4):
            raise RequestError(ErrorCode.CONTROL_SIZE_MISMATCH,
                               f"Control {index} ({control.kind})'s image is {sent.dtype} {sent.shape}; it must be "
                               f"RGBA8 covering the job's output area, {covers[1]}x{covers[0]}.", spec.job_id)
        maps.append(control_map(control, at_working_size(sent, plan), preprocess=control.preprocess))
    return tuple(maps)


def control_map(control: ControlRef, image: np.ndarray, preprocess: bool, blank: np.ndarray | None = None
                ) -> np.ndarray:
    """The RGB8 map for `control` from `image` (RGB8 or RGBA8, at working size); `blank` marks pixels with no
    picture, whose border is no edge."""
    if not preprocess:
        return flatten(image)
    if control.kind is ControlKind.CANNY:
        return canny(image, control.low_threshold, control.high_threshold, blank)
    if control.kind is ControlKind.SCRIBBLE:
        return scribble(image)
    return flatten(image)


def flatten(image: np.ndarray) -> np.ndarray:
    """RGB8: an RGBA8 image over black (RGB8 as it is)."""
    if image.shape[2] == 3:
        return np.ascontiguousarray(image)
    alpha = image[..., 3:].astype(np.uint16)
    return ((image[..., :3] * alpha + 127) // 255).astype(np.uint8)


def canny(image: np.ndarray, low: int, high: int, blank: np.ndarray | None = None) -> np.ndarray:
    """White Canny edges on black, as the canny ControlNets were trained on; none on or beside `blank` pixels
    (Canny marks both sides of a border, and resizing softens it by a pixel or two)."""
    edges: np.ndarray = cv2.Canny(flatten(image), low, high)
    if blank is not None and blank.any():
        edges[cv2.dilate(blank.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0] = 0
    return np.repeat(edges[..., None], 3, axis=2)


def scribble(image: np.ndarray) -> np.ndarray:
    """White strokes on black from a drawing: opaque pixels on a transparent layer, else the smaller of the
    two classes Otsu's threshold splits it into (dark lines on paper, or chalk on a board)."""
    if image.shape[2] == 4 and (image[..., 3] < 255).any():
        strokes = image[..., 3] >= OPAQUE
    else:
        grey = cv2.cvtColor(flatten(image), cv2.COLOR_RGB2GRAY)
        _, binary = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        light = binary > 0
        strokes = ~light if light.mean() > 0.5 else light
    return np.repeat(np.where(strokes, np.uint8(255), np.uint8(0))[..., None], 3, axis=2)


def inpaint_condition(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The SD 1.5 inpaint ControlNet's input: float32 (H, W, 3), `image` in [0, 1], -1 where `mask` selects
    (any pixel above 0, as the engine creates it); nothing marked without a mask."""
    condition = flatten(image).astype(np.float32) / 255
    if mask is not None:
        condition[mask > 0] = -1.0
    return condition

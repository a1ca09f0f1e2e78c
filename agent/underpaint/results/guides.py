"""The images that steered a job, kept in its result files so a replay needs no other file.

A sent control image and each reference image are inputs like the source: the
recipe pins their hashes, and the PSD (a plug-in image resource) and each
variant PNG (a private chunk) carry the pixels themselves, as one NumPy .npz
bundle (deflate-compressed .npy arrays, read without pickles). Controls derived
from the source need nothing: the source is there.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import numpy as np

MAX_BUNDLE_BYTES = 4 * 4 * 8192 * 8192
"""Decoded size a bundle may claim: four controls' worth of a large RGBA document. A forged file
claiming more is refused before anything is inflated."""


@dataclass(frozen=True, eq=False)
class Guides:
    """One RGBA8 image per control (None where it was derived from the source) and per reference."""

    controls: tuple[np.ndarray | None, ...] = ()
    references: tuple[np.ndarray, ...] = ()

    @property
    def empty(self) -> bool:
        return all(image is None for image in self.controls) and not self.references


def encode_guides(guides: Guides) -> bytes:
    """The bundle of `guides`' images (positions kept: `control-2` is the third control)."""
    arrays = {f"control-{i}": image for i, image in enumerate(guides.controls) if image is not None}
    arrays |= {f"reference-{i}": image for i, image in enumerate(guides.references)}
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)  # type: ignore[arg-type]
    return out.getvalue()


def decode_guides(data: bytes, controls: int, references: int, where: str) -> Guides:
    """The images of a bundle written for `controls` controls and `references` references.

    Raises ValueError naming `where` when the bundle is damaged, too large, or holds other images.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_BUNDLE_BYTES:
                raise ValueError(f"{where}: the Underpaint guide images claim more than {MAX_BUNDLE_BYTES} bytes")
        with np.load(io.BytesIO(data), allow_pickle=False) as bundle:
            arrays = {name: np.asarray(bundle[name]) for name in bundle.files}
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ValueError(f"{where}: the Underpaint guide images are corrupt ({error})") from None
    expected = {f"control-{i}" for i in range(controls)} | {f"reference-{i}" for i in range(references)}
    if not set(arrays) <= expected:
        raise ValueError(f"{where}: the Underpaint guide images do not match the recipe's controls and references")
    for name, array in arrays.items():
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 4:
            raise ValueError(f"{where}: guide image {name} is not RGBA8")
    if any(f"reference-{i}" not in arrays for i in range(references)):
        raise ValueError(f"{where}: a reference image of the recipe is missing")
    return Guides(tuple(arrays.get(f"control-{i}") for i in range(controls)),
                  tuple(arrays[f"reference-{i}"] for i in range(references)))

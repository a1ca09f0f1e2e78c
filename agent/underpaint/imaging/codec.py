"""Decoding uploaded pixels (raw RGBA8/Gray8 or PNG) and encoding results."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

from underpaint.core import ErrorCode, RequestError

CHANNELS = {"rgba8": 4, "gray8": 1}
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def decode_pixels(
    data: bytes | bytearray, fmt: str, width: int, height: int, channels: int
) -> tuple[np.ndarray, list[str]]:
    """Decode to (height, width, 4) RGBA8 or (height, width) Gray8, with warnings for lossy conversions."""
    if fmt == "png":
        return _decode_png(data, width, height, channels)
    expected = width * height * CHANNELS[fmt]
    if CHANNELS[fmt] != channels:
        raise RequestError(ErrorCode.INVALID_MESSAGE, f"Format {fmt} cannot carry a {channels}-channel image.")
    if len(data) != expected:
        raise RequestError(
            ErrorCode.UPLOAD_SIZE_MISMATCH,
            f"{fmt} at {width}x{height} needs {expected} bytes, got {len(data)}.",
        )
    array = np.frombuffer(data, dtype=np.uint8)
    shape = (height, width, 4) if channels == 4 else (height, width)
    return array.reshape(shape), []


def _decode_png(data: bytes | bytearray, width: int, height: int, channels: int) -> tuple[np.ndarray, list[str]]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Opening reads only the header (IHDR): the size is checked before any pixel is
            # decompressed, so a small file claiming a huge image costs nothing.
            image = Image.open(io.BytesIO(data))
            if image.size != (width, height):
                raise RequestError(
                    ErrorCode.SIZE_MISMATCH,
                    f"The PNG is {image.width}x{image.height} but was announced as {width}x{height}.",
                )
            notes = depth_notes(image)
            image.load()
    except RequestError:
        raise
    except Exception as exc:
        raise RequestError(ErrorCode.BAD_IMAGE, f"The PNG could not be decoded: {exc}.") from exc
    array, more = to_array(image, channels)
    return array, notes + more


def depth_notes(image: Image.Image) -> list[str]:
    """A warning when a not yet loaded 16-bit RGB(A) image will be read as 8 bits.

    Pillow reads 16-bit RGB(A) PNGs as 8-bit RGB(A) without a word; only the
    undecoded tile still says what the file held, so this must run before `load`.
    """
    tiles = getattr(image, "tile", None) or ()
    if image.mode in ("RGB", "RGBA") and any(str(tile.args).endswith(";16B") for tile in tiles):
        return [f"The 16-bit {image.mode} image was converted to 8 bits per channel."]
    return []


def to_array(image: Image.Image, channels: int) -> tuple[np.ndarray, list[str]]:
    """RGBA8 or Gray8 from any Pillow image; 16-bit and other modes are converted with a warning."""
    notes = depth_notes(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F", "RGB;16", "RGBA;16"):
        notes.append(f"The {image.mode} image was converted to 8 bits per channel.")
        scale = 1 / 257 if image.mode != "F" else 255
        image = Image.fromarray(np.clip(np.asarray(image, dtype=np.float64) * scale, 0, 255).astype(np.uint8))
    if channels == 1:
        # Masks may arrive with alpha only (a cut-out); use alpha when the colour carries nothing.
        # A selection is not a colour, so its profile (if any) is not applied.
        if image.mode in ("RGBA", "LA") and image.getextrema()[-1] != (255, 255):
            return np.asarray(image.getchannel("A")), notes
        return np.asarray(image.convert("L")), notes
    image, converted = to_srgb(image)
    return np.asarray(image.convert("RGBA")), notes + converted


def to_srgb(image: Image.Image) -> tuple[Image.Image, list[str]]:
    """`image` in sRGB, the colour space the engines and the PSD assume, converted with LittleCMS
    from the ICC profile it carries (Adobe RGB, Display P3, a CMYK press profile...), with a note.

    Images without a profile, or already sRGB, pass unchanged: converting sRGB to sRGB would only
    add rounding.
    """
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image, []
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        name = ImageCms.getProfileDescription(profile).strip() or "unnamed"
        if "srgb" in name.lower():
            return image, []
        mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(image, profile, _SRGB, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        return image, [f"The image's colour profile could not be read ({exc}); its pixels were taken as sRGB."]
    assert converted is not None  # profileToProfile returns the image unless asked to work in place
    return converted, [f"The image was converted from its colour profile ({name}) to sRGB."]


def raw_bytes(array: np.ndarray) -> memoryview:
    """The array's bytes without a copy (one is made only if it is not contiguous)."""
    return np.ascontiguousarray(array).data.cast("B")


def encode_png(array: np.ndarray, compress_level: int = 1) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


ImageLike = str | Path | Image.Image | np.ndarray


def load_image(image: ImageLike, channels: int) -> tuple[np.ndarray, list[str]]:
    """RGBA8 (channels=4) or Gray8 (channels=1) from a path, a Pillow image or an array."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    if isinstance(image, str | Path):
        with Image.open(image) as opened:
            # to_array loads it, after checking the undecoded bit depth (16-bit RGB is read as 8 silently).
            return to_array(opened, channels)
    return to_array(image, channels)


def load_image_and_mask(image: ImageLike, mask: ImageLike) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """RGBA8 image and Gray8 mask of the same size, with notes on any conversion."""
    pixels, notes = load_image(image, 4)
    selection, mask_notes = load_image(mask, 1)
    if selection.shape != pixels.shape[:2]:
        raise ValueError(f"The mask is {selection.shape[1]}x{selection.shape[0]} but the image is "
                         f"{pixels.shape[1]}x{pixels.shape[0]}; they must match.")
    return pixels, selection, notes + mask_notes

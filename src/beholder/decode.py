"""Decode one image file to an 8-bit RGB ``PIL.Image``, whatever it holds.

Every stage that looks at pixels goes through :func:`open_rgb`, so all of
them see the same picture: EXIF orientation applied, 16-bit data scaled (not
clipped) to 8 bits, transparency composited on a fixed gray, CMYK and
palette images converted. The format comes from the file's content, never
its extension. Anything that cannot be decoded raises
:class:`~beholder.errors.ImageDecodeError` with a short reason.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from beholder.errors import ImageDecodeError

# Transparent pixels are shown on this colour, chosen because it is neither
# dark nor bright and so shifts brightness statistics the least.
BACKGROUND = (128, 128, 128)

# Decoding stops above this many pixels (about 16k x 16k) to bound memory.
MAX_PIXELS = 256_000_000

ImageFile.LOAD_TRUNCATED_IMAGES = False


def open_rgb(path: str | Path, *, draft_size: int | None = None) -> Image.Image:
    """Decode ``path`` to an RGB image with EXIF orientation applied.

    Parameters
    ----------
    path : str or Path
        The image file.
    draft_size : int, optional
        When given, a JPEG is decoded at a reduced scale whose shorter side is
        still at least ``draft_size`` pixels (the decoder's draft mode), which
        is several times faster for statistics and thumbnails.

    Raises
    ------
    ImageDecodeError
        With ``reason`` one of: empty file, not an image, truncated file,
        image too large, unreadable file, decode failed.
    """
    path = Path(path)
    _check_size(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                _check_pixels(path, image)
                if draft_size and image.format == "JPEG":
                    image.draft("RGB", _draft_box(image.size, draft_size))
                image.seek(0)
                image.load()
                oriented = _apply_orientation(image)
                return to_rgb(oriented)
    except ImageDecodeError:
        raise
    except UnidentifiedImageError as error:
        raise ImageDecodeError(path, "not an image", str(error)) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageDecodeError(path, "image too large", str(error)) from None
    except OSError as error:
        reason = "truncated file" if "truncated" in str(error) else "decode failed"
        raise ImageDecodeError(path, reason, str(error)) from None
    except (ValueError, SyntaxError, EOFError, MemoryError) as error:
        raise ImageDecodeError(path, "decode failed", repr(error)) from None


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB without clipping or dropping alpha badly."""
    mode = image.mode
    if mode == "RGB":
        return image.copy()
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _high_depth_to_rgb(image)
    if mode == "P":
        has_alpha = "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
        mode = image.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "L" and "transparency" in image.info:
        return to_rgb(image.convert("LA"))
    return image.convert("RGB")


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    """Scale 16-bit or 32-bit data linearly to 0..255 by its type's range."""
    array = np.asarray(image)
    if image.mode.startswith("I;16") or (array.max(initial=0) > 255):
        top = 65535.0 if array.max(initial=0) <= 65535 else float(array.max())
        array = array.astype(np.float64) * (255.0 / top)
    gray = np.clip(np.rint(array), 0, 255).astype(np.uint8)
    return Image.fromarray(gray, mode="L").convert("RGB")


def _apply_orientation(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - malformed EXIF must never stop a run
        return image


def _check_size(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ImageDecodeError(path, "unreadable file", error.strerror) from None
    if size == 0:
        raise ImageDecodeError(path, "empty file")


def _check_pixels(path: Path, image: Image.Image) -> None:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageDecodeError(
            path, "image too large", f"{width}x{height} exceeds {MAX_PIXELS} pixels"
        )


def _draft_box(size: tuple[int, int], min_side: int) -> tuple[int, int]:
    width, height = size
    scale = max(min_side / max(1, min(width, height)), 1 / 8)
    return max(1, int(width * scale)), max(1, int(height * scale))

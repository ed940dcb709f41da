"""Object scale and framing: how much of the frame the picture itself fills.

A class whose images are small pictures on a uniform border (thumbnails
pasted on a canvas, letterboxed video frames, scans with margins) can be
learned from the border alone. ``content_fraction`` peels uniform rows and
columns off each side and divides the area of the box that is left by the
image area. It is 1.0 for a photograph that fills its frame and 0.25 for
one shrunk to half its width and height on a plain canvas.

A border counts only when the opposite side has one of the same colour, as
padding and letterboxing do. A clear or blown-out sky along the top edge,
or a black silhouette along the bottom, is uniform too but has no match on
the other side, and real photographs have many such edges.
"""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image

from beholder.decode import open_rgb
from beholder.errors import ImageDecodeError

logger = logging.getLogger(__name__)

# Border pixels may differ from the border colour by this much (0..255) per
# channel: enough for JPEG noise on a flat canvas.
DEFAULT_TOLERANCE = 10
# Share of a row or column that must match the border colour, so that a few
# ringing pixels at the picture's edge do not end the border early.
_MATCHING_SHARE = 0.98


def measure_content_fraction(
    image: Image.Image | np.ndarray, *, tolerance: int = DEFAULT_TOLERANCE
) -> float:
    """Return the share of the image area inside its uniform border.

    Parameters
    ----------
    image : PIL.Image or ndarray of shape (height, width, 3), uint8
    tolerance : int, default 10
        Maximum per-channel difference (0..255) from the colour of the
        outermost row or column for a pixel to count as border.

    Returns
    -------
    float
        In ``[0, 1]``; 0.0 when the whole image is one uniform colour.
    """
    if isinstance(image, Image.Image):
        image = image.convert("RGB")
    pixels = np.asarray(image)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(
            f"image must be RGB with shape (height, width, 3), got {pixels.shape}."
        )
    pixels = pixels.astype(np.int16)
    height, width = pixels.shape[:2]

    top, bottom = _paired_borders(pixels, tolerance)
    if top + bottom >= height:
        return 0.0
    columns = pixels[top : height - bottom].transpose(1, 0, 2)
    left, right = _paired_borders(columns, tolerance)
    if left + right >= width:
        return 0.0
    return float((height - top - bottom) * (width - left - right) / (height * width))


def _paired_borders(pixels: np.ndarray, tolerance: int) -> tuple[int, int]:
    """Border depths at the first and last rows, or zeros unless both match."""
    near, near_colour = _border_depth(pixels, tolerance)
    far, far_colour = _border_depth(pixels[::-1], tolerance)
    if near == 0 or far == 0:
        return 0, 0
    if np.abs(near_colour - far_colour).max() > 2 * tolerance:
        return 0, 0
    return near, far


def _border_depth(pixels: np.ndarray, tolerance: int) -> tuple[int, np.ndarray]:
    """Count the leading rows of ``pixels`` that match the first row's colour.

    Returns the count and that colour (the first row's per-channel median).
    """
    colour = np.median(pixels[0], axis=0)
    if not _matches(pixels[:1], colour, tolerance)[0]:
        return 0, colour  # most photographs: no border, so skip the full comparison
    matching = _matches(pixels, colour, tolerance)
    if matching.all():
        return len(matching), colour
    return int(np.argmin(matching)), colour


def _matches(rows: np.ndarray, colour: np.ndarray, tolerance: int) -> np.ndarray:
    close = np.abs(rows - colour).max(axis=2) <= tolerance
    return close.mean(axis=1) >= _MATCHING_SHARE


def compute_content_fractions(
    paths, *, max_side: int = 128, progress=None
) -> np.ndarray:
    """Measure :func:`measure_content_fraction` for each image file.

    Images are decoded at about ``max_side`` pixels (JPEG draft mode, then a
    thumbnail), so borders are measured on that thumbnail's pixel grid.

    Returns
    -------
    ndarray of shape (n_images,), float
        NaN where the file could not be decoded.
    """
    fractions = np.full(len(paths), np.nan)
    if progress is not None:
        progress.stage("content fraction", len(paths))
    n_failed = 0
    for i, path in enumerate(paths):
        try:
            image = open_rgb(path, draft_size=max_side)
        except ImageDecodeError as error:
            n_failed += 1
            logger.debug("content fraction skipped %s: %s", path, error.reason)
        else:
            image.thumbnail((max_side, max_side))
            fractions[i] = measure_content_fraction(image)
        if progress is not None:
            progress.advance()
    if n_failed:
        logger.warning(
            "content fraction: %d of %d images failed to decode", n_failed, len(paths)
        )
    return fractions

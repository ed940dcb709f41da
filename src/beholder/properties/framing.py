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
    image : PIL.Image, or ndarray of shape (height, width) or (height, width, 3)
        An 8-bit image. A PIL image in a mode other than ``"L"`` is converted
        to RGB; an array with two dimensions is read as one gray channel.
    tolerance : int, default 10
        Maximum per-channel difference (0..255) from the colour of the
        outermost row or column for a pixel to count as border.

    Returns
    -------
    float
        In ``[0, 1]``; 0.0 when the whole image is one uniform colour.
    """
    if isinstance(image, Image.Image) and image.mode != "L":
        image = image.convert("RGB")
    pixels = np.asarray(image)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3) or 0 in pixels.shape:
        raise ValueError(
            "image must be gray with shape (height, width) or RGB with shape "
            f"(height, width, 3), got {pixels.shape}."
        )
    height, width = pixels.shape[:2]

    top, bottom = _paired_borders(pixels, tolerance)
    if top + bottom >= height:
        return 0.0
    columns = pixels[top : height - bottom].transpose(1, 0, 2)
    left, right = _paired_borders(columns, tolerance)
    if left + right >= width:
        return 0.0
    return float((height - top - bottom) * (width - left - right) / (height * width))


def content_fractions(
    stack: np.ndarray, *, tolerance: int = DEFAULT_TOLERANCE
) -> np.ndarray:
    """Return :func:`measure_content_fraction` of each image in a stack.

    ``stack`` has shape ``(k, height, width)`` or ``(k, height, width, 3)``,
    8-bit. The outer rows and columns of all images are tested at once, and
    only images with a matching pair of them are measured one by one, so a
    stack of photographs costs a few array operations.
    """
    pixels = stack if stack.ndim == 4 else stack[..., None]
    rows = pixels[:, [0, -1]].astype(np.int16)
    columns = pixels[:, :, [0, -1]].transpose(0, 2, 1, 3).astype(np.int16)
    bordered = _edge_pairs_match(rows, tolerance) | _edge_pairs_match(
        columns, tolerance
    )
    fractions = np.ones(len(stack))
    for i in np.flatnonzero(bordered):
        fractions[i] = measure_content_fraction(stack[i], tolerance=tolerance)
    return fractions


def _edge_pairs_match(edges: np.ndarray, tolerance: int) -> np.ndarray:
    """Return whether both edges of each pair are uniform and of a similar colour.

    ``edges`` has shape ``(k, 2, length, channels)``; returns ``(k,)`` bools.
    This is the first test of :func:`_paired_borders`, for many images.
    """
    k = len(edges)
    colours = _row_colours(edges.reshape(2 * k, *edges.shape[2:]))
    uniform = _matches(edges.reshape(2 * k, *edges.shape[2:]), colours, tolerance)
    colours = colours.reshape(k, 2, -1)
    similar = np.abs(colours[:, 0] - colours[:, 1]).max(axis=1) <= 2 * tolerance
    return uniform.reshape(k, 2).all(axis=1) & similar


def _paired_borders(pixels: np.ndarray, tolerance: int) -> tuple[int, int]:
    """Border depths at the first and last rows, or zeros unless both match.

    ``pixels`` has shape ``(rows, length, channels)``, any integer type.
    """
    edges = pixels[[0, -1]].astype(np.int16)
    colours = _row_colours(edges)
    if not _matches(edges, colours, tolerance).all():
        return 0, 0  # most photographs: no border, so skip the full comparison
    if np.abs(colours[0] - colours[1]).max() > 2 * tolerance:
        return 0, 0
    near = _border_depth(pixels, colours[0], tolerance)
    far = _border_depth(pixels[::-1], colours[1], tolerance)
    return near, far


def _row_colours(rows: np.ndarray) -> np.ndarray:
    """Per-channel median of each row, the lower middle value for even lengths."""
    return np.sort(rows, axis=1)[:, (rows.shape[1] - 1) // 2]


def _border_depth(pixels: np.ndarray, colour: np.ndarray, tolerance: int) -> int:
    """Count the leading rows of ``pixels`` that match ``colour``."""
    matching = _matches(pixels.astype(np.int16), colour[None], tolerance)
    if matching.all():
        return len(matching)
    return int(np.argmin(matching))


def _matches(rows: np.ndarray, colours: np.ndarray, tolerance: int) -> np.ndarray:
    """Return whether each row has enough pixels within ``tolerance`` of its colour.

    ``rows`` has shape ``(n, length, channels)`` and ``colours`` ``(n, channels)``.
    """
    close = (np.abs(rows - colours[:, None]) <= tolerance).all(axis=2)
    return close.sum(axis=1) >= _MATCHING_SHARE * rows.shape[1]


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

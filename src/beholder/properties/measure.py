"""Measure images from one reduced decode each.

Each file is decoded once through :func:`beholder.decode.decode_image`, the
sibling of ``open_rgb`` that also returns the full size and format. The
decode uses the JPEG draft mode: a JPEG is decoded at the smallest
power-of-two scale whose shorter side is still at least
:data:`WORKING_SIZE` pixels, and other files are shrunk by the same factor
by averaging blocks. Gray files stay one channel. From that reduced image
come a luminance histogram, the sharpness, the low DCT frequencies for the
perceptual hash, the framing and a 32x32 grid of colour pixels.

:func:`measure_images` decodes a chunk of files first, then measures the
reduced images in stacks of equal size (photographs from one source mostly
share one), and computes the colour and luminance statistics for the whole
chunk at once. So the cost per image is mostly the decode.

Property columns, one row per image in dataset order
-----------------------------------------------------
``image_id``
    Row index of the image in the dataset (0..n-1).
``width``, ``height``
    Full image size in pixels after EXIF orientation, not the draft size.
``aspect_ratio``
    ``width / height``.
``file_size``
    File size in bytes.
``brightness``
    Mean luminance in 0..1 (ITU-R BT.601 weights, as PIL's ``"L"`` mode).
``brightness_p05``, ``brightness_p50``, ``brightness_p95``
    5th, 50th and 95th percentile of luminance in 0..1: the spread.
``contrast``
    RMS contrast: standard deviation of luminance in 0..1, on the reduced
    image like every luminance measure here. Averaging pixels removes fine
    detail, so on sun8 it reads a median 2 % below the full-size value,
    8 % or less below it for 95 % of the photos, and 23 % below at most.
``dark_fraction``, ``bright_fraction``
    Fraction of pixels clipped to black or white, that is with luminance
    within :data:`CLIP_LEVELS` 8-bit levels of 0 or of 255. The margin
    absorbs the ringing that JPEG adds around clipped areas.
``entropy``
    Shannon entropy of the 256-bin luminance histogram in bits (0..8).
``sharpness``
    Variance of the 4-neighbour Laplacian of luminance in squared 8-bit
    levels, measured after resizing the image with a box filter so that its
    shorter side is :data:`WORKING_SIZE` pixels (smaller images are not
    enlarged), so values are comparable across image sizes.
``content_fraction``
    Share of the frame inside a uniform border (padding, letterboxing), in
    0..1, from :func:`beholder.properties.framing.measure_content_fraction`
    on the reduced image; a proxy for object scale.
``colourfulness``
    Hasler and Suesstrunk's colourfulness metric (Proc. SPIE 5007, 2003) on
    8-bit values: 0 for gray images, about 33 for "moderately colourful",
    above 80 for "highly colourful".
``saturation``
    Mean HSV saturation in 0..1.
``colour_fraction``
    Fraction of pixels whose channel spread ``max(R, G, B) - min(R, G, B)``
    exceeds :data:`GRAY_TOLERANCE` 8-bit levels.
``hue_0`` .. ``hue_11``
    Fraction of all pixels whose channel spread exceeds
    :data:`HUE_MIN_SPREAD` levels and whose HSV hue falls in bin ``k``,
    which spans hues ``30 * k`` to ``30 * (k + 1)`` degrees (0 is red, 120
    green, 240 blue). The bins sum to at most ``colour_fraction``.
``is_grayscale``
    True when ``colour_fraction`` is at most :data:`GRAY_MAX_COLOUR_FRACTION`.
    This covers single-channel files and RGB files whose channels are equal
    up to compression noise.
``format``, ``mode``
    The format PIL detects from the content (``"JPEG"``, ``"PNG"``, ...) and
    the stored pixel mode (``"L"``, ``"RGB"``, ``"CMYK"``, ...).
``phash``
    64-bit perceptual hash of the image as 16 hex digits; see
    :mod:`beholder.properties.phash`.
``decode_error``
    Missing (NaN), or the reason the file could not be decoded; the numeric
    columns of such a row are NaN and ``is_grayscale`` is missing.

The colour columns come from a 32x32 grid of pixels sampled from the decode
without averaging, because global means and fractions need no more. A
fraction estimated from 1,024 random samples has a standard error of at most
1.6 percentage points. Colour detail thinner than the grid spacing can fall
between the samples.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from beholder.decode import decode_image, draft_scale, open_rgb
from beholder.errors import ImageDecodeError
from beholder.properties.framing import content_fractions
from beholder.properties.phash import (
    codes_from_frequencies,
    codes_to_hex,
    low_frequencies,
)

logger = logging.getLogger(__name__)

# Shorter side, in pixels, of the luminance image on which sharpness, entropy
# and the brightness histogram are measured.
WORKING_SIZE = 100
# Maximum length, in pixels, of the reduced image's longer side. Only strips
# and panoramas with an aspect ratio above 8 reach it. They are shrunk along
# their long side alone, so memory per image follows this size and not the
# pixel count (a 1 x 4,000,000 strip once needed gigabytes for the hash's
# DCT matrix).
MAX_REDUCED_SIDE = 1600
# Most images measured together in one stack: enough to share the cost of
# each array operation, few enough to keep a stack to a few megabytes.
STACK_SIZE = 32
# Side of the square grid of pixels sampled for the colour statistics.
COLOUR_GRID = 32
# 8-bit levels from either end of the range that count as clipped.
CLIP_LEVELS = 4
# Channel spread, in 8-bit levels, up to which a pixel counts as gray. Gray
# RGB JPEGs decode with equal channels or a spread of 1, while the nearly
# gray snow scene in sun8 (a colour photo) has 21% of its pixels above 2.
GRAY_TOLERANCE = 2
# Largest fraction of coloured pixels that a grayscale image may have. In
# sun8, 99.9% of the photos have more than 36%.
GRAY_MAX_COLOUR_FRACTION = 0.02
# Channel spread, in 8-bit levels, from which a pixel counts towards the hue
# histogram: below it, hue is mostly compression noise.
HUE_MIN_SPREAD = 16
N_HUE_BINS = 12
# Pixel modes that store no colour; such files skip the colour statistics.
SINGLE_CHANNEL_MODES = {
    "1",
    "L",
    "LA",
    "La",
    "I",
    "I;16",
    "I;16B",
    "I;16L",
    "I;16N",
    "F",
}

HUE_COLUMNS = [f"hue_{k}" for k in range(N_HUE_BINS)]
LUMINANCE_COLUMNS = [
    "brightness",
    "brightness_p05",
    "brightness_p50",
    "brightness_p95",
    "contrast",
    "dark_fraction",
    "bright_fraction",
    "entropy",
]
COLOUR_COLUMNS = ["colourfulness", "saturation", "colour_fraction", *HUE_COLUMNS]
NUMERIC_COLUMNS = [
    "width",
    "height",
    "aspect_ratio",
    "file_size",
    *LUMINANCE_COLUMNS,
    "sharpness",
    "content_fraction",
    *COLOUR_COLUMNS,
]
PROPERTY_COLUMNS = [
    "image_id",
    *NUMERIC_COLUMNS,
    "is_grayscale",
    "format",
    "mode",
    "phash",
    "decode_error",
]

_GRID_PIXELS = COLOUR_GRID * COLOUR_GRID
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def measure_images(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Measure the properties of image files in this process.

    Returns the property table (the columns of :data:`PROPERTY_COLUMNS`
    except ``image_id``), one row per path in order. A file that cannot be
    decoded gets a row with NaN values and the reason in ``decode_error``;
    this function does not raise :class:`~beholder.errors.ImageDecodeError`.
    """
    samples = _Samples(len(paths))
    for i, path in enumerate(paths):
        samples.add(i, path)
    return samples.to_table()


class _Samples:
    """Per-image measurements of one chunk, before the vectorised statistics."""

    def __init__(self, n: int):
        self.n = n
        self.sizes = np.full((n, 3), np.nan)
        self.histograms = np.zeros((n, 256), dtype=np.float64)
        self.sharpness = np.full(n, np.nan)
        self.frequencies = np.zeros((n, 64), dtype=np.float32)
        self.colour = np.zeros((n, _GRID_PIXELS, 3), dtype=np.uint8)
        self.content_fraction = np.full(n, np.nan)
        self.has_colour = np.zeros(n, dtype=bool)
        self.formats, self.modes, self.errors = [None] * n, [None] * n, [None] * n
        self.pixels: list[np.ndarray | None] = [None] * n

    def add(self, i: int, path) -> None:
        """Decode ``path`` once and keep its reduced pixels, or the failure."""
        try:
            decoded = decode_image(path, draft_size=WORKING_SIZE, keep_gray=True)
        except ImageDecodeError as error:
            self.errors[i] = error.reason
            return
        self.sizes[i] = decoded.width, decoded.height, decoded.file_size
        self.formats[i], self.modes[i] = decoded.format, decoded.mode
        # Files the draft mode did not shrink (not a JPEG, or very large) are
        # reduced the same way, so a PNG copy of a JPEG measures alike.
        pixels = decoded.pixels
        self.has_colour[i] = (
            pixels.ndim == 3 and decoded.mode not in SINGLE_CHANNEL_MODES
        )
        while (
            factor := draft_scale(pixels.shape[1], pixels.shape[0], WORKING_SIZE)
        ) > 1:
            pixels = reduce_by(pixels, factor)
        self.pixels[i] = limit_longer_side(pixels, MAX_REDUCED_SIDE)

    def measure_pixels(self) -> None:
        """Measure the kept pixels, one stack of equally sized images at a time.

        Photos from one source mostly share a size, so most of the work runs
        on a few stacks instead of image by image.
        """
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, pixels in enumerate(self.pixels):
            if pixels is not None:
                groups.setdefault(pixels.shape, []).append(i)
        for ids in groups.values():
            for start in range(0, len(ids), STACK_SIZE):
                batch = ids[start : start + STACK_SIZE]
                stack = np.stack([self.pixels[i] for i in batch])
                self._measure_stack(np.array(batch), stack)
        self.pixels = [None] * self.n

    def _measure_stack(self, ids: np.ndarray, stack: np.ndarray) -> None:
        """Fill rows ``ids`` from a stack of shape ``(k, height, width[, 3])``."""
        has_channels = stack.ndim == 4
        gray = luminance(stack) if has_channels else stack.astype(np.float32)
        working = resize_shorter_side(gray, WORKING_SIZE)
        levels = np.rint(working).astype(np.intp).reshape(len(ids), -1)
        levels += 256 * np.arange(len(ids))[:, None]
        counts = np.bincount(levels.ravel(), minlength=256 * len(ids))
        self.histograms[ids] = counts.reshape(len(ids), 256)
        self.sharpness[ids] = laplacian_variance(working)
        self.frequencies[ids] = low_frequencies(working)
        # A uniform border keeps its share of the frame when the image is
        # scaled, so framing is measured on the reduced image.
        self.content_fraction[ids] = content_fractions(stack)
        if has_channels:
            self.colour[ids] = _colour_sample(stack)

    def to_table(self) -> pd.DataFrame:
        """Compute every property column for the chunk at once."""
        self.measure_pixels()
        ok = np.array([error is None for error in self.errors], dtype=bool)
        width, height, file_size = self.sizes.T
        columns = {
            "width": pd.array(width, dtype="Int64"),
            "height": pd.array(height, dtype="Int64"),
            "aspect_ratio": width / height,
            "file_size": pd.array(file_size, dtype="Int64"),
        }
        luminance = luminance_statistics(self.histograms)
        for column in LUMINANCE_COLUMNS:
            columns[column] = np.where(ok, luminance[column], np.nan)
        columns["sharpness"] = self.sharpness
        columns["content_fraction"] = self.content_fraction

        # Single-channel files have no colour: their colour columns are 0.
        colour = colour_statistics(self.colour[self.has_colour])
        for column in COLOUR_COLUMNS:
            values = np.zeros(self.n)
            values[self.has_colour] = colour[column]
            columns[column] = np.where(ok, values, np.nan)

        grayscale = columns["colour_fraction"] <= GRAY_MAX_COLOUR_FRACTION
        columns["is_grayscale"] = pd.array(
            [bool(g) if good else None for g, good in zip(grayscale, ok)],
            dtype="boolean",
        )
        columns["format"] = self.formats
        columns["mode"] = self.modes
        hashes = codes_to_hex(codes_from_frequencies(self.frequencies))
        columns["phash"] = [h if good else None for h, good in zip(hashes, ok)]
        columns["decode_error"] = self.errors
        return pd.DataFrame(columns)


def luminance_statistics(histograms: np.ndarray) -> dict[str, np.ndarray]:
    """Brightness, its percentiles, contrast, clipping and entropy per histogram.

    ``histograms`` has shape ``(n, 256)``: pixel counts per 8-bit luminance
    level. Returns one array of shape ``(n,)`` per name in
    :data:`LUMINANCE_COLUMNS`, in the units the module docstring gives.
    """
    histograms = np.asarray(histograms, dtype=np.float64)
    totals = np.maximum(histograms.sum(axis=1, keepdims=True), 1.0)
    p = histograms / totals
    levels = np.arange(256, dtype=np.float64) / 255.0
    mean = p @ levels
    variance = np.maximum(p @ levels**2 - mean**2, 0.0)
    cumulative = np.cumsum(p, axis=1)
    percentiles = {
        name: np.minimum((cumulative < q).sum(axis=1), 255) / 255.0
        for name, q in (("p05", 0.05), ("p50", 0.5), ("p95", 0.95))
    }
    with np.errstate(divide="ignore", invalid="ignore"):
        information = np.where(p > 0, -p * np.log2(p), 0.0)
    return {
        "brightness": mean,
        "brightness_p05": percentiles["p05"],
        "brightness_p50": percentiles["p50"],
        "brightness_p95": percentiles["p95"],
        "contrast": np.sqrt(variance),
        "dark_fraction": p[:, : CLIP_LEVELS + 1].sum(axis=1),
        "bright_fraction": p[:, 255 - CLIP_LEVELS :].sum(axis=1),
        "entropy": information.sum(axis=1),
    }


def colour_statistics(pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Colourfulness, saturation, colour fraction and hue histogram per image.

    ``pixels`` has shape ``(n, n_pixels, 3)``, 8-bit RGB. Returns one array
    of shape ``(n,)`` per name in :data:`COLOUR_COLUMNS`.
    """
    pixels = np.asarray(pixels, dtype=np.uint8)
    n, n_pixels = pixels.shape[:2]
    # Contiguous channel planes of shape (n, n_pixels) keep the passes fast.
    red, green, blue = np.moveaxis(pixels, 2, 0).astype(np.float32)

    rg = red - green
    yb = 0.5 * (red + green) - blue
    colourfulness = np.sqrt(rg.var(axis=1) + yb.var(axis=1)) + 0.3 * np.hypot(
        rg.mean(axis=1), yb.mean(axis=1)
    )

    high = np.maximum(np.maximum(red, green), blue)
    spread = high - np.minimum(np.minimum(red, green), blue)
    saturation = (spread / np.maximum(high, 1.0)).mean(axis=1)
    colour_fraction = (spread > GRAY_TOLERANCE).mean(axis=1)

    hued = (spread > HUE_MIN_SPREAD).ravel()
    image = np.repeat(np.arange(n), n_pixels)[hued]
    hue = _hue_sextants(
        *(plane.ravel()[hued] for plane in (red, green, blue, high, spread))
    )
    # Hue is in sextants (0..6, negative just below red), so floor then wrap.
    hue_bin = np.floor(hue * (N_HUE_BINS / 6.0)).astype(np.int64) % N_HUE_BINS
    flat = image * N_HUE_BINS + hue_bin
    hue_counts = np.bincount(flat, minlength=n * N_HUE_BINS).reshape(n, N_HUE_BINS)
    hue_fractions = hue_counts / max(n_pixels, 1)

    result = {
        "colourfulness": colourfulness.astype(np.float64),
        "saturation": saturation.astype(np.float64),
        "colour_fraction": colour_fraction.astype(np.float64),
    }
    for k, column in enumerate(HUE_COLUMNS):
        result[column] = hue_fractions[:, k]
    return result


def _hue_sextants(red, green, blue, high, spread) -> np.ndarray:
    """HSV hue in sextants (60-degree units) of pixels with a positive spread."""
    return np.where(
        high == red,
        (green - blue) / spread,
        np.where(
            high == green, (blue - red) / spread + 2.0, (red - green) / spread + 4.0
        ),
    )


def laplacian_variance(gray: np.ndarray) -> float | np.ndarray:
    """Return the variance of the 4-neighbour Laplacian over the last two axes.

    A 2-D array gives a float; a stack of shape ``(k, height, width)`` gives
    an array of ``k`` values. Edges are replicated for arrays thinner than 3
    pixels, so they get a value too.
    """
    values = np.asarray(gray, dtype=np.float32)
    if min(values.shape[-2:]) < 3:
        padding = [(0, 0)] * (values.ndim - 2) + [(1, 1), (1, 1)]
        values = np.pad(values, padding, mode="edge")
    laplacian = values[..., 1:-1, :-2] + values[..., 1:-1, 2:]
    laplacian += values[..., :-2, 1:-1]
    laplacian += values[..., 2:, 1:-1]
    laplacian -= 4.0 * values[..., 1:-1, 1:-1]
    flat = laplacian.reshape(-1, laplacian.shape[-2] * laplacian.shape[-1])
    mean = flat.mean(axis=1, dtype=np.float64)
    # float32 products summed in float64: exact enough for a threshold.
    squares = np.einsum("ij,ij->i", flat, flat, dtype=np.float64)
    variance = np.maximum(squares / flat.shape[1] - mean * mean, 0.0)
    return float(variance[0]) if values.ndim == 2 else variance


def pixel_digest(path: str | Path) -> str | None:
    """Return a digest of the fully decoded RGB pixels and size, or None on failure.

    Two files with the same digest decode to the same picture, whatever
    their format or metadata.
    """
    try:
        rgb = open_rgb(path)
    except ImageDecodeError:
        return None
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{rgb.width}x{rgb.height}".encode())
    digest.update(rgb.tobytes())
    return digest.hexdigest()


def pixel_digests(paths: Sequence[str | Path]) -> list[str | None]:
    """Return :func:`pixel_digest` of each path; a chunk function for workers."""
    return [pixel_digest(path) for path in paths]


def luminance(pixels: np.ndarray) -> np.ndarray:
    """Return the luminance of 8-bit RGB pixels as float32 in 0..255.

    ``pixels`` has shape ``(..., 3)``; the channels are weighted as PIL's
    ``"L"`` mode does (ITU-R BT.601), without rounding.
    """
    return pixels.astype(np.float32) @ _LUMA_WEIGHTS


def reduce_by(pixels: np.ndarray, factor: int) -> np.ndarray:
    """Shrink an 8-bit image array by an integer factor, averaging blocks.

    ``pixels`` has shape ``(height, width)`` or ``(height, width, channels)``.
    Blocks that overhang the right or bottom edge average the pixels they
    have, so the result has ``ceil(height / factor)`` rows and ``ceil(width /
    factor)`` columns, the size a JPEG draft decode gives.
    """
    if factor == 1:
        return pixels
    return _block_means(pixels, factor, factor)


def limit_longer_side(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink an 8-bit image along its longer side alone until it is at most ``max_side``.

    Blocks of the smallest integer factor that fits are averaged, as in
    :func:`reduce_by`; the shorter side keeps its length.
    """
    height, width = pixels.shape[:2]
    if max(height, width) <= max_side:
        return pixels
    factor = -(-max(height, width) // max_side)
    if height >= width:
        return _block_means(pixels, factor, 1)
    return _block_means(pixels, 1, factor)


def _block_means(pixels: np.ndarray, row_factor: int, column_factor: int):
    """Average blocks of ``row_factor`` x ``column_factor`` pixels, rounding once."""
    sums = pixels
    counts = np.ones((1, 1))
    for axis, factor in ((0, row_factor), (1, column_factor)):
        if factor == 1:
            continue
        length = pixels.shape[axis]
        starts = np.arange(0, length, factor)
        sums = np.add.reduceat(sums, starts, axis=axis, dtype=np.uint32)
        shape = [1, 1]
        shape[axis] = len(starts)
        counts = counts * np.minimum(factor, length - starts).reshape(shape)
    if pixels.ndim == 3:
        counts = counts[:, :, None]
    return np.rint(sums / counts).astype(np.uint8)


def resize_shorter_side(gray: np.ndarray, size: int) -> np.ndarray:
    """Shrink float images with a box filter so that their shorter side is ``size``.

    ``gray`` has shape ``(height, width)`` or ``(k, height, width)``. The
    filter is Pillow's BOX (see :func:`_box_weights`), without rounding the
    result. Images whose shorter side is already at most ``size`` are
    returned unchanged; no side becomes shorter than 1.
    """
    height, width = gray.shape[-2:]
    shorter = min(height, width)
    if shorter <= size:
        return gray
    scale = size / shorter
    row_inputs, row_weights = _box_taps(height, max(1, round(height * scale)))
    rows = gray[..., row_inputs[0], :] * row_weights[0][:, None]
    for inputs, weights in zip(row_inputs[1:], row_weights[1:]):
        rows += gray[..., inputs, :] * weights[:, None]
    column_inputs, column_weights = _box_taps(width, max(1, round(width * scale)))
    result = rows[..., column_inputs[0]] * column_weights[0]
    for inputs, weights in zip(column_inputs[1:], column_weights[1:]):
        result += rows[..., inputs] * weights
    return result


@functools.lru_cache(maxsize=512)
def _box_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """The nonzero entries of :func:`_box_weights`, as taps.

    Returns ``inputs`` and ``weights`` of shape ``(n_taps, n_out)``: output
    ``i`` is the sum over ``t`` of ``weights[t, i] * x[inputs[t, i]]``. A box
    spans a few inputs, so this costs far less than the dense product.
    """
    matrix = _box_weights(n_in, n_out)
    nonzero = matrix > 0
    first = nonzero.argmax(axis=1)
    n_taps = int(nonzero.sum(axis=1).max())
    inputs = first[None, :] + np.arange(n_taps)[:, None]
    inside = inputs < n_in
    inputs = np.minimum(inputs, n_in - 1)
    weights = np.where(inside, matrix[np.arange(n_out)[None, :], inputs], 0.0)
    return inputs, weights.astype(np.float32)


@functools.lru_cache(maxsize=512)
def _box_weights(n_in: int, n_out: int) -> np.ndarray:
    """Matrix of shape ``(n_out, n_in)`` that shrinks ``n_in`` samples to ``n_out``.

    Output ``i`` is the mean of the inputs whose centres fall in its span
    ``(i * s, (i + 1) * s]``, with ``s = n_in / n_out`` at least 1: the box
    filter of Pillow's ``Image.resize(..., Image.Resampling.BOX)``, to which
    the thresholds of the checks were tuned.
    """
    # The arithmetic follows Pillow's, so that ties at span edges fall the
    # same way.
    scale = n_in / n_out
    support = 0.5 * scale
    centres = (np.arange(n_out, dtype=np.float64)[:, None] + 0.5) * scale
    first = (centres - support + 0.5).astype(np.int64)
    stop = (centres + support + 0.5).astype(np.int64)
    inputs = np.arange(n_in)[None, :]
    position = (inputs - centres + 0.5) * (1.0 / scale)
    inside = (position > -0.5) & (position <= 0.5)
    inside &= (inputs >= first) & (inputs < np.minimum(stop, n_in))
    weights = inside / inside.sum(axis=1, keepdims=True)
    weights = weights.astype(np.float32)
    weights.flags.writeable = False
    return weights


def _colour_sample(stack: np.ndarray) -> np.ndarray:
    """Pick a square grid of pixels from each image without averaging.

    ``stack`` has shape ``(k, height, width, 3)``; the result ``(k,
    COLOUR_GRID**2, 3)``.
    """
    height, width = stack.shape[1:3]
    rows = ((np.arange(COLOUR_GRID) + 0.5) * (height / COLOUR_GRID)).astype(np.intp)
    columns = ((np.arange(COLOUR_GRID) + 0.5) * (width / COLOUR_GRID)).astype(np.intp)
    return stack[:, rows[:, None], columns[None, :]].reshape(len(stack), -1, 3)

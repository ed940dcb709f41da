"""Counterfactual image transforms: one controlled change per probe.

Each transform takes and returns an RGB ``PIL.Image`` of the same size. It
is applied before the backbone's own preprocessing (resize, centre crop,
normalise), so the change reaches the model the way it would in a
photograph taken that way.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter


def adjust_brightness(image: Image.Image, factor: float) -> Image.Image:
    """Multiply every pixel by ``factor`` (below 1 darkens), clipping at 255."""
    return ImageEnhance.Brightness(image).enhance(factor)


def adjust_contrast(image: Image.Image, factor: float) -> Image.Image:
    """Blend with the image's mean gray: ``factor`` below 1 lowers contrast."""
    return ImageEnhance.Contrast(image).enhance(factor)


def to_grayscale(image: Image.Image) -> Image.Image:
    """Replace colour by luminance (ITU-R 601-2 weights), kept as RGB."""
    return image.convert("L").convert("RGB")


def rotate_hue(image: Image.Image, degrees: float) -> Image.Image:
    """Rotate every pixel's hue by ``degrees``, keeping saturation and value."""
    hsv = np.asarray(image.convert("HSV")).copy()
    shift = round(degrees / 360 * 256) % 256
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + shift) % 256
    return Image.fromarray(hsv, mode="HSV").convert("RGB")


def cast_colour(image: Image.Image, gains: tuple[float, float, float]) -> Image.Image:
    """Multiply the R, G and B channels by ``gains``, as a white-balance error does."""
    pixels = np.asarray(image, dtype=np.float32) * np.asarray(gains, np.float32)
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))


def zoom_in(image: Image.Image, side_fraction: float) -> Image.Image:
    """Crop the centre ``side_fraction`` of each side and scale it back up."""
    width, height = image.size
    crop_w = max(1, round(width * side_fraction))
    crop_h = max(1, round(height * side_fraction))
    left = (width - crop_w) // 2
    top = (height - crop_h) // 2
    box = (left, top, left + crop_w, top + crop_h)
    return image.crop(box).resize((width, height), Image.Resampling.BICUBIC)


def zoom_out(
    image: Image.Image, side_fraction: float, fill: tuple[int, int, int] = (0, 0, 0)
) -> Image.Image:
    """Shrink the image to ``side_fraction`` of each side, centred on ``fill``."""
    width, height = image.size
    small_w = max(1, round(width * side_fraction))
    small_h = max(1, round(height * side_fraction))
    small = image.resize((small_w, small_h), Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", (width, height), tuple(fill))
    canvas.paste(small, ((width - small_w) // 2, (height - small_h) // 2))
    return canvas


def gaussian_blur(image: Image.Image, sigma_fraction: float) -> Image.Image:
    """Blur with a Gaussian whose sigma is ``sigma_fraction`` of the shorter side."""
    radius = sigma_fraction * min(image.size)
    return image.filter(ImageFilter.GaussianBlur(radius=radius))


def compress_jpeg(image: Image.Image, quality: int) -> Image.Image:
    """Encode as JPEG at ``quality`` (1-95) and decode again."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


@dataclass(frozen=True)
class Probe:
    """A named counterfactual change and the factor it tests."""

    name: str
    factor: str
    description: str
    apply: Callable[[Image.Image], Image.Image]


DEFAULT_PROBES: tuple[Probe, ...] = (
    Probe(
        "brightness_down",
        "brightness",
        "pixels x 0.5",
        partial(adjust_brightness, factor=0.5),
    ),
    Probe(
        "brightness_up",
        "brightness",
        "pixels x 1.5, clipped",
        partial(adjust_brightness, factor=1.5),
    ),
    Probe(
        "contrast_down",
        "contrast",
        "contrast x 0.5 around the mean gray",
        partial(adjust_contrast, factor=0.5),
    ),
    Probe("grayscale", "colour", "luminance only", to_grayscale),
    Probe("hue_rotate", "colour", "hue +60 degrees", partial(rotate_hue, degrees=60)),
    Probe(
        "colour_cast_warm",
        "colour",
        "R x 1.2, B x 0.8",
        partial(cast_colour, gains=(1.2, 1.0, 0.8)),
    ),
    Probe(
        "colour_cast_cool",
        "colour",
        "R x 0.8, B x 1.2",
        partial(cast_colour, gains=(0.8, 1.0, 1.2)),
    ),
    Probe(
        "zoom_in",
        "scale",
        "centre crop of half each side, scaled up",
        partial(zoom_in, side_fraction=0.5),
    ),
    Probe(
        "zoom_out",
        "scale",
        "shrunk to half each side on black",
        partial(zoom_out, side_fraction=0.5),
    ),
    Probe(
        "blur",
        "sharpness",
        "Gaussian blur, sigma 1% of the shorter side",
        partial(gaussian_blur, sigma_fraction=0.01),
    ),
    Probe("jpeg", "compression", "JPEG quality 10", partial(compress_jpeg, quality=10)),
)


def probes_by_name(names=None) -> tuple[Probe, ...]:
    """Return the default probes named in ``names``, in that order (all when None)."""
    if names is None:
        return DEFAULT_PROBES
    known = {probe.name: probe for probe in DEFAULT_PROBES}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"Unknown probe names {unknown}; choose from {sorted(known)}.")
    return tuple(known[name] for name in names)

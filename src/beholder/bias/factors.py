"""Which visual factor an image property measures, judged from its column name.

A factor groups properties that one augmentation family addresses: brightness
jitter for ``brightness``, hue and grayscale for ``colour``, crops and zoom-out
for ``scale``. The property table may come from any source, so the mapping
works on substrings of the column name. A column that matches nothing is
``"other"`` and gets no augmentation advice.
"""

from __future__ import annotations

FACTORS = (
    "brightness",
    "contrast",
    "colour",
    "scale",
    "resolution",
    "sharpness",
    "compression",
    "other",
)

# Checked in this order and the first match wins, so "is_grayscale" is
# colour and "border_width" is scale rather than resolution.
_PATTERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("colour", ("colour", "color", "satur", "hue", "gray", "grey", "chroma",
                "tint", "mean_r", "mean_g", "mean_b", "_rg", "_yb", "red",
                "green", "blue")),
    ("scale", ("content_fraction", "border", "zoom", "object_scale", "framing")),
    ("brightness", ("bright", "lumin", "exposure", "dark", "lightness")),
    ("contrast", ("contrast", "dynamic_range")),
    ("sharpness", ("sharp", "blur", "laplacian", "focus")),
    ("compression", ("jpeg", "quality", "compression")),
    ("resolution", ("width", "height", "aspect", "pixels", "resolution", "area")),
)


def factor_of(property_name: str) -> str:
    """Return the factor that the property ``property_name`` measures."""
    name = property_name.lower()
    for factor, needles in _PATTERNS:
        if any(needle in name for needle in needles):
            return factor
    return "other"

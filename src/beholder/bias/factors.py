"""The visual factor an image property measures, judged from its column name.

A factor groups properties that one augmentation family addresses: brightness
jitter for ``brightness``, hue and grayscale for ``colour``, crops and zoom-out
for ``scale``. The property table may come from any source, so the mapping
works on substrings of the column name. A column that matches nothing is
``"other"`` and gets no augmentation advice.
"""

from __future__ import annotations

import re

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
# colour and "border_width" is scale rather than resolution. Stems match
# anywhere in the name; short words match only whole "_"-separated words,
# so that "blurred" is not read as "red".
_PATTERNS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "colour",
        ("colour", "color", "satur", "gray", "grey", "chroma"),
        ("hue", "tint", "red", "green", "blue", "rg", "yb", "r", "g", "b"),
    ),
    ("scale", ("content_fraction", "border", "zoom", "object_scale", "framing"), ()),
    ("brightness", ("bright", "lumin", "exposure", "lightness"), ("dark",)),
    ("contrast", ("contrast", "dynamic_range"), ()),
    ("sharpness", ("sharp", "blur", "laplacian", "focus"), ()),
    ("compression", ("jpeg", "compression", "per_pixel"), ("quality",)),
    ("resolution", ("width", "height", "aspect", "pixels", "resolution"), ("area",)),
)


def factor_of(property_name: str) -> str:
    """Return the factor that the property ``property_name`` measures."""
    name = property_name.lower()
    words = set(re.split(r"[^a-z0-9]+", name))
    for factor, stems, whole_words in _PATTERNS:
        if any(stem in name for stem in stems) or words & set(whole_words):
            return factor
    return "other"

"""Grayscale images, stored as one channel or as RGB with equal channels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from beholder.properties.checks.base import (
    IssueCheck,
    check_positive,
    register_check,
    score_low,
)
from beholder.properties.measure import GRAY_MAX_COLOUR_FRACTION


@register_check
@dataclass
class GrayscaleCheck(IssueCheck):
    """Flag images whose ``colour_fraction`` is at most ``max_colour_fraction``.

    ``colour_fraction`` is the fraction of sampled pixels whose channels
    differ by more than 2 levels, so single-channel files score 1 and RGB
    files with equal channels do too. With the default (the same value that
    sets the ``is_grayscale`` property) both columns agree.
    """

    name: ClassVar[str] = "grayscale"
    requires: ClassVar[tuple[str, ...]] = ("colour_fraction",)
    max_colour_fraction: float = GRAY_MAX_COLOUR_FRACTION

    def __post_init__(self):
        self.max_colour_fraction = check_positive(
            "max_colour_fraction", self.max_colour_fraction
        )

    def score(self, properties: pd.DataFrame) -> pd.Series:
        fraction = properties["colour_fraction"]
        return score_low(fraction, self.max_colour_fraction).set_axis(properties.index)

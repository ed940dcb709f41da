"""Low-information images: nearly uniform, with little contrast to carry content."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from beholder.properties.checks.base import (
    IssueCheck,
    check_positive,
    register_check,
    score_low,
)


@register_check
@dataclass
class LowInformationCheck(IssueCheck):
    """Flag images whose relative contrast is at most ``max_relative_contrast``.

    Relative contrast is ``contrast / min(brightness, 1 - brightness)``: the
    RMS contrast over the distance from the mean to black or to white,
    whichever is nearer. Scaling pixel values keeps it unchanged near black,
    so dark images are left to the dark check, while a foggy, blank or
    faded frame scores low wherever its mean lies. The default 0.08 is below
    every photo in scene15 and sun8, whose minimum is 0.086 (a flat
    seascape). Photos whose contrast is cut to 4% to 10% score 0.011 to
    0.079, with a median of 0.03, in the planted-issue benchmark (seed 0).

    Histogram entropy, the usual alternative, also drops for dark and
    overexposed images, which made it flag those instead.
    """

    name: ClassVar[str] = "low_information"
    requires: ClassVar[tuple[str, ...]] = ("contrast", "brightness")
    max_relative_contrast: float = 0.08

    def __post_init__(self):
        self.max_relative_contrast = check_positive(
            "max_relative_contrast", self.max_relative_contrast
        )

    def score(self, properties: pd.DataFrame) -> pd.Series:
        brightness = properties["brightness"]
        headroom = np.minimum(brightness, 1.0 - brightness).clip(lower=1e-3)
        relative = properties["contrast"] / headroom
        return score_low(relative, self.max_relative_contrast).set_axis(
            properties.index
        )

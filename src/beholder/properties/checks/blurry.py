"""Blurry images: little fine detail for the amount of contrast they have."""

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
class BlurryCheck(IssueCheck):
    """Flag images whose detail ratio is at most ``max_detail``.

    The detail ratio is ``sharpness / (255 * contrast) ** 2``: the variance of
    the Laplacian over the variance of luminance, both at the working size.
    Dividing by the luminance variance makes it independent of exposure and
    contrast, so dark or faded images are not called blurry. The default
    0.04 flags 22 of the 6,128 photos in scene15 and sun8 (0.4%), mostly
    cloudless skies, sunsets and fog, which have no fine detail either. A
    Gaussian blur of radius 1.2% to 2% of the shorter side brings photos to
    0.002 to 0.039 (median 0.013; planted-issue benchmark, seed 0).
    """

    name: ClassVar[str] = "blurry"
    requires: ClassVar[tuple[str, ...]] = ("sharpness", "contrast")
    max_detail: float = 0.04

    def __post_init__(self):
        self.max_detail = check_positive("max_detail", self.max_detail)

    def score(self, properties: pd.DataFrame) -> pd.Series:
        variance = (255.0 * properties["contrast"]) ** 2
        # One squared level keeps the ratio of a flat image finite. Such an
        # image is left to the low-information check: its Laplacian is
        # mostly noise, so its ratio stays high.
        detail = properties["sharpness"] / (variance + 1.0)
        detail = detail.replace([np.inf, -np.inf], np.nan)
        return score_low(detail, self.max_detail).set_axis(properties.index)

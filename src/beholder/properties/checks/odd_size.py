"""Images much smaller or larger than the dataset's typical size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from beholder.properties.checks.base import IssueCheck, register_check, score_high


@register_check
@dataclass
class OddSizeCheck(IssueCheck):
    """Flag images whose side length differs from the median by ``max_factor``.

    Side length is ``sqrt(width * height)``, and the measure is
    ``|ln(side / median side)|`` over the decodable images of the table.
    The default 2.5 flags a 100x75 thumbnail among 320x240 photos but not
    a copy resized to half; it flags none of the photos in scene15 or sun8,
    whose smallest (126x106 in sun8) is 2.3 times smaller than the median.
    """

    name: ClassVar[str] = "odd_size"
    requires: ClassVar[tuple[str, ...]] = ("width", "height")
    max_factor: float = 2.5

    def __post_init__(self):
        self.max_factor = float(self.max_factor)
        if not self.max_factor > 1.0:
            raise ValueError(f"max_factor must be above 1, got {self.max_factor!r}")

    def score(self, properties: pd.DataFrame) -> pd.Series:
        width = pd.to_numeric(properties["width"], errors="coerce").astype(float)
        height = pd.to_numeric(properties["height"], errors="coerce").astype(float)
        side = np.sqrt(width * height)
        log_side = np.log(side.where(side > 0))
        deviation = (log_side - log_side.median()).abs()
        return score_high(deviation, np.log(self.max_factor)).set_axis(properties.index)

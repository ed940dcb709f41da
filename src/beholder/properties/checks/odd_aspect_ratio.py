"""Images much wider or taller than the dataset's typical aspect ratio."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from beholder.properties.checks.base import IssueCheck, register_check, score_high


@register_check
@dataclass
class OddAspectRatioCheck(IssueCheck):
    """Flag images whose aspect ratio differs from the median by ``max_factor``.

    The measure is ``|ln(aspect_ratio / median aspect_ratio)|`` over the
    decodable images of the table, so the check adapts to datasets of 16:9
    frames or of square crops. The default 2.5 flags a 4:1 strip in a 4:3
    dataset (a factor of 3) but not a 3:4 portrait (1.8). In scene15 and
    sun8 it flags 3 of 6,128 photos: a 552x220 panorama and two narrow
    strips.
    """

    name: ClassVar[str] = "odd_aspect_ratio"
    requires: ClassVar[tuple[str, ...]] = ("aspect_ratio",)
    max_factor: float = 2.5

    def __post_init__(self):
        self.max_factor = float(self.max_factor)
        if not self.max_factor > 1.0:
            raise ValueError(f"max_factor must be above 1, got {self.max_factor!r}")

    def score(self, properties: pd.DataFrame) -> pd.Series:
        ratio = pd.to_numeric(properties["aspect_ratio"], errors="coerce").astype(float)
        log_ratio = np.log(ratio.where(ratio > 0))
        deviation = (log_ratio - log_ratio.median()).abs()
        return score_high(deviation, np.log(self.max_factor)).set_axis(properties.index)

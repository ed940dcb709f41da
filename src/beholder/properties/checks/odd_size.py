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
    """Flag images whose longer side differs from the median by ``max_factor``.

    The measure is ``|ln(longer side / median longer side)|`` over the
    decodable images of the table. The longer side, rather than the area,
    keeps a narrow strip of normal length out of this check (it is an odd
    aspect ratio instead). The default 2.5 flags a 100x75 thumbnail among
    320x240 photos but not a copy resized to half. In scene15 and sun8 it
    flags 1 of 6,128 photos, a 126x106 image among sun8's 320-pixel ones.
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
        longer = np.fmax(width, height)
        log_side = np.log(longer.where(longer > 0))
        deviation = (log_side - log_side.median()).abs()
        return score_high(deviation, np.log(self.max_factor)).set_axis(properties.index)

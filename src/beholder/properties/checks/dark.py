"""Dark images: the typical pixel and the brighter parts are both near black."""

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
class DarkCheck(IssueCheck):
    """Flag images whose darkness level is at most ``max_level``.

    The darkness level is the mean of ``brightness`` and ``brightness_p95``
    (luminance in 0..1), so a night photo with bright lights is not dark but
    an underexposed frame is. The default 0.15 lies between the darkest
    real photo of scene15 and sun8 (0.156, a dim auditorium) and the
    brightest dark copy of the planted-issue benchmark (0.141, seed 0,
    pixel values times 0.06 to 0.2).
    """

    name: ClassVar[str] = "dark"
    requires: ClassVar[tuple[str, ...]] = ("brightness", "brightness_p95")
    max_level: float = 0.15

    def __post_init__(self):
        self.max_level = check_positive("max_level", self.max_level)

    def score(self, properties: pd.DataFrame) -> pd.Series:
        level = (properties["brightness"] + properties["brightness_p95"]) / 2
        return score_low(level, self.max_level).set_axis(properties.index)

"""The contract every issue check follows, and the registry that lists them.

A check is a small class: a ``name``, the property columns it ``requires``,
thresholds as constructor parameters with documented defaults, and
``score(properties)``, which maps each image to ``[0, 1]`` (higher is worse,
NaN where a property is missing). Scores are built so that ``0.5`` falls
exactly on the threshold, hence ``flag`` is ``score >= 0.5`` for every
check and ranking by score agrees with the flags.

Register a new check with :func:`register_check`; :func:`run_checks` then
runs it along with the others and the contract test in
``tests/properties/test_checks.py`` covers it.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

SCORE_AT_THRESHOLD = 0.5

_REGISTRY: dict[str, type[IssueCheck]] = {}


class IssueCheck:
    """Base class of issue checks on the property table."""

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]]

    def score(self, properties: pd.DataFrame) -> pd.Series:
        """Return the issue score of every row, in [0, 1], NaN when unknown."""
        raise NotImplementedError

    def flag(self, properties: pd.DataFrame) -> pd.Series:
        """Return True where the score reaches the threshold (never for NaN)."""
        return self.score(properties).ge(SCORE_AT_THRESHOLD)

    def run(self, properties: pd.DataFrame) -> pd.DataFrame:
        """Return ``is_<name>`` and ``<name>_score`` columns for ``properties``."""
        missing = [column for column in self.requires if column not in properties]
        if missing:
            raise ValueError(
                f"check {self.name!r} needs property columns {missing}, which the "
                "table lacks. Build it with beholder.properties.compute_properties."
            )
        scores = self.score(properties)
        return pd.DataFrame(
            {
                f"is_{self.name}": scores.ge(SCORE_AT_THRESHOLD),
                f"{self.name}_score": scores,
            },
            index=properties.index,
        )


def register_check(cls: type[IssueCheck]) -> type[IssueCheck]:
    """Add a check class to the registry under its ``name``; use as a decorator."""
    if not cls.name.isidentifier():
        raise ValueError(f"check name {cls.name!r} must be a Python identifier")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"a check named {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def available_checks() -> list[str]:
    """Names of the registered checks, in registration order."""
    return list(_REGISTRY)


def get_check(name: str, **thresholds) -> IssueCheck:
    """Create the registered check ``name`` with optional threshold overrides."""
    try:
        cls = _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown check {name!r}; available: {', '.join(available_checks())}"
        ) from None
    return cls(**thresholds)


def run_checks(properties: pd.DataFrame, checks=None) -> pd.DataFrame:
    """Run issue checks on a property table.

    Parameters
    ----------
    properties : pandas.DataFrame
        The table from :func:`beholder.properties.compute_properties`.
    checks : iterable of str or IssueCheck, optional
        Check names (default thresholds) or configured check objects; all
        registered checks by default.

    Returns
    -------
    pandas.DataFrame
        Same index as ``properties``; ``is_<name>`` (bool) and
        ``<name>_score`` (float in [0, 1], NaN where undecodable) per check.
    """
    if checks is None:
        checks = available_checks()
    frames = []
    for check in checks:
        if isinstance(check, str):
            check = get_check(check)
        frames.append(check.run(properties))
    if not frames:
        return pd.DataFrame(index=properties.index)
    return pd.concat(frames, axis=1)


def score_low(values, threshold: float) -> pd.Series:
    """Score for measures where small is bad: ``threshold / (threshold + x)``.

    Gives 1 at ``x = 0`` and 0.5 at ``x = threshold``; negative ``x`` counts
    as 0.
    """
    values = pd.Series(values, dtype="float64").clip(lower=0.0)
    return threshold / (threshold + values)


def score_high(values, threshold: float) -> pd.Series:
    """Score for measures where large is bad: ``x / (threshold + x)``.

    Gives 0 at ``x = 0``, 0.5 at ``x = threshold`` and tends to 1.
    """
    values = pd.Series(values, dtype="float64").clip(lower=0.0)
    return values / (threshold + values)


def check_positive(name: str, value: float) -> float:
    """Return ``value`` as a float, or raise naming the threshold when not > 0."""
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return value

"""Intervals and multiple-testing corrections shared by the bias analyses."""

from __future__ import annotations

import numpy as np

CORRECTIONS = ("fdr_bh", "holm")


def adjust_pvalues(p_values, *, method: str = "fdr_bh") -> np.ndarray:
    """Adjust p-values for the number of tests.

    Parameters
    ----------
    p_values : array-like of shape (n_tests,)
        Raw p-values; NaN entries are left NaN and do not count as tests.
    method : {"fdr_bh", "holm"}
        ``"fdr_bh"`` controls the false discovery rate (Benjamini-Hochberg),
        ``"holm"`` the family-wise error rate (Holm's step-down).

    Returns
    -------
    ndarray of shape (n_tests,)
        Adjusted p-values, each at least its raw value and at most 1.
    """
    if method not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, got {method!r}.")
    p_values = np.asarray(p_values, dtype=float)
    adjusted = np.full(p_values.shape, np.nan)
    tested = ~np.isnan(p_values)
    p = p_values[tested]
    n = len(p)
    if n == 0:
        return adjusted

    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "holm":
        # Step down: the k-th smallest is multiplied by (n - k), then made
        # monotone non-decreasing.
        scaled = ranked * (n - np.arange(n))
        monotone = np.maximum.accumulate(scaled)
    else:
        # Step up: the k-th smallest is multiplied by n / k, then made
        # monotone from the largest down.
        scaled = ranked * n / np.arange(1, n + 1)
        monotone = np.minimum.accumulate(scaled[::-1])[::-1]
    result = np.empty(n)
    result[order] = np.minimum(monotone, 1.0)
    adjusted[tested] = result
    return adjusted


def wilson_interval(successes, trials, *, confidence: float = 0.95):
    """Wilson score interval for binomial proportions.

    Parameters
    ----------
    successes, trials : array-like of int, same shape
        Counts; where ``trials`` is 0 the interval is ``(0, 1)``.

    Returns
    -------
    (low, high) : tuple of ndarray
    """
    from scipy.stats import norm

    successes = np.asarray(successes, dtype=float)
    trials = np.asarray(trials, dtype=float)
    z = norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(trials > 0, successes / trials, 0.0)
        denominator = 1 + z**2 / trials
        centre = (share + z**2 / (2 * trials)) / denominator
        half = (
            z
            * np.sqrt(share * (1 - share) / trials + z**2 / (4 * trials**2))
            / denominator
        )
    low = np.where(trials > 0, np.clip(centre - half, 0.0, 1.0), 0.0)
    high = np.where(trials > 0, np.clip(centre + half, 0.0, 1.0), 1.0)
    return low, high


def fisher_greater(hits_a, n_a, hits_b, n_b) -> float:
    """One-sided Fisher exact p-value that group a's rate exceeds group b's."""
    from scipy.stats import fisher_exact

    if n_a == 0 or n_b == 0:
        return float("nan")
    table = [[hits_a, n_a - hits_a], [hits_b, n_b - hits_b]]
    return float(fisher_exact(table, alternative="greater")[1])

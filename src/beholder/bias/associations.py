"""Strength of the association between each image property and each class.

For every (class, property) pair the images of the class are compared with
all other images:

- Cliff's delta, ``P(x > y) - P(x < y)`` for ``x`` from the class and ``y``
  from the rest, in ``[-1, 1]``, with a percentile bootstrap interval;
- the one-vs-rest AUROC of the property as a score for the class, which is
  ``(delta + 1) / 2``;
- a two-sided Mann-Whitney U test, its p-value adjusted over all pairs.

Per property, a depth-limited decision tree given only that property is
cross-validated against the chance level of balanced accuracy.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from beholder.bias.factors import factor_of
from beholder.bias.stats import adjust_pvalues

logger = logging.getLogger(__name__)

# Magnitude labels of |Cliff's delta| from Romano et al. (2006), the
# thresholds R's effsize package uses: below 0.147 negligible, below 0.33
# small, below 0.474 medium, else large.
MAGNITUDE_THRESHOLDS = ((0.147, "negligible"), (0.33, "small"), (0.474, "medium"))
DEFAULT_MIN_EFFECT = 0.474

# The bootstrap works on at most this many distinct values per property
# (rank-preserving bins), so its cost does not grow with the dataset. The
# binning turns near-equal values into ties for the interval only; the point
# estimate and the test use the exact values.
_BOOTSTRAP_LEVELS = 128

ASSOCIATION_COLUMNS = [
    "class",
    "class_index",
    "property",
    "factor",
    "n_class",
    "n_rest",
    "median_class",
    "median_rest",
    "cliffs_delta",
    "delta_low",
    "delta_high",
    "auroc",
    "magnitude",
    "p_value",
    "p_adjusted",
    "is_significant",
    "is_flagged",
    "rank_in_class",
]


def select_property_columns(properties: pd.DataFrame) -> pd.DataFrame:
    """Return the numeric and boolean property columns as float.

    Identifier columns (``image_id``, ``index`` and names ending in ``_id``)
    are left out: image ids follow the folder order and so track the class.
    """
    keep = []
    for name in properties.columns:
        text = str(name)
        if text in ("image_id", "index") or text.endswith("_id"):
            continue
        dtype = properties[name].dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            keep.append(name)
    if not keep:
        raise ValueError(
            "properties has no numeric or boolean columns; give one column per "
            f"image property. Columns given: {list(properties.columns)}."
        )
    return properties[keep].astype(float)


def check_labels(labels, classes, n_rows: int) -> np.ndarray:
    """Return ``labels`` as an int array after checking it against ``classes``."""
    labels = np.asarray(labels)
    if labels.shape != (n_rows,):
        raise ValueError(
            f"labels must have shape ({n_rows},) to match the other inputs, "
            f"got {labels.shape}."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be class indices (integers), got dtype {labels.dtype}. "
            "Map names to indices with dataset.labels."
        )
    if n_rows and (labels.min() < 0 or labels.max() >= len(classes)):
        raise ValueError(
            f"labels must lie in 0..{len(classes) - 1} for {len(classes)} classes, "
            f"got values from {labels.min()} to {labels.max()}."
        )
    return labels.astype(np.int64)


def compute_associations(
    properties: pd.DataFrame,
    labels,
    classes,
    *,
    alpha: float = 0.05,
    min_effect: float = DEFAULT_MIN_EFFECT,
    correction: str = "fdr_bh",
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Compare each class with the rest of the images, property by property.

    Parameters
    ----------
    properties : DataFrame of shape (n_images, n_columns)
        One row per image, in image order. Numeric and boolean columns are
        used; see :func:`select_property_columns`. NaN values are skipped.
    labels : array-like of int, shape (n_images,)
        Class index of each image.
    classes : sequence of str
        Class names; ``classes[i]`` is the name of index ``i``.
    alpha : float, default 0.05
        Level for ``is_significant`` on the adjusted p-values.
    min_effect : float, default 0.474
        Smallest ``|cliffs_delta|`` for ``is_flagged`` (0.474 is the lower
        bound of a large effect).
    correction : {"fdr_bh", "holm"}
        Adjustment over all (class, property) tests.
    n_bootstrap : int, default 200
        Resamples for the interval of Cliff's delta; 0 skips the interval.
    seed : int, default 0
        Seeds the bootstrap.

    Returns
    -------
    DataFrame
        One row per (class, property) tested, with the columns of
        ``ASSOCIATION_COLUMNS``, sorted by class and by ``rank_in_class``
        (1 for the property whose ``|cliffs_delta|`` is largest).
    """
    values = select_property_columns(properties)
    labels = check_labels(labels, classes, len(values))
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}.")
    rng = np.random.default_rng(seed)

    rows = []
    for name in values.columns:
        column = values[name].to_numpy()
        finite = np.isfinite(column)
        if finite.sum() < 4 or np.ptp(column[finite]) == 0:
            logger.info("property %s is constant or empty; not tested", name)
            continue
        codes = _rank_codes(column[finite])
        column_labels = labels[finite]
        for index, class_name in enumerate(classes):
            inside = column_labels == index
            if inside.sum() < 2 or (~inside).sum() < 2:
                continue
            row = _compare(column[finite], codes, inside, n_bootstrap, confidence, rng)
            row.update(
                {"class": class_name, "class_index": index, "property": str(name)}
            )
            rows.append(row)

    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=ASSOCIATION_COLUMNS)
    table["factor"] = table["property"].map(factor_of)
    table["magnitude"] = table["cliffs_delta"].abs().map(_magnitude)
    table["p_adjusted"] = adjust_pvalues(table["p_value"], method=correction)
    table["is_significant"] = table["p_adjusted"] < alpha
    table["is_flagged"] = table["is_significant"] & (
        table["cliffs_delta"].abs() >= min_effect
    )
    table["strength"] = table["cliffs_delta"].abs()
    table = table.sort_values(
        ["class_index", "strength", "p_value"], ascending=[True, False, True]
    )
    table["rank_in_class"] = table.groupby("class_index").cumcount() + 1
    return table[ASSOCIATION_COLUMNS].reset_index(drop=True)


def _compare(column, codes, inside, n_bootstrap, confidence, rng) -> dict:
    from scipy.stats import mannwhitneyu

    x, y = column[inside], column[~inside]
    result = mannwhitneyu(x, y, alternative="two-sided", method="asymptotic")
    delta = 2 * float(result.statistic) / (len(x) * len(y)) - 1
    low, high = _bootstrap_delta(
        codes[inside], codes[~inside], n_bootstrap, confidence, rng
    )
    return {
        "n_class": len(x),
        "n_rest": len(y),
        "median_class": float(np.median(x)),
        "median_rest": float(np.median(y)),
        "cliffs_delta": delta,
        "delta_low": low,
        "delta_high": high,
        "auroc": (delta + 1) / 2,
        "p_value": float(result.pvalue),
    }


def _rank_codes(column: np.ndarray) -> np.ndarray:
    """Map values to at most ``_BOOTSTRAP_LEVELS`` ordered codes; ties share one."""
    from scipy.stats import rankdata

    ranks = rankdata(column, method="dense")
    n_levels = ranks.max()
    if n_levels <= _BOOTSTRAP_LEVELS:
        return (ranks - 1).astype(np.int64)
    return ((ranks - 1) * _BOOTSTRAP_LEVELS // n_levels).astype(np.int64)


def _bootstrap_delta(codes_x, codes_y, n_bootstrap, confidence, rng):
    """Percentile interval of Cliff's delta, resampling each group separately.

    Each resample draws the count of every code from a multinomial, so a
    resample costs O(levels) rather than O(n_images).
    """
    if n_bootstrap <= 0:
        return float("nan"), float("nan")
    n_levels = int(max(codes_x.max(), codes_y.max())) + 1
    n_x, n_y = len(codes_x), len(codes_y)
    share_x = np.bincount(codes_x, minlength=n_levels) / n_x
    share_y = np.bincount(codes_y, minlength=n_levels) / n_y
    counts_x = rng.multinomial(n_x, share_x, size=n_bootstrap)
    counts_y = rng.multinomial(n_y, share_y, size=n_bootstrap)
    # For each level, the rest-group values strictly below it, plus half the ties.
    below = np.cumsum(counts_y, axis=1) - counts_y
    wins = (counts_x * (below + 0.5 * counts_y)).sum(axis=1)
    deltas = 2 * wins / (n_x * n_y) - 1
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(deltas, [tail, 100 - tail])
    return float(low), float(high)


def _magnitude(strength: float) -> str:
    for threshold, name in MAGNITUDE_THRESHOLDS:
        if strength < threshold:
            return name
    return "large"


def compute_predictability(
    properties: pd.DataFrame,
    labels,
    classes,
    *,
    max_depth: int = 3,
    n_folds: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """Cross-validate a small decision tree on one property at a time.

    Balanced accuracy at chance (and of always predicting the majority class)
    is ``1 / n_classes_present``; ``lift`` is balanced accuracy over chance,
    so 2.0 means the property alone doubles chance-level recall.

    Returns
    -------
    DataFrame
        One row per property: ``property``, ``factor``, ``balanced_accuracy``,
        ``chance``, ``lift``, ``n_images``, sorted by ``lift`` descending.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.tree import DecisionTreeClassifier

    values = select_property_columns(properties)
    labels = check_labels(labels, classes, len(values))
    rows = []
    for name in values.columns:
        column = values[name].to_numpy()
        finite = np.isfinite(column)
        present, counts = np.unique(labels[finite], return_counts=True)
        folds = min(n_folds, int(counts.min())) if len(counts) else 0
        if len(present) < 2 or folds < 2:
            continue
        tree = DecisionTreeClassifier(max_depth=max_depth, random_state=seed)
        split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        predicted = cross_val_predict(
            tree, column[finite, None], labels[finite], cv=split
        )
        accuracy = _balanced_accuracy(labels[finite], predicted, present)
        chance = 1 / len(present)
        rows.append(
            {
                "property": str(name),
                "factor": factor_of(str(name)),
                "balanced_accuracy": accuracy,
                "chance": chance,
                "lift": accuracy / chance,
                "n_images": int(finite.sum()),
            }
        )
    columns = ["property", "factor", "balanced_accuracy", "chance", "lift", "n_images"]
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values("lift", ascending=False).reset_index(drop=True)


def _balanced_accuracy(truth, predicted, present) -> float:
    recalls = [np.mean(predicted[truth == label] == label) for label in present]
    return float(np.mean(recalls))

"""Error slices: groups of images where the model is wrong more often.

A slice is a class, a quantile bin of one property, or the images of one
class inside one such bin ("the darkest quarter of Bedroom images"). Each
slice's error rate, from out-of-sample predictions, is compared with the
images next to it: a class with the other classes, a bin with the other bins,
a class's bin with the same class's other bins. Only slices with at least
``min_count`` images are tested (one-sided Fisher exact test), and the
p-values are adjusted over every slice tested.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from beholder.bias.associations import check_labels, select_property_columns
from beholder.bias.stats import adjust_pvalues, fisher_greater, wilson_interval

logger = logging.getLogger(__name__)

SLICE_COLUMNS = [
    "kind",
    "class",
    "property",
    "bin",
    "bin_low",
    "bin_high",
    "n",
    "n_errors",
    "error_rate",
    "error_low",
    "error_high",
    "rest_n",
    "rest_error_rate",
    "error_ratio",
    "p_value",
    "p_adjusted",
    "is_significant",
    "description",
]


def find_error_slices(
    properties: pd.DataFrame,
    probabilities,
    labels,
    classes,
    *,
    n_bins: int = 4,
    min_count: int = 20,
    alpha: float = 0.05,
    correction: str = "fdr_bh",
) -> pd.DataFrame:
    """Find classes and property bins whose error rate exceeds their neighbours'.

    Parameters
    ----------
    properties : DataFrame of shape (n_images, n_columns)
        Image properties in image order (see ``select_property_columns``).
    probabilities : ndarray of shape (n_images, n_classes)
        Out-of-sample class probabilities; in-sample ones hide errors.
    labels : array-like of int, shape (n_images,)
    classes : sequence of str
    n_bins : int, default 4
        Quantile bins per property, cut over all images; a property with at
        most ``n_bins`` distinct values gets one bin per value.
    min_count : int, default 20
        Smallest slice that is tested; smaller slices are left out.

    Returns
    -------
    DataFrame
        One row per tested slice with the columns of ``SLICE_COLUMNS``;
        ``kind`` is ``"class"``, ``"property"`` or ``"class x property"``.
        Sorted by adjusted p-value.
    """
    values = select_property_columns(properties)
    labels = check_labels(labels, classes, len(values))
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.shape != (len(labels), len(classes)):
        raise ValueError(
            f"probabilities must have shape ({len(labels)}, {len(classes)}), "
            f"got {probabilities.shape}."
        )
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins}.")
    errors = probabilities.argmax(axis=1) != labels

    rows = _class_slices(errors, labels, classes, min_count)
    for name in values.columns:
        bins, edges = _quantile_bins(values[name].to_numpy(), n_bins)
        if edges is None:
            continue
        rows += _bin_slices(errors, bins, edges, str(name), None, min_count)
        for index, class_name in enumerate(classes):
            in_class = labels == index
            rows += _bin_slices(
                errors[in_class],
                bins[in_class],
                edges,
                str(name),
                class_name,
                min_count,
            )

    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=SLICE_COLUMNS)
    table["error_low"], table["error_high"] = wilson_interval(
        table["n_errors"], table["n"]
    )
    table["p_adjusted"] = adjust_pvalues(table["p_value"], method=correction)
    table["is_significant"] = table["p_adjusted"] < alpha
    table["description"] = [_describe(row) for row in table.to_dict("records")]
    table = table.sort_values(["p_adjusted", "error_ratio"], ascending=[True, False])
    return table[SLICE_COLUMNS].reset_index(drop=True)


def _quantile_bins(column: np.ndarray, n_bins: int):
    """Return a bin index per value (-1 for NaN) and the bins' edges."""
    finite = np.isfinite(column)
    bins = np.full(len(column), -1, dtype=np.int64)
    if finite.sum() < 2:
        return bins, None
    distinct = np.unique(column[finite])
    if len(distinct) < 2:
        return bins, None
    if len(distinct) <= n_bins:
        bins[finite] = np.searchsorted(distinct, column[finite])
        return bins, [(value, value) for value in distinct]
    cuts = np.unique(np.quantile(column[finite], np.linspace(0, 1, n_bins + 1)))
    # Each value goes to the last cut at or below it; the maximum joins the top bin.
    index = np.searchsorted(cuts, column[finite], side="right") - 1
    bins[finite] = np.clip(index, 0, len(cuts) - 2)
    edges = [(cuts[i], cuts[i + 1]) for i in range(len(cuts) - 1)]
    return bins, edges


def _class_slices(errors, labels, classes, min_count) -> list[dict]:
    rows = []
    for index, class_name in enumerate(classes):
        inside = labels == index
        rows.append(
            _slice_row(errors, inside, min_count, kind="class", class_name=class_name)
        )
    return [row for row in rows if row is not None]


def _bin_slices(errors, bins, edges, name, class_name, min_count) -> list[dict]:
    rows = []
    kind = "property" if class_name is None else "class x property"
    binned = bins >= 0
    for number, (low, high) in enumerate(edges):
        inside = bins == number
        row = _slice_row(
            errors[binned],
            inside[binned],
            min_count,
            kind=kind,
            class_name=class_name,
            property_name=name,
            bin_label=_bin_label(number, len(edges), low, high),
            bin_low=low,
            bin_high=high,
        )
        if row is not None:
            rows.append(row)
    return rows


def _slice_row(
    errors,
    inside,
    min_count,
    *,
    kind,
    class_name=None,
    property_name=None,
    bin_label=None,
    bin_low=np.nan,
    bin_high=np.nan,
):
    n, rest_n = int(inside.sum()), int((~inside).sum())
    if n < min_count or rest_n == 0:
        return None
    n_errors = int(errors[inside].sum())
    rest_errors = int(errors[~inside].sum())
    rate, rest_rate = n_errors / n, rest_errors / rest_n
    return {
        "kind": kind,
        "class": class_name,
        "property": property_name,
        "bin": bin_label,
        "bin_low": float(bin_low),
        "bin_high": float(bin_high),
        "n": n,
        "n_errors": n_errors,
        "error_rate": rate,
        "rest_n": rest_n,
        "rest_error_rate": rest_rate,
        "error_ratio": rate / rest_rate if rest_rate > 0 else np.inf,
        "p_value": fisher_greater(n_errors, n, rest_errors, rest_n),
    }


def _bin_label(number: int, n_bins: int, low: float, high: float) -> str:
    if low == high:
        return f"= {low:.4g}"
    return f"Q{number + 1}/{n_bins} [{low:.4g}, {high:.4g}]"


def _describe(row: dict) -> str:
    share = f"{row['error_rate']:.0%} wrong ({row['n_errors']}/{row['n']})"
    rest = f"{row['rest_error_rate']:.0%}"
    if row["kind"] == "class":
        return f"class {row['class']}: {share} vs {rest} for the other classes"
    where = f"{row['property']} {row['bin']}"
    if row["kind"] == "property":
        return f"{where}: {share} vs {rest} in the other bins"
    return (
        f"class {row['class']} with {where}: {share} vs {rest} "
        "for the class's other images"
    )

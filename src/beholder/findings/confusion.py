"""Confusion matrix and the class pairs a model confuses most.

Two views of a pair ``(a, b)``:

- From the confusion matrix of given against predicted labels: the share of
  images given ``a`` that the probe predicts as ``b``. A larger class
  attracts predictions from a smaller one it overlaps with, so these rates
  are skewed by class size.
- From the estimated joint of given and true labels (``joint.py``): the
  share of images given ``a`` whose true label is estimated to be ``b``.
  Per-class thresholds correct for class size, so this view is preferred
  when the joint is available.

A pair whose two classes each have a large share estimated to belong to the
other is not separable with these labels and features: either the classes
overlap in what they show, or their labels are systematically mixed. Both
call for a decision about the class list, so the pair gets a suggestion.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_MERGE_THRESHOLD = 0.2
DEFAULT_SPLIT_THRESHOLD = 0.3

PAIR_COLUMNS = [
    "class_a",
    "class_b",
    "n_a_as_b",
    "n_b_as_a",
    "rate_a_as_b",
    "rate_b_as_a",
    "joint_a_b",
    "joint_b_a",
    "est_rate_a_as_b",
    "est_rate_b_as_a",
    "overlap",
    "suggestion",
    "suggestion_reason",
]


def confusion_matrix(
    probabilities: np.ndarray, labels: np.ndarray, n_classes: int
) -> np.ndarray:
    """Count given label (rows) against predicted label (columns).

    Parameters
    ----------
    probabilities : ndarray of shape (n_images, n_classes)
        Out-of-sample class probabilities; the prediction is the argmax.
    labels : ndarray of shape (n_images,)
        Given class index of each image.
    n_classes : int

    Returns
    -------
    ndarray of shape (n_classes, n_classes), int64
    """
    predicted = np.asarray(probabilities).argmax(axis=1)
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels), predicted), 1)
    return matrix


def find_confused_pairs(
    matrix: np.ndarray,
    classes: list[str],
    *,
    joint=None,
    merge_threshold: float = DEFAULT_MERGE_THRESHOLD,
    split_threshold: float = DEFAULT_SPLIT_THRESHOLD,
) -> pd.DataFrame:
    """Rank unordered class pairs by how much of each class goes to the other.

    Parameters
    ----------
    matrix : ndarray of shape (n_classes, n_classes)
        Confusion matrix from ``confusion_matrix``: given label in rows,
        predicted label in columns.
    classes : list of str
        Class names in index order.
    joint : ndarray of shape (n_classes, n_classes), optional
        Estimated joint of given (rows) and true (columns) labels from
        ``estimate_joint``. Without it the ``joint_*`` and ``est_rate_*``
        columns are NaN and the suggestions use the confusion matrix.
    merge_threshold : float, default 0.2
        Suggest ``"merge"`` when both classes have at least this share of
        their images estimated to belong to the other.
    split_threshold : float, default 0.3
        Suggest ``"split"`` of class ``a`` when at least this share of the
        images given ``a`` are estimated to belong to ``b``, but less than
        ``merge_threshold`` of ``b`` is estimated to be ``a``.

    Returns
    -------
    DataFrame
        One row per pair with any confusion, highest ``overlap`` first, ties
        broken by the larger observed rate and then by the observed count:

        - ``n_a_as_b``, ``rate_a_as_b``: images given ``a`` predicted as
          ``b``, as a count and a share of ``a`` (and the same for ``b``);
        - ``joint_a_b``: ``Q[a, b]``, estimated share of the whole dataset
          given ``a`` but truly ``b``;
        - ``est_rate_a_as_b``: ``Q[a, b] / sum_j Q[a, j]``, estimated share
          of the images given ``a`` that truly are ``b``;
        - ``overlap``: the larger of the two directional rates, from the
          joint when given and from the confusion matrix otherwise;
        - ``suggestion``: ``"merge"``, ``"split a"``, ``"split b"`` or
          ``""``, and ``suggestion_reason`` in words.
    """
    matrix = np.asarray(matrix)
    n_classes = len(classes)
    if matrix.shape != (n_classes, n_classes):
        raise ValueError(
            f"matrix must have shape ({n_classes}, {n_classes}) to match "
            f"{n_classes} classes, got {matrix.shape}."
        )
    support = matrix.sum(axis=1)
    rates = matrix / np.maximum(support, 1)[:, np.newaxis]
    if joint is not None:
        joint = np.asarray(joint, dtype=np.float64)
        if joint.shape != (n_classes, n_classes):
            raise ValueError(
                f"joint must have shape ({n_classes}, {n_classes}), got "
                f"{joint.shape}."
            )
        given_share = joint.sum(axis=1)
        est_rates = joint / np.where(given_share > 0, given_share, 1.0)[:, np.newaxis]

    rows = []
    for a in range(n_classes):
        for b in range(a + 1, n_classes):
            confused = matrix[a, b] + matrix[b, a] > 0
            if joint is not None:
                confused = confused or joint[a, b] + joint[b, a] > 0
            if not confused:
                continue
            row = {
                "class_a": classes[a],
                "class_b": classes[b],
                "n_a_as_b": int(matrix[a, b]),
                "n_b_as_a": int(matrix[b, a]),
                "rate_a_as_b": float(rates[a, b]),
                "rate_b_as_a": float(rates[b, a]),
                "joint_a_b": np.nan,
                "joint_b_a": np.nan,
                "est_rate_a_as_b": np.nan,
                "est_rate_b_as_a": np.nan,
            }
            directional = (row["rate_a_as_b"], row["rate_b_as_a"])
            if joint is not None:
                row["joint_a_b"] = float(joint[a, b])
                row["joint_b_a"] = float(joint[b, a])
                row["est_rate_a_as_b"] = float(est_rates[a, b])
                row["est_rate_b_as_a"] = float(est_rates[b, a])
                directional = (row["est_rate_a_as_b"], row["est_rate_b_as_a"])
            row["overlap"] = max(directional)
            row["suggestion"], row["suggestion_reason"] = _suggest(
                classes[a], classes[b], *directional, merge_threshold, split_threshold
            )
            rows.append(row)

    frame = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    # The joint is often exactly 0 off the diagonal, so ties on overlap are
    # broken by the observed confusion: its larger rate, then its count.
    order = frame.assign(
        _rate=frame[["rate_a_as_b", "rate_b_as_a"]].max(axis=1),
        _count=frame["n_a_as_b"] + frame["n_b_as_a"],
    ).sort_values(
        ["overlap", "_rate", "_count"], ascending=False, kind="stable"
    ).index
    return frame.loc[order].reset_index(drop=True)


def _suggest(name_a, name_b, rate_ab, rate_ba, merge_threshold, split_threshold):
    """Return (suggestion, reason) for one pair from its two directional rates."""
    if min(rate_ab, rate_ba) >= merge_threshold:
        return "merge", (
            f"{rate_ab:.0%} of {name_a} looks like {name_b} and {rate_ba:.0%} of "
            f"{name_b} looks like {name_a}: the pair is not separable with these "
            "labels. Merge the classes, or write a rule that tells them apart and "
            "relabel."
        )
    for source, target, rate, reverse in (
        (name_a, name_b, rate_ab, rate_ba),
        (name_b, name_a, rate_ba, rate_ab),
    ):
        if rate >= split_threshold and reverse < merge_threshold:
            return f"split {source}", (
                f"{rate:.0%} of {source} looks like {target}, but only "
                f"{reverse:.0%} of {target} looks like {source}: {source} may "
                f"contain a sub-group that belongs to {target} or deserves its "
                "own class."
            )
    return "", ""

"""Decide which images to flag, using the estimated number of errors per class.

The estimated joint ``Q`` says how many images given label ``i`` truly
belong to ``j``: about ``n * Q[i, j]``. Pruning flags that many images, the
most suspect first, following the rules of confident learning (Northcutt,
Jiang and Chuang, JAIR 70, 2021):

- ``prune_by_noise_rate``: for each pair ``i != j``, flag the
  ``round(n * Q[i, j])`` images given ``i`` with the largest margin
  ``p[j] - p[i]``.
- ``prune_by_class``: for each class ``i``, flag as many images given ``i``
  as the cells above estimate in total, those with the lowest ``p[i]``.
- ``both``: images flagged by both rules.
- ``confident_joint``: images counted off the diagonal of the confident
  joint.
- ``argmax``: images whose most probable class is not the given label.
"""

from __future__ import annotations

import numpy as np

from beholder.findings._checks import check_probabilities_and_labels
from beholder.findings.joint import compute_confident_joint, estimate_joint

PRUNING_METHODS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_joint",
    "argmax",
)


def find_issues_by_pruning(
    probabilities,
    labels,
    *,
    method: str = "prune_by_noise_rate",
    joint=None,
    min_per_class: int = 1,
) -> np.ndarray:
    """Flag the images confident learning estimates to be mislabelled.

    Parameters
    ----------
    probabilities : array-like of shape (n_images, n_classes)
        Out-of-sample class probabilities: row ``i`` must come from a model
        that did not train on image ``i``.
    labels : array-like of shape (n_images,)
        Given class index of each image.
    method : str, default "prune_by_noise_rate"
        One of ``PRUNING_METHODS``; see the module docstring.
    joint : array-like of shape (n_classes, n_classes), optional
        Estimated joint from ``estimate_joint``; computed when not given.
    min_per_class : int, default 1
        Each given class keeps at least this many unflagged images, so a
        class is never emptied by the pruning rules. The ``confident_joint``
        and ``argmax`` rules do not use it.

    Returns
    -------
    ndarray of shape (n_images,), bool
        True where the given label is estimated to be wrong.
    """
    if method not in PRUNING_METHODS:
        raise ValueError(
            f"method must be one of {', '.join(PRUNING_METHODS)}, got {method!r}."
        )
    if min_per_class < 0:
        raise ValueError(f"min_per_class must be at least 0, got {min_per_class}.")
    probabilities, labels = check_probabilities_and_labels(probabilities, labels)

    if method == "argmax":
        return probabilities.argmax(axis=1) != labels
    if method == "confident_joint":
        _, confident_label = compute_confident_joint(probabilities, labels)
        return (confident_label >= 0) & (confident_label != labels)

    if joint is None:
        joint = estimate_joint(probabilities, labels)
    joint = np.asarray(joint, dtype=np.float64)
    n_classes = probabilities.shape[1]
    if joint.shape != (n_classes, n_classes):
        raise ValueError(
            f"joint must have shape ({n_classes}, {n_classes}), got {joint.shape}."
        )

    if method == "prune_by_noise_rate":
        return _prune_by_noise_rate(probabilities, labels, joint, min_per_class)
    if method == "prune_by_class":
        return _prune_by_class(probabilities, labels, joint, min_per_class)
    return _prune_by_noise_rate(
        probabilities, labels, joint, min_per_class
    ) & _prune_by_class(probabilities, labels, joint, min_per_class)


def _prune_counts(joint, labels, n_classes, min_per_class):
    """Return the number of images to flag per (given, true) cell, shape (K, K)."""
    n_images = len(labels)
    counts = np.rint(joint * n_images).astype(np.int64)
    np.fill_diagonal(counts, 0)
    given_counts = np.bincount(labels, minlength=n_classes)
    allowed = np.maximum(given_counts - min_per_class, 0)
    planned = counts.sum(axis=1)
    for i in np.flatnonzero(planned > allowed):
        # Scale the row down so the class keeps min_per_class images.
        scaled = np.floor(counts[i] * allowed[i] / planned[i]).astype(np.int64)
        counts[i] = scaled
    return counts


def _top_indices(values, count):
    """Return the indices of the ``count`` largest values (ties: lower index)."""
    if count <= 0:
        return np.empty(0, dtype=np.int64)
    order = np.argsort(-values, kind="stable")
    return order[:count]


def _prune_by_noise_rate(probabilities, labels, joint, min_per_class):
    n_classes = probabilities.shape[1]
    counts = _prune_counts(joint, labels, n_classes, min_per_class)
    flagged = np.zeros(len(labels), dtype=bool)
    for given in range(n_classes):
        members = np.flatnonzero(labels == given)
        if len(members) == 0:
            continue
        for true in np.flatnonzero(counts[given]):
            margin = probabilities[members, true] - probabilities[members, given]
            flagged[members[_top_indices(margin, counts[given, true])]] = True
    return flagged


def _prune_by_class(probabilities, labels, joint, min_per_class):
    n_classes = probabilities.shape[1]
    counts = _prune_counts(joint, labels, n_classes, min_per_class).sum(axis=1)
    flagged = np.zeros(len(labels), dtype=bool)
    for given in np.flatnonzero(counts):
        members = np.flatnonzero(labels == given)
        self_confidence = probabilities[members, given]
        flagged[members[_top_indices(-self_confidence, counts[given])]] = True
    return flagged

"""Input checks shared by the findings modules."""

from __future__ import annotations

import numpy as np


def check_probabilities_and_labels(
    probabilities, labels, *, n_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``probabilities`` as float64 (n, K) and ``labels`` as int64 (n,).

    Raises ValueError naming the bad value when the shapes do not match, a
    label is outside ``0..K-1``, or a probability is not finite or negative.
    Rows are not renormalised: callers that import predictions check sums
    in ``beholder.predict.external``.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    if probabilities.ndim != 2:
        raise ValueError(
            "probabilities must be a 2-D array of shape (n_images, n_classes), "
            f"got shape {probabilities.shape}."
        )
    if labels.ndim != 1 or len(labels) != len(probabilities):
        raise ValueError(
            f"labels must have shape ({len(probabilities)},) to match probabilities, "
            f"got shape {labels.shape}."
        )
    if len(labels) and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be integer class indices, got dtype {labels.dtype}; "
            "map class names to indices first."
        )
    n_columns = probabilities.shape[1]
    if n_classes is not None and n_classes != n_columns:
        raise ValueError(
            f"n_classes is {n_classes} but probabilities has {n_columns} columns."
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= n_columns):
        bad = labels[(labels < 0) | (labels >= n_columns)][0]
        raise ValueError(
            f"label {bad} is outside 0..{n_columns - 1}, the columns of "
            "probabilities."
        )
    if not np.isfinite(probabilities).all() or (probabilities < 0).any():
        raise ValueError(
            "probabilities contains NaN, infinite or negative values; pass "
            "class probabilities (softmax of logits), not raw scores."
        )
    return probabilities, labels.astype(np.int64)

"""Confusion matrix and the class pairs a model confuses most."""

from __future__ import annotations

import numpy as np
import pandas as pd


def confusion_matrix(
    probabilities: np.ndarray, labels: np.ndarray, n_classes: int
) -> np.ndarray:
    """Count given label (rows) against predicted label (columns).

    Returns an int array of shape ``(n_classes, n_classes)``.
    """
    predicted = np.asarray(probabilities).argmax(axis=1)
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels), predicted), 1)
    return matrix


def find_confused_pairs(matrix: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """Rank unordered class pairs by how much of each class goes to the other.

    ``overlap`` is the larger of the two rates ``n(a as b) / n(a)`` and
    ``n(b as a) / n(b)``; pairs the model never confuses are left out.
    """
    support = matrix.sum(axis=1)
    rows = []
    for a in range(len(classes)):
        for b in range(a + 1, len(classes)):
            a_as_b, b_as_a = int(matrix[a, b]), int(matrix[b, a])
            if a_as_b + b_as_a == 0:
                continue
            rate_ab = a_as_b / max(support[a], 1)
            rate_ba = b_as_a / max(support[b], 1)
            rows.append(
                {
                    "class_a": classes[a],
                    "class_b": classes[b],
                    "n_a_as_b": a_as_b,
                    "n_b_as_a": b_as_a,
                    "rate_a_as_b": rate_ab,
                    "rate_b_as_a": rate_ba,
                    "overlap": max(rate_ab, rate_ba),
                }
            )
    columns = [
        "class_a",
        "class_b",
        "n_a_as_b",
        "n_b_as_a",
        "rate_a_as_b",
        "rate_b_as_a",
        "overlap",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("overlap", ascending=False, ignore_index=True)

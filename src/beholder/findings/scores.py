"""Per-image label quality scores computed from out-of-sample probabilities.

Each score is a function of one row of probabilities and its given label
alone, so it does not change when other images are added, removed or
duplicated, nor when the classes are reordered consistently.

- ``self_confidence``: ``p[y]``, the probability of the given label.
- ``normalized_margin``: ``(p[y] - max_{k != y} p[k] + 1) / 2``, the margin
  of the given label over the strongest other class, mapped to [0, 1].
- ``combined``: the mean of the two.

Self-confidence and normalized margin are two of the scores compared by
Kuan and Mueller, "Model-Agnostic Label Quality Scoring to Detect
Real-World Label Errors" (2022).
"""

from __future__ import annotations

import numpy as np

from beholder.findings._checks import check_probabilities_and_labels

SCORE_METHODS = ("self_confidence", "normalized_margin", "combined")


def compute_margin(probabilities, labels) -> tuple[np.ndarray, np.ndarray]:
    """Compute the margin of the given label and the strongest other class.

    Parameters
    ----------
    probabilities : array-like of shape (n_images, n_classes)
    labels : array-like of shape (n_images,)
        Given class index of each image.

    Returns
    -------
    margin : ndarray of shape (n_images,)
        ``p[y] - max_{k != y} p[k]``, in [-1, 1].
    best_other : ndarray of shape (n_images,)
        Index of the most probable class other than the given one; with
        ties, the lowest index.
    """
    probabilities, labels = check_probabilities_and_labels(probabilities, labels)
    rows = np.arange(len(labels))
    if probabilities.shape[1] < 2:
        return np.ones(len(labels)), np.zeros(len(labels), dtype=np.int64)
    others = probabilities.copy()
    others[rows, labels] = -np.inf
    best_other = others.argmax(axis=1)
    margin = probabilities[rows, labels] - others[rows, best_other]
    return margin, best_other


def compute_label_quality(
    probabilities, labels, *, method: str = "self_confidence"
) -> np.ndarray:
    """Score how likely each given label is to be right.

    Parameters
    ----------
    probabilities : array-like of shape (n_images, n_classes)
        Out-of-sample class probabilities: row ``i`` must come from a model
        that was not trained on image ``i``. In-sample probabilities have
        memorised the given labels, wrong ones included.
    labels : array-like of shape (n_images,)
        Given class index of each image.
    method : {"self_confidence", "normalized_margin", "combined"}
        See the module docstring.

    Returns
    -------
    ndarray of shape (n_images,)
        Quality in [0, 1]; lower means the label is more likely wrong.
    """
    if method not in SCORE_METHODS:
        raise ValueError(
            f"method must be one of {', '.join(SCORE_METHODS)}, got {method!r}."
        )
    probabilities, labels = check_probabilities_and_labels(probabilities, labels)
    self_confidence = probabilities[np.arange(len(labels)), labels]
    if method == "self_confidence":
        return np.clip(self_confidence, 0.0, 1.0)

    margin, _ = compute_margin(probabilities, labels)
    normalized_margin = np.clip((margin + 1.0) / 2.0, 0.0, 1.0)
    if method == "normalized_margin":
        return normalized_margin
    return np.clip((self_confidence + normalized_margin) / 2.0, 0.0, 1.0)

"""Rank images whose given label is likely wrong, from out-of-sample probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd


def find_label_issues(
    probabilities: np.ndarray,
    labels: np.ndarray,
) -> pd.DataFrame:
    """Score every image by how unlikely its given label is.

    Parameters
    ----------
    probabilities : ndarray of shape (n_images, n_classes)
        Out-of-sample class probabilities: each row must come from a model
        that did not train on that image (cross-validation).
    labels : ndarray of shape (n_images,)
        Given class index of each image.

    Returns
    -------
    DataFrame
        One row per image in input order, with ``label_issue_score`` in
        [0, 1] (higher is more suspect), ``is_label_issue``,
        ``suggested_label`` (class index), ``self_confidence`` and
        ``normalized_margin``, and ``rank`` (1 = most suspect).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    n = len(labels)
    given = probabilities[np.arange(n), labels]
    others = probabilities.copy()
    others[np.arange(n), labels] = -np.inf
    best_other = others.argmax(axis=1)
    margin = given - others[np.arange(n), best_other]

    score = 1.0 - (margin + 1.0) / 2.0
    frame = pd.DataFrame(
        {
            "label_issue_score": score,
            "is_label_issue": margin < 0,
            "suggested_label": best_other,
            "self_confidence": given,
            "normalized_margin": margin,
        }
    )
    order = np.argsort(-score, kind="stable")
    frame["rank"] = 0
    frame.loc[order, "rank"] = np.arange(1, n + 1)
    return frame

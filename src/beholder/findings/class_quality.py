"""Per-class label quality from the estimated joint of given and true labels."""

from __future__ import annotations

import numpy as np
import pandas as pd

from beholder.findings._checks import check_probabilities_and_labels
from beholder.findings.joint import estimate_joint


def class_label_quality(
    probabilities, labels, classes, *, joint=None, is_label_issue=None
) -> pd.DataFrame:
    """Summarise, per class, how many of its labels are estimated to be wrong.

    Parameters
    ----------
    probabilities : array-like of shape (n_images, n_classes)
        Out-of-sample class probabilities (or the ensemble's mixed
        probabilities) used to estimate the joint.
    labels : array-like of shape (n_images,)
        Given class index of each image.
    classes : sequence of str of length n_classes
        Class names in column order.
    joint : array-like of shape (n_classes, n_classes), optional
        Estimated joint from ``estimate_joint``; computed when not given.
    is_label_issue : array-like of shape (n_images,), optional
        Flags from ``find_label_issues``, counted per given class.

    Returns
    -------
    DataFrame
        One row per class, lowest ``label_quality`` first, with columns

        - ``class``, ``n_given``: the class and how many images carry it;
        - ``n_estimated_true``: estimated images truly of the class;
        - ``label_quality``: estimated share of the images given the class
          whose label is right, ``Q[i, i] / sum_j Q[i, j]``;
        - ``estimated_noise_rate``: ``1 - label_quality``;
        - ``estimated_missed_rate``: estimated share of the class's true
          images that carry another label, ``1 - Q[i, i] / sum_j Q[j, i]``;
        - ``top_confused_with``, ``top_confused_share``: the class that the
          most wrongly given images truly belong to (missing when none is
          estimated wrong), and their share of the images given the class;
        - ``mean_self_confidence``: mean probability of the given label;
        - ``n_flagged``: flagged images given the class (only with
          ``is_label_issue``).
    """
    probabilities, labels = check_probabilities_and_labels(probabilities, labels)
    n_images, n_classes = probabilities.shape
    classes = [str(c) for c in classes]
    if len(classes) != n_classes:
        raise ValueError(
            f"classes has {len(classes)} names but probabilities has {n_classes} "
            "columns."
        )
    if joint is None:
        joint = estimate_joint(probabilities, labels)
    joint = np.asarray(joint, dtype=np.float64)

    given_share = joint.sum(axis=1)
    true_share = joint.sum(axis=0)
    diagonal = np.diag(joint)
    with np.errstate(invalid="ignore", divide="ignore"):
        quality = np.where(given_share > 0, diagonal / given_share, np.nan)
        recall = np.where(true_share > 0, diagonal / true_share, np.nan)
        off_diagonal = joint - np.diag(diagonal)
        top_other = off_diagonal.argmax(axis=1)
        top_share = np.where(
            given_share > 0, off_diagonal.max(axis=1) / given_share, np.nan
        )

    n_given = np.bincount(labels, minlength=n_classes)
    confidence_sums = np.bincount(
        labels, weights=probabilities[np.arange(n_images), labels], minlength=n_classes
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.where(n_given > 0, confidence_sums / n_given, np.nan)

    frame = pd.DataFrame(
        {
            "class": classes,
            "n_given": n_given,
            "n_estimated_true": true_share * n_images,
            "label_quality": quality,
            "estimated_noise_rate": 1.0 - quality,
            "estimated_missed_rate": 1.0 - recall,
            "top_confused_with": [
                classes[j] if share > 0 else None
                for j, share in zip(top_other, np.nan_to_num(top_share))
            ],
            "top_confused_share": top_share,
            "mean_self_confidence": mean_confidence,
        }
    )
    if is_label_issue is not None:
        is_label_issue = np.asarray(is_label_issue, dtype=bool)
        if is_label_issue.shape != (n_images,):
            raise ValueError(
                f"is_label_issue must have shape ({n_images},), got "
                f"{is_label_issue.shape}."
            )
        frame["n_flagged"] = np.bincount(
            labels[is_label_issue], minlength=n_classes
        )
    return frame.sort_values(
        ["label_quality", "class"], ascending=[True, True], ignore_index=True
    )

"""Rank images whose given label is likely wrong.

Three methods, all on out-of-sample inputs:

- ``confident_learning``: scores from the probe's probabilities; the
  pruning rules of confident learning (``pruning.py``) set how many images
  are flagged.
- ``knn``: scores from the labels of the nearest neighbours in embedding
  space (``knn.py``), with no model.
- ``ensemble``: both mixed into one probability-like vector per image
  (``ensemble.py``), then scored like probabilities. This is the default
  when embeddings are given.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from beholder.findings._checks import check_probabilities_and_labels
from beholder.findings.ensemble import (
    DEFAULT_ENSEMBLE_SCORE,
    DEFAULT_ENSEMBLE_WEIGHT,
    combine_probabilities,
)
from beholder.findings.joint import compute_confident_joint, estimate_joint
from beholder.findings.knn import DEFAULT_K, compute_knn_consensus
from beholder.findings.pruning import find_issues_by_pruning
from beholder.findings.scores import compute_label_quality, compute_margin

logger = logging.getLogger(__name__)

LABEL_ISSUE_METHODS = ("ensemble", "confident_learning", "knn")


def find_label_issues(
    probabilities,
    labels,
    *,
    embeddings=None,
    method: str | None = None,
    k: int = DEFAULT_K,
    score: str | None = None,
    ensemble_weight: float = DEFAULT_ENSEMBLE_WEIGHT,
    pruning: str = "prune_by_noise_rate",
    content_ids=None,
    min_per_class: int = 1,
) -> pd.DataFrame:
    """Score every image by how unlikely its given label is, and flag the worst.

    Parameters
    ----------
    probabilities : array-like of shape (n_images, n_classes)
        Out-of-sample class probabilities: each row must come from a model
        that did not train on that image (cross-validation). In-sample
        probabilities have memorised the given labels and hide their errors.
    labels : array-like of shape (n_images,)
        Given class index of each image.
    embeddings : array-like of shape (n_images, dim), optional
        Image embeddings for the kNN consensus; needed by ``"ensemble"`` and
        ``"knn"``.
    method : {"ensemble", "confident_learning", "knn"}, optional
        Defaults to ``"ensemble"`` when ``embeddings`` is given and to
        ``"confident_learning"`` otherwise.
    k : int, default 10
        Neighbour groups that vote in the kNN consensus (fewer for classes
        with at most ``k`` distinct images; see ``knn.py``).
    score : {"self_confidence", "normalized_margin", "combined"}, optional
        Label quality score behind ``label_issue_score`` (see
        ``scores.py``). Defaults to ``DEFAULT_ENSEMBLE_SCORE`` for the
        ensemble and kNN and to ``"self_confidence"`` for confident learning.
    ensemble_weight : float, default ``DEFAULT_ENSEMBLE_WEIGHT``
        Weight of the probabilities in the ensemble; the rest goes to the
        kNN consensus.
    pruning : str, default "prune_by_noise_rate"
        Rule that estimates how many images to flag; one of
        ``beholder.findings.PRUNING_METHODS``.
    content_ids : array-like of shape (n_images,), optional
        Content hash per image; images with equal ids count as copies in the
        kNN consensus (see ``knn.py``).
    min_per_class : int, default 1
        Images per given class that pruning never flags.

    Returns
    -------
    DataFrame
        One row per image in input order, with columns

        - ``label_issue_score``: in [0, 1], higher is more suspect. It is
          one minus the chosen quality score, so it depends only on the
          image's own probabilities and its neighbours' labels.
        - ``is_label_issue``: the top ``m`` of the ranking, where ``m`` is
          the number of images the pruning rule flags. This depends on the
          whole dataset through the estimated joint.
        - ``suggested_label``: the most likely class other than the given
          one, under the method's probabilities.
        - ``self_confidence``: the probe's probability of the given label.
        - ``normalized_margin``: the probe's ``p[y] - max_{k != y} p[k]``,
          in [-1, 1].
        - ``confident_label``: the class the confident joint counted the
          image under, or -1 where no class reached its threshold.
        - ``class_pair_rate``: estimated share of the images given this
          image's label that truly belong to ``suggested_label``, from the
          estimated joint. A high rate marks a confused class pair rather
          than a one-off mistake (see ``find_confused_pairs``).
        - ``knn_agreement``: share of neighbour votes for the given label
          (NaN without embeddings).
        - ``knn_suggested_label``: the neighbours' majority class (-1
          without embeddings).
        - ``disagreeing_neighbours``: image ids (row indices) of neighbours
          whose label differs, nearest first (empty without embeddings).
        - ``rank``: 1 is the most suspect; ties keep input order.

        ``frame.attrs`` records the method and its settings, and under
        ``"joint"`` the estimated joint of given and true labels used for
        the flags, as a nested list of shape (n_classes, n_classes); pass
        ``np.asarray(frame.attrs["joint"])`` to ``class_label_quality`` and
        ``find_confused_pairs``.
    """
    probabilities, labels = check_probabilities_and_labels(probabilities, labels)
    n_images, n_classes = probabilities.shape
    method = _resolve_method(method, embeddings)

    consensus = None
    if embeddings is not None:
        embeddings = np.asarray(embeddings)
        if len(embeddings) != n_images:
            raise ValueError(
                f"embeddings has {len(embeddings)} rows but probabilities has "
                f"{n_images}; both must have one row per image."
            )
        consensus = compute_knn_consensus(
            embeddings, labels, n_classes=n_classes, k=k, content_ids=content_ids
        )

    if method == "confident_learning":
        signal = probabilities
        score = score or "self_confidence"
    elif method == "knn":
        signal = consensus.label_distribution
        score = score or DEFAULT_ENSEMBLE_SCORE
    else:
        signal = combine_probabilities(
            probabilities, consensus.label_distribution, weight=ensemble_weight
        )
        score = score or DEFAULT_ENSEMBLE_SCORE

    quality = compute_label_quality(signal, labels, method=score)
    issue_score = 1.0 - quality
    order = np.argsort(-issue_score, kind="stable")

    # The pruning rule estimates how many labels are wrong; the flags are
    # that many images from the top of the ranking, so the flagged set is
    # always a prefix of the ranking. On sun8 with injected noise this gave
    # a higher F1 than the pruning rule's own choice of images, for the
    # probe's probabilities and for the ensemble alike.
    joint = estimate_joint(signal, labels)
    n_flagged = int(
        find_issues_by_pruning(
            signal, labels, method=pruning, joint=joint, min_per_class=min_per_class
        ).sum()
    )
    flagged = np.zeros(n_images, dtype=bool)
    flagged[order[:n_flagged]] = True
    _, suggested = compute_margin(signal, labels)
    given_share = joint.sum(axis=1)
    pair_rate = joint[labels, suggested] / np.where(
        given_share[labels] > 0, given_share[labels], 1.0
    )
    _, confident_label = compute_confident_joint(signal, labels)
    margin, _ = compute_margin(probabilities, labels)

    frame = pd.DataFrame(
        {
            "label_issue_score": issue_score,
            "is_label_issue": flagged,
            "suggested_label": suggested,
            "self_confidence": probabilities[np.arange(n_images), labels],
            "normalized_margin": margin,
            "confident_label": confident_label,
            "class_pair_rate": pair_rate,
        }
    )
    _add_knn_columns(frame, consensus)
    rank = np.empty(n_images, dtype=np.int64)
    rank[order] = np.arange(1, n_images + 1)
    frame["rank"] = rank
    frame.attrs.update(
        {
            "method": method,
            "score": score,
            "pruning": pruning,
            "k": k if consensus is not None else None,
            "ensemble_weight": ensemble_weight if method == "ensemble" else None,
            # A nested list, not an array: pandas compares attrs with == when
            # it concatenates frames, which is ambiguous for arrays.
            "joint": joint.tolist(),
        }
    )
    logger.info(
        "label issues: method=%s, %d of %d images flagged",
        method,
        int(flagged.sum()),
        n_images,
    )
    return frame


def _resolve_method(method, embeddings):
    if method is None:
        return "confident_learning" if embeddings is None else "ensemble"
    if method not in LABEL_ISSUE_METHODS:
        raise ValueError(
            f"method must be one of {', '.join(LABEL_ISSUE_METHODS)}, got {method!r}."
        )
    if method != "confident_learning" and embeddings is None:
        raise ValueError(
            f"method={method!r} needs embeddings for the kNN consensus; pass "
            "embeddings=... or use method='confident_learning'."
        )
    return method


def _add_knn_columns(frame, consensus):
    if consensus is None:
        frame["knn_agreement"] = np.nan
        frame["knn_suggested_label"] = -1
        frame["disagreeing_neighbours"] = [[] for _ in range(len(frame))]
        return
    frame["knn_agreement"] = consensus.agreement
    frame["knn_suggested_label"] = consensus.label_distribution.argmax(axis=1)
    frame["disagreeing_neighbours"] = consensus.disagreeing_neighbours

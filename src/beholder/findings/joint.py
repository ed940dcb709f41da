"""The estimated joint distribution of given and true labels (confident learning).

Confident learning (Northcutt, Jiang and Chuang, "Confident Learning:
Estimating Uncertainty in Dataset Labels", JAIR 70, 2021) assumes that label
noise depends only on the true class, and estimates the joint distribution
``Q[i, j] = P(given label = i, true label = j)`` by counting:

1. The threshold of class ``j`` is the mean probability of ``j`` over the
   images given label ``j``: how confident the model is, on average, in a
   correct-looking member of ``j``.
2. The confident joint ``C[i, j]`` counts images given label ``i`` whose
   probability of ``j`` reaches the threshold of ``j``. An image above the
   threshold of several classes counts once, for the most probable of them.
   An image above no threshold is not counted.
3. Calibration rescales each row of ``C`` so it sums to the number of images
   given that label, then divides by the total so ``Q`` sums to one.

Rows of every matrix here are the given label and columns the true label.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from beholder.findings._checks import check_probabilities_and_labels

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NoiseRates:
    """Label noise rates derived from the estimated joint.

    Attributes
    ----------
    noise_matrix : ndarray of shape (n_classes, n_classes)
        ``P(given = i | true = j)``; each column with any mass sums to one.
    inverse_noise_matrix : ndarray of shape (n_classes, n_classes)
        ``P(true = j | given = i)``; each row with any mass sums to one.
    true_prior : ndarray of shape (n_classes,)
        Estimated share of each true class, ``P(true = j)``.
    given_prior : ndarray of shape (n_classes,)
        Share of each given label, ``P(given = i)``.
    """

    noise_matrix: np.ndarray
    inverse_noise_matrix: np.ndarray
    true_prior: np.ndarray
    given_prior: np.ndarray


def compute_class_thresholds(probabilities, labels, n_classes: int | None = None):
    """Compute the per-class thresholds of confident learning.

    Parameters
    ----------
    probabilities : array-like of shape (n_images, n_classes)
        Out-of-sample class probabilities.
    labels : array-like of shape (n_images,)
        Given class index of each image.
    n_classes : int, optional
        Number of classes; defaults to the columns of ``probabilities``.

    Returns
    -------
    ndarray of shape (n_classes,)
        Threshold of class ``j``: the mean of ``probabilities[:, j]`` over
        the images given label ``j``. A class no image is given gets
        ``inf``, so no image is counted as truly belonging to it.
    """
    probabilities, labels = check_probabilities_and_labels(
        probabilities, labels, n_classes=n_classes
    )
    n_classes = probabilities.shape[1]
    counts = np.bincount(labels, minlength=n_classes)
    given_sums = np.bincount(
        labels,
        weights=probabilities[np.arange(len(labels)), labels],
        minlength=n_classes,
    )
    thresholds = np.full(n_classes, np.inf)
    present = counts > 0
    thresholds[present] = given_sums[present] / counts[present]
    return thresholds


def compute_confident_joint(
    probabilities, labels, *, thresholds=None
) -> tuple[np.ndarray, np.ndarray]:
    """Count images by given label and confidently predicted true label.

    Parameters
    ----------
    probabilities : array-like of shape (n_images, n_classes)
        Out-of-sample class probabilities.
    labels : array-like of shape (n_images,)
        Given class index of each image.
    thresholds : array-like of shape (n_classes,), optional
        Per-class thresholds; by default from ``compute_class_thresholds``.

    Returns
    -------
    confident_joint : ndarray of shape (n_classes, n_classes), int64
        ``C[i, j]``: images given ``i`` that are confidently class ``j``.
    confident_label : ndarray of shape (n_images,), int64
        The column each image was counted in, or -1 where no class reached
        its threshold.
    """
    probabilities, labels = check_probabilities_and_labels(probabilities, labels)
    n_classes = probabilities.shape[1]
    if thresholds is None:
        thresholds = compute_class_thresholds(probabilities, labels)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if thresholds.shape != (n_classes,):
        raise ValueError(
            f"thresholds must have shape ({n_classes},), got {thresholds.shape}."
        )

    above = probabilities >= thresholds[np.newaxis, :]
    candidates = np.where(above, probabilities, -np.inf)
    confident_label = candidates.argmax(axis=1)
    confident_label[~above.any(axis=1)] = -1

    counted = confident_label >= 0
    confident_joint = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confident_joint, (labels[counted], confident_label[counted]), 1)
    return confident_joint, confident_label


def estimate_joint(probabilities, labels, *, confident_joint=None) -> np.ndarray:
    """Estimate the joint distribution of given and true labels.

    Parameters
    ----------
    probabilities : array-like of shape (n_images, n_classes)
        Out-of-sample class probabilities: row ``i`` must come from a model
        that did not train on image ``i``.
    labels : array-like of shape (n_images,)
        Given class index of each image.
    confident_joint : array-like of shape (n_classes, n_classes), optional
        From ``compute_confident_joint``; computed when not given.

    Returns
    -------
    ndarray of shape (n_classes, n_classes)
        ``Q[i, j]``, the estimated share of images given label ``i`` whose
        true label is ``j``. It sums to one, and row ``i`` sums to the share
        of images given label ``i``. A given label with no confidently
        counted image keeps its whole row on the diagonal, because there is
        no evidence that its images belong elsewhere.
    """
    probabilities, labels = check_probabilities_and_labels(probabilities, labels)
    n_classes = probabilities.shape[1]
    if confident_joint is None:
        confident_joint, _ = compute_confident_joint(probabilities, labels)
    confident_joint = np.asarray(confident_joint, dtype=np.float64)
    if confident_joint.shape != (n_classes, n_classes):
        raise ValueError(
            f"confident_joint must have shape ({n_classes}, {n_classes}), "
            f"got {confident_joint.shape}."
        )
    if len(labels) == 0:
        raise ValueError("cannot estimate the joint of an empty dataset.")

    given_counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    row_sums = confident_joint.sum(axis=1)
    empty_rows = (row_sums == 0) & (given_counts > 0)
    if empty_rows.any():
        logger.info(
            "%d given classes have no confidently counted image; their joint "
            "rows stay on the diagonal",
            int(empty_rows.sum()),
        )
    shares = np.zeros_like(confident_joint)
    counted = row_sums > 0
    shares[counted] = confident_joint[counted] / row_sums[counted, np.newaxis]
    shares[empty_rows, empty_rows.nonzero()[0]] = 1.0

    calibrated = shares * given_counts[:, np.newaxis]
    return calibrated / calibrated.sum()


def estimate_noise_rates(joint) -> NoiseRates:
    """Derive noise rates and class priors from an estimated joint.

    Parameters
    ----------
    joint : array-like of shape (n_classes, n_classes)
        ``Q[i, j] = P(given = i, true = j)``, from ``estimate_joint``.

    Returns
    -------
    NoiseRates
        Conditional rates in both directions and both priors. Columns (or
        rows) with no mass are left at zero.
    """
    joint = np.asarray(joint, dtype=np.float64)
    if joint.ndim != 2 or joint.shape[0] != joint.shape[1]:
        raise ValueError(f"joint must be a square matrix, got shape {joint.shape}.")
    if (joint < 0).any() or not np.isclose(joint.sum(), 1.0):
        raise ValueError(
            "joint must be non-negative and sum to one, got sum "
            f"{joint.sum():.6g}; pass the output of estimate_joint."
        )

    true_prior = joint.sum(axis=0)
    given_prior = joint.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        noise_matrix = np.where(true_prior > 0, joint / true_prior[np.newaxis, :], 0.0)
        inverse = np.where(
            given_prior[:, np.newaxis] > 0, joint / given_prior[:, np.newaxis], 0.0
        )
    return NoiseRates(noise_matrix, inverse, true_prior, given_prior)

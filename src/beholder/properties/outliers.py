"""Outliers: images far from every class and from their nearest neighbours.

Two distances per image, both cosine distances (1 - cosine similarity) on
L2-normalised embeddings:

``centroid_distance``
    to the nearest class centroid, whatever the image's own label, so an
    image that merely looks like another class is not an outlier (that is a
    label issue);
``knn_distance``
    mean distance to its ``k`` nearest neighbours (itself excluded).

Each distance becomes a robust z-score against all images (median and
scaled median absolute deviation, the modified z-score of Iglewicz and
Hoaglin, 1993). An image is only as odd as the smaller of its two z-scores,
so it must be far from every class and from its neighbours. The score is
``z / (z + threshold)`` for positive ``z``: 0.5 at the threshold, which
defaults to 3.5, the cut-off Iglewicz and Hoaglin recommend.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

DEFAULT_K = 10
DEFAULT_THRESHOLD = 3.5
# Scales the median absolute deviation to the standard deviation of a normal
# distribution.
_MAD_TO_SIGMA = 1.4826


def find_outliers(
    embeddings,
    labels,
    *,
    k: int = DEFAULT_K,
    threshold: float = DEFAULT_THRESHOLD,
) -> pd.DataFrame:
    """Score every image by how far it lies from all classes and neighbours.

    Parameters
    ----------
    embeddings : array-like of shape (n_images, dim)
        Image embeddings in dataset order.
    labels : array-like of shape (n_images,)
        Class of each image (indices or names).
    k : int, default 10
        Neighbours for the kNN distance; reduced to ``n_images - 1`` for
        small sets.
    threshold : float, default 3.5
        Modified z-score from which an image is flagged.

    Returns
    -------
    pandas.DataFrame
        One row per image: ``is_outlier``, ``outlier_score`` in [0, 1],
        ``centroid_distance``, ``knn_distance``, ``outlier_z``.
    """
    import faiss

    vectors = np.asarray(embeddings, dtype=np.float32)
    labels = np.asarray(labels)
    n = len(vectors)
    if vectors.ndim != 2:
        raise ValueError(
            f"embeddings must be 2-D (n_images, dim), got shape {vectors.shape}"
        )
    if len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries for {n} embeddings")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k!r}")
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, got {threshold!r}")
    if n < 3:
        raise ValueError(f"outliers need at least 3 images, got {n}")

    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    unit = np.ascontiguousarray(unit)
    classes = np.unique(labels)
    centroids = np.stack([unit[labels == c].mean(axis=0) for c in classes])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    centroid_distance = 1.0 - (unit @ centroids.T).max(axis=1)

    k = min(k, n - 1)
    index = faiss.IndexFlatIP(unit.shape[1])
    index.add(unit)
    similarities, neighbours = index.search(unit, k + 1)
    # Drop each image itself; exact duplicates may come first instead, so
    # remove one occurrence of the query and keep k neighbours.
    is_self = neighbours == np.arange(n)[:, None]
    first_self = is_self & (np.cumsum(is_self, axis=1) == 1)
    has_self = first_self.any(axis=1)
    first_self[~has_self, -1] = True
    kept = similarities[~first_self].reshape(n, k)
    knn_distance = 1.0 - kept.mean(axis=1)

    z = np.minimum(_robust_z(centroid_distance), _robust_z(knn_distance))
    positive = np.clip(z, 0.0, None)
    score = positive / (positive + threshold)
    return pd.DataFrame(
        {
            "is_outlier": z >= threshold,
            "outlier_score": score,
            "centroid_distance": centroid_distance.astype(float),
            "knn_distance": knn_distance.astype(float),
            "outlier_z": z,
        }
    )


def _robust_z(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    median = np.median(values)
    spread = _MAD_TO_SIGMA * np.median(np.abs(values - median))
    if spread <= 0:
        spread = values.std() or 1.0
    return (values - median) / spread

"""Label agreement with the nearest neighbours in embedding space.

A model-free signal: an image whose given label differs from the labels of
the images that look most like it is suspect. Each image votes with the
labels of its ``k`` nearest neighbours by cosine similarity, leaving the
image itself out, and the share of votes for its own label is its
agreement.

Copies of one image are treated as one image. Images whose cosine
similarity reaches ``duplicate_similarity``, or that share a content id,
form a content group. A group is never its own neighbour, and a neighbour
group counts once and votes with the label shares of its members. So adding
a copy of an image with the same label changes no image's agreement, and a
copy cannot vouch for a label that both copies got wrong.

The search is exact (faiss ``IndexFlatIP`` on unit vectors), so its time
grows with the square of the number of images.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

# Chosen with the ensemble weight on sun8; see ensemble.py.
DEFAULT_K = 10
# On sun8, exact copies of one file embed to cosine similarity 1 within 5e-7
# (float32 rounding). Re-encoded near copies there stay below 0.9995, so
# they remain separate images.
DEFAULT_DUPLICATE_SIMILARITY = 1.0 - 1e-5


@dataclass(frozen=True)
class KnnConsensus:
    """Neighbour votes for every image.

    Attributes
    ----------
    label_distribution : ndarray of shape (n_images, n_classes)
        Share of neighbour votes for each class; rows sum to one.
    agreement : ndarray of shape (n_images,)
        Share of neighbour votes for the image's given label, in [0, 1].
    neighbour_ids : ndarray of shape (n_images, k), int64
        Image id (row index) of one member of each neighbour group, nearest
        first, padded with -1 after the image's ``n_neighbours``. The second
        dimension is smaller than ``k`` when there are at most ``k``
        distinct images.
    neighbour_similarity : ndarray of shape (n_images, k)
        Cosine similarity to each neighbour, NaN where ``neighbour_ids`` is -1.
    n_neighbours : ndarray of shape (n_images,), int64
        Neighbour groups that voted for each image: ``k``, or fewer for
        images of a class with at most ``k`` distinct images.
    disagreeing_neighbours : list of list of int
        For each image, the ids of all images in its neighbour groups whose
        label differs from its own, nearest group first.
    content_group : ndarray of shape (n_images,), int64
        Content group of each image; copies share a group.
    """

    label_distribution: np.ndarray
    agreement: np.ndarray
    neighbour_ids: np.ndarray
    neighbour_similarity: np.ndarray
    n_neighbours: np.ndarray
    disagreeing_neighbours: list
    content_group: np.ndarray


def compute_knn_consensus(
    embeddings,
    labels,
    *,
    n_classes: int | None = None,
    k: int = DEFAULT_K,
    content_ids=None,
    duplicate_similarity: float = DEFAULT_DUPLICATE_SIMILARITY,
) -> KnnConsensus:
    """Compute each image's leave-one-out agreement with its nearest neighbours.

    Parameters
    ----------
    embeddings : array-like of shape (n_images, dim)
        One embedding per image; compared by cosine similarity.
    labels : array-like of shape (n_images,)
        Given class index of each image.
    n_classes : int, optional
        Number of classes; defaults to ``labels.max() + 1``.
    k : int, default 10
        Number of neighbour groups that vote. Images of a class with ``m``
        distinct images use ``min(k, m - 1)`` (at least 1), so a class
        smaller than ``k`` is not outvoted by its surroundings.
    content_ids : array-like of shape (n_images,), optional
        Content hash (or any id) per image; equal ids are treated as copies
        even when their embeddings differ.
    duplicate_similarity : float, default 1 - 1e-5
        Cosine similarity at or above which two images are treated as
        copies of each other.

    Returns
    -------
    KnnConsensus
    """
    embeddings, labels, n_classes = _check_inputs(embeddings, labels, n_classes, k)
    unit = _unit_rows(embeddings)

    group = _content_groups(unit, content_ids, duplicate_similarity)
    n_groups = int(group.max()) + 1
    if n_groups < 2:
        raise ValueError(
            "the kNN consensus needs at least two distinct images; all "
            f"{len(labels)} images are copies of one image."
        )
    representative = np.full(n_groups, len(labels), dtype=np.int64)
    np.minimum.at(representative, group, np.arange(len(labels)))
    group_votes = np.zeros((n_groups, n_classes))
    np.add.at(group_votes, (group, labels), 1.0)
    group_votes /= group_votes.sum(axis=1, keepdims=True)

    search_k = min(k, n_groups - 1)
    k_per_class = _neighbours_per_class(group, labels, n_classes, search_k, k)
    neighbour_groups, similarity = _search_groups(unit[representative], search_k)

    n_neighbours = k_per_class[labels]
    distribution = np.zeros((len(labels), n_classes))
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        class_k = k_per_class[label]
        for column in neighbour_groups[group[rows], :class_k].T:
            distribution[rows] += group_votes[column]
        distribution[rows] /= class_k

    beyond = np.arange(search_k)[np.newaxis, :] >= n_neighbours[:, np.newaxis]
    neighbour_ids = representative[neighbour_groups][group]
    neighbour_ids[beyond] = -1
    neighbour_similarity = similarity[group]
    neighbour_similarity[beyond] = np.nan
    return KnnConsensus(
        label_distribution=distribution,
        agreement=distribution[np.arange(len(labels)), labels],
        neighbour_ids=neighbour_ids,
        neighbour_similarity=neighbour_similarity,
        n_neighbours=n_neighbours,
        disagreeing_neighbours=_disagreeing(
            labels, group, neighbour_groups, n_neighbours
        ),
        content_group=group,
    )


def _neighbours_per_class(group, labels, n_classes, search_k, k):
    """Return the number of voting neighbours for images of each class.

    An image can have at most ``m - 1`` neighbours of its own class, where
    ``m`` is the number of distinct images (content groups) carrying that
    class. With ``k`` above that, every image of a small class would look
    suspect, so its images use ``min(k, m - 1)`` neighbours (at least one).
    """
    pairs = np.unique(np.stack([group, labels]), axis=1)
    groups_per_class = np.bincount(pairs[1], minlength=n_classes)
    k_per_class = np.clip(groups_per_class - 1, 1, search_k)
    if search_k < k:
        logger.warning(
            "only %d distinct images: using at most %d neighbours instead of k=%d",
            search_k + 1,
            search_k,
            k,
        )
    for label in np.flatnonzero((k_per_class < search_k) & (groups_per_class > 0)):
        logger.info(
            "class index %d has %d distinct images: its images use %d neighbours",
            label,
            groups_per_class[label],
            k_per_class[label],
        )
    return k_per_class


def _check_inputs(embeddings, labels, n_classes, k):
    embeddings = np.asarray(embeddings, dtype=np.float32)
    labels = np.asarray(labels)
    if embeddings.ndim != 2:
        raise ValueError(
            "embeddings must be a 2-D array of shape (n_images, dim), got shape "
            f"{embeddings.shape}."
        )
    if labels.shape != (len(embeddings),):
        raise ValueError(
            f"labels must have shape ({len(embeddings)},) to match embeddings, "
            f"got shape {labels.shape}."
        )
    if not np.issubdtype(labels.dtype, np.integer) or (labels < 0).any():
        raise ValueError("labels must be non-negative integer class indices.")
    if not np.isfinite(embeddings).all():
        bad = np.flatnonzero(~np.isfinite(embeddings).all(axis=1))
        raise ValueError(
            f"embeddings has NaN or infinite values in rows {bad[:5].tolist()}; "
            "re-embed those images or leave them out."
        )
    n_classes = int(labels.max()) + 1 if n_classes is None else int(n_classes)
    if labels.max() >= n_classes:
        raise ValueError(f"label {labels.max()} is not below n_classes={n_classes}.")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    return embeddings, labels.astype(np.int64), n_classes


def _unit_rows(embeddings):
    norms = np.linalg.norm(embeddings, axis=1)
    if (norms == 0).any():
        bad = np.flatnonzero(norms == 0)
        raise ValueError(
            f"embeddings rows {bad[:5].tolist()} are all zeros and have no "
            "direction for cosine similarity; re-embed those images."
        )
    return np.ascontiguousarray(embeddings / norms[:, np.newaxis], dtype=np.float32)


def _content_groups(unit, content_ids, duplicate_similarity):
    """Return the content group of each row: connected copies share one."""
    import faiss
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n_images = len(unit)
    index = faiss.IndexFlatIP(unit.shape[1])
    index.add(unit)
    # range_search returns pairs whose inner product exceeds the radius.
    limits, _, found = index.range_search(unit, float(duplicate_similarity) - 1e-7)
    sources = np.repeat(np.arange(n_images), np.diff(limits.astype(np.int64)))
    targets = found.astype(np.int64)

    if content_ids is not None:
        content_ids = np.asarray(content_ids)
        if content_ids.shape != (n_images,):
            raise ValueError(
                f"content_ids must have shape ({n_images},), got {content_ids.shape}."
            )
        _, same_content = np.unique(content_ids, return_inverse=True)
        first = np.full(same_content.max() + 1, n_images, dtype=np.int64)
        np.minimum.at(first, same_content, np.arange(n_images))
        sources = np.concatenate([sources, np.arange(n_images)])
        targets = np.concatenate([targets, first[same_content]])

    graph = coo_matrix(
        (np.ones(len(sources), dtype=np.int8), (sources, targets)),
        shape=(n_images, n_images),
    )
    _, group = connected_components(graph, directed=False)
    # Number groups by their first member, so the numbering follows input order.
    _, first_index, inverse = np.unique(group, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first_index))
    return order[inverse].astype(np.int64)


def _search_groups(unit_representatives, n_neighbours):
    """Return the ``n_neighbours`` nearest other groups of each group."""
    import faiss

    n_groups = len(unit_representatives)
    index = faiss.IndexFlatIP(unit_representatives.shape[1])
    index.add(unit_representatives)
    similarity, found = index.search(unit_representatives, n_neighbours + 1)

    # Drop each group from its own list; if ties pushed it out, drop the last.
    is_self = found == np.arange(n_groups)[:, np.newaxis]
    missing_self = ~is_self.any(axis=1)
    is_self[missing_self, -1] = True
    keep = ~is_self
    found = found[keep].reshape(n_groups, n_neighbours)
    similarity = similarity[keep].reshape(n_groups, n_neighbours)
    return found.astype(np.int64), similarity.astype(np.float64)


def _disagreeing(labels, group, neighbour_groups, n_neighbours):
    """List, per image, the members of its neighbour groups with another label."""
    n_groups = neighbour_groups.shape[0]
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(n_groups + 1))
    members = [order[bounds[g] : bounds[g + 1]] for g in range(n_groups)]

    # For each group: its neighbours' members in neighbour order, and where
    # the members of the first j neighbours end.
    voters = []
    ends = []
    for neighbours in neighbour_groups:
        parts = [members[g] for g in neighbours]
        voters.append(np.concatenate(parts))
        ends.append(np.cumsum([len(part) for part in parts]))

    result = []
    for image, image_label in enumerate(labels):
        g = group[image]
        candidates = voters[g][: ends[g][n_neighbours[image] - 1]]
        result.append(candidates[labels[candidates] != image_label].tolist())
    return result

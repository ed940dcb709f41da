"""Candidate duplicate pairs from perceptual hashes, with identical hashes grouped.

Images whose hashes are identical form one group and are searched once.
Pairs come from two places:

- inside a group of up to :data:`MAX_GROUP_FOR_ALL_PAIRS` images, every
  pair. A larger group is returned as a star for the caller to pair up,
  because every pair of 4,000 copies of one placeholder is 8 million rows;
- between groups whose hashes are within the radius, every pair of their
  members, except that a star contributes its first member alone. Each
  group keeps at most ``max_neighbours`` neighbouring groups, the closest
  ones, so a long run of near-identical frames gives a bounded number of
  pairs per image rather than one pair per two frames.

The search itself is faiss's multi-index hashing, ``IndexBinaryMultiHash``.
It splits the 64 bits into four 16-bit tables and probes each with up to
``radius // 4`` flipped bits, which by the pigeonhole principle finds every
pair within ``radius`` bits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import faiss
import numpy as np

from beholder.properties.phash import HASH_BITS, hamming_distances

# Groups of identical hashes up to this size list every pair; larger ones
# are returned as stars.
MAX_GROUP_FOR_ALL_PAIRS = 20
# Neighbouring hash groups kept per group, the closest first, as many as
# the embedding search keeps. On scene15 and sun8 no image has more than 3
# other images within 6 bits, or more than 14 within 16 bits.
DEFAULT_MAX_HASH_NEIGHBOURS = 10


@dataclass
class HashCandidates:
    """Candidate pairs and the groups that need the caller's attention.

    ``pairs``
        Row index pairs ``(i, j)``, ``i < j``, shape ``(m, 2)``.
    ``stars``
        The rows of each group larger than :data:`MAX_GROUP_FOR_ALL_PAIRS`,
        in increasing order. No pair inside a star is in ``pairs``.
    ``star_links``
        ``(rows_a, rows_b, distance)`` for each two neighbouring groups of
        which at least one is a star: every image of one is within
        ``distance`` bits of every image of the other, though ``pairs``
        lists only some of those pairs.
    """

    pairs: np.ndarray
    stars: list[np.ndarray] = field(default_factory=list)
    star_links: list[tuple[np.ndarray, np.ndarray, int]] = field(default_factory=list)


def find_hash_candidates(
    codes: np.ndarray,
    radius: int,
    *,
    max_neighbours: int = DEFAULT_MAX_HASH_NEIGHBOURS,
) -> HashCandidates:
    """Return candidate pairs of rows of ``codes``, ``(n, 8)`` uint8, within ``radius`` bits."""
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if len(codes) < 2:
        return HashCandidates(np.empty((0, 2), dtype=np.int64))
    unique, group = np.unique(codes, axis=0, return_inverse=True)
    group = group.ravel()
    order = np.argsort(group, kind="stable")
    sizes = np.bincount(group, minlength=len(unique))
    bounds = np.concatenate([[0], np.cumsum(sizes)])

    def members(g: int) -> np.ndarray:
        return order[bounds[g] : bounds[g + 1]]

    pairs, stars, links = [], [], []
    for g in np.flatnonzero(sizes > 1):
        if sizes[g] > MAX_GROUP_FOR_ALL_PAIRS:
            stars.append(members(g))
        else:
            pairs.append(_all_pairs(members(g), members(g)))

    neighbours = find_hash_neighbours(unique, radius, max_neighbours=max_neighbours)
    u, v = neighbours[:, 0], neighbours[:, 1]
    singles = (sizes[u] == 1) & (sizes[v] == 1)
    first = order[bounds[:-1]]
    pairs.append(np.column_stack([first[u[singles]], first[v[singles]]]))
    u, v = u[~singles], v[~singles]
    for a, b, distance in zip(u, v, hamming_distances(unique[u], unique[v])):
        pairs.append(_all_pairs(_listed(members(a)), _listed(members(b))))
        if max(sizes[a], sizes[b]) > MAX_GROUP_FOR_ALL_PAIRS:
            links.append((members(a), members(b), int(distance)))

    pairs = np.sort(np.vstack(pairs).astype(np.int64), axis=1)
    return HashCandidates(np.unique(pairs, axis=0), stars, links)


def find_hash_neighbours(
    codes: np.ndarray, radius: int, *, max_neighbours: int | None = None
) -> np.ndarray:
    """Return index pairs ``(i, j)``, ``i < j``, of 64-bit codes within ``radius`` bits.

    With ``max_neighbours``, a pair is kept only when one of its codes is
    among the other's ``max_neighbours`` closest (ties broken by index).
    Without it every pair within ``radius`` is returned.
    """
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if len(codes) < 2:
        return np.empty((0, 2), dtype=np.int64)
    n_tables = 4
    index = faiss.IndexBinaryMultiHash(HASH_BITS, n_tables, HASH_BITS // n_tables)
    index.nflip = radius // n_tables
    index.add(codes)
    # faiss returns binary range-search results strictly below the radius.
    limits, distances, labels = index.range_search(codes, radius + 1)
    queries = np.repeat(np.arange(len(codes)), np.diff(limits).astype(np.int64))
    keep = (labels != queries) & (distances <= radius)
    queries, labels, distances = queries[keep], labels[keep], distances[keep]
    if max_neighbours is not None and len(queries):
        order = np.lexsort((labels, distances, queries))
        queries, labels = queries[order], labels[order]
        rank = np.arange(len(queries)) - np.searchsorted(queries, queries)
        queries, labels = queries[rank < max_neighbours], labels[rank < max_neighbours]
    pairs = np.sort(np.column_stack([queries, labels]).astype(np.int64), axis=1)
    return np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)


def _listed(rows: np.ndarray) -> np.ndarray:
    """Return the members of a group that pairs towards other groups use."""
    return rows[:1] if len(rows) > MAX_GROUP_FOR_ALL_PAIRS else rows


def _all_pairs(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Pairs of distinct rows from ``left`` x ``right``, each pair once, sorted."""
    a, b = np.meshgrid(left, right, indexing="ij")
    pairs = np.sort(np.column_stack([a.ravel(), b.ravel()]), axis=1)
    return np.unique(pairs[pairs[:, 0] != pairs[:, 1]], axis=0)

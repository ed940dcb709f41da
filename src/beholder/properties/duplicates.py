"""Exact and near duplicates in clusters, with split leakage and label conflicts.

Candidates come from nearest-neighbour indexes, never from comparing all
pairs in Python:

- perceptual hashes (``phash`` in the property table) go into a faiss
  multi-index hash, ``IndexBinaryMultiHash``. It splits the 64 bits into
  four 16-bit tables and probes each with up to ``radius // 4`` flipped
  bits, which by the pigeonhole principle finds every pair within
  ``radius`` bits;
- embeddings, when given, go into a faiss inner-product index on unit
  vectors, searched for each image's ``n_neighbors`` nearest neighbours.

A pair is a near duplicate when its hashes differ in at most
``max_hash_distance`` bits or its embeddings have a cosine similarity of at
least ``min_cosine``. It is an exact duplicate when both files decode to the
same pixels: pairs of equal size whose hashes differ in at most
:data:`EXACT_CANDIDATE_DISTANCE` bits are decoded in full and their pixels
hashed, so a PNG saved from a JPEG's pixels is an exact duplicate of the
JPEG, while a JPEG re-encode is a near duplicate. Pairs whose images lie in
different splits are split leakage; pairs whose labels differ are label
conflicts. A group of more than :data:`MAX_GROUP_FOR_ALL_PAIRS` images
with the same hash is listed as a star rather than as every pair.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import faiss
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from beholder.embed.cache import hash_file
from beholder.progress import NullProgress, Progress
from beholder.properties.measure import pixel_digests
from beholder.properties.parallel import map_chunks
from beholder.properties.phash import HASH_BITS, hamming_distances, hex_to_codes

logger = logging.getLogger(__name__)

# Largest Hamming distance between 64-bit hashes for a near duplicate. On
# scene15 every pair within 6 bits is the same photograph (37 pairs, checked
# by eye), at 8 bits 2 of 3 pairs are, and at 10 bits 1 of 10.
DEFAULT_MAX_HASH_DISTANCE = 6
# Smallest cosine similarity of embeddings for a near duplicate. Set for the
# default backbone (EfficientNet-Lite0): on scene15, pairs above 0.95 are the
# same scene re-cropped, shifted, mirrored, or consecutive video frames.
# NOTE: other backbones spread cosine similarities differently; check this
# threshold on a few pairs before relying on it.
DEFAULT_MIN_COSINE = 0.95
DEFAULT_N_NEIGHBORS = 10
# Pairs of equal size within this many bits are decoded in full and compared
# pixel by pixel. Files that decode the same way hash identically, and a PNG
# copy of a JPEG's pixels hashed within 2 bits of the JPEG for each of 785
# photos of sun8 and scene15 (measure.py reduces both by the same factor).
# NOTE: the hash of a nearly uniform image is mostly noise, so such a JPEG
# and its PNG copy can hash farther apart and be missed as exact duplicates.
EXACT_CANDIDATE_DISTANCE = 6
# Images with the same perceptual hash are all near duplicates of each other.
# A group of more than this many is listed as a star, each image paired with
# the group's first image, so 4,000 copies of one placeholder give 3,999
# pairs instead of 8 million. Their leakage and label-conflict flags come
# from the whole group, so no member loses a flag.
MAX_GROUP_FOR_ALL_PAIRS = 20
# Largest accepted max_hash_distance. Hashes of two scene15 or sun8 photos
# differ in 31 bits on average, and 0.03 % of pairs are within 16 bits (about
# 2,600 of scene15's 10 million). Wider radii add ever more unrelated pairs,
# towards all of them at 63, and the search probes ever more codes.
MAX_HASH_DISTANCE_LIMIT = 16
# Exact-duplicate candidates are decoded in worker processes only above this
# many images.
PARALLEL_DIGESTS_ABOVE = 256
# Embeddings above this many images are searched with an HNSW graph
# (approximate) instead of an exact flat index.
HNSW_ABOVE = 200_000

PAIR_COLUMNS = [
    "image_id_a",
    "image_id_b",
    "kind",
    "hash_distance",
    "cosine_similarity",
    "score",
    "cross_split",
    "label_conflict",
    "relpath_a",
    "relpath_b",
    "label_a",
    "label_b",
    "split_a",
    "split_b",
]
IMAGE_COLUMNS = [
    "duplicate_cluster",
    "is_exact_duplicate",
    "exact_duplicate_score",
    "is_near_duplicate",
    "near_duplicate_score",
    "is_split_leakage",
    "split_leakage_score",
    "is_label_conflict",
    "label_conflict_score",
]


@dataclass
class DuplicateResult:
    """Duplicate pairs, the clusters they form, and per-image flags.

    ``pairs``
        One row per pair (``image_id_a < image_id_b``), columns
        :data:`PAIR_COLUMNS`. ``kind`` is ``"exact"`` or ``"near"``.
        ``score`` is 1 for exact pairs and in [0, 1] for near ones, 0.5 at
        the thresholds. ``cosine_similarity`` is NaN without embeddings.
    ``clusters``
        One row per image that has a duplicate: ``cluster_id``,
        ``image_id``, ``relpath``, ``label``, ``split``, ``cluster_size``,
        ``n_labels``, ``n_splits``. Clusters are the connected components
        of all pairs, numbered from 0 by decreasing size.
    ``images``
        One row per image in dataset order, columns :data:`IMAGE_COLUMNS`;
        ``duplicate_cluster`` is -1 for images without duplicates.
    ``summary``
        Counts for the run record and the report.
    """

    pairs: pd.DataFrame
    clusters: pd.DataFrame
    images: pd.DataFrame
    summary: dict = field(default_factory=dict)


def find_duplicates(
    dataset,
    properties: pd.DataFrame,
    *,
    embeddings=None,
    max_hash_distance: int = DEFAULT_MAX_HASH_DISTANCE,
    min_cosine: float = DEFAULT_MIN_COSINE,
    n_neighbors: int = DEFAULT_N_NEIGHBORS,
    n_jobs: int | None = None,
    progress: Progress | None = None,
) -> DuplicateResult:
    """Find exact and near duplicates, split leakage and label conflicts.

    Parameters
    ----------
    dataset : Dataset
        Its ``images`` table gives paths, labels and splits, in image order.
    properties : pandas.DataFrame
        The property table of the same images, in the same order; needs
        ``phash``, ``width``, ``height`` and ``decode_error``.
    embeddings : array-like of shape (n_images, dim), optional
        Image embeddings in the same order. Without them, near duplicates
        come from perceptual hashes alone.
    max_hash_distance : int, default 6
        Largest Hamming distance (of 64 bits) for a near duplicate.
    min_cosine : float, default 0.95
        Smallest embedding cosine similarity for a near duplicate.
    n_neighbors : int, default 10
        Neighbours searched per image in embedding space.
    n_jobs : int, optional
        Worker processes for the full decodes that confirm exact duplicates.
    progress : Progress, optional
        Receives the stage "duplicates" (one step).

    Returns
    -------
    DuplicateResult
    """
    images = dataset.images
    n = len(images)
    _check_inputs(n, properties, max_hash_distance, min_cosine, n_neighbors)
    progress = progress or NullProgress()
    progress.stage("duplicates", 1)

    usable = (
        properties["decode_error"].isna().to_numpy()
        & properties["phash"].notna().to_numpy()
    )
    index = np.flatnonzero(usable)
    codes = np.zeros((n, 8), dtype=np.uint8)
    if len(index):
        codes[index] = hex_to_codes(properties["phash"].to_numpy()[index])

    radius = max(max_hash_distance, EXACT_CANDIDATE_DISTANCE)
    pairs, groups = _hash_pairs(codes[index], radius)
    pairs = index[pairs] if len(pairs) else np.empty((0, 2), dtype=np.int64)
    star_groups = [index[members] for members in groups]
    unit = None
    if embeddings is not None:
        unit = _unit_vectors(embeddings, n)
        found = find_embedding_neighbours(unit[index], min_cosine, n_neighbors)
        if len(found):
            pairs = np.vstack([pairs, index[found]])
    pairs = _unique_pairs(pairs)

    table = _describe_pairs(pairs, codes, unit)
    table = table[
        (table["hash_distance"] <= max_hash_distance)
        | (table["cosine_similarity"] >= min_cosine)
        | _exact_candidates(table, properties)
    ].reset_index(drop=True)
    table["kind"] = _confirm_exact(table, properties, images, n_jobs)
    table = table[
        (table["kind"] == "exact")
        | (table["hash_distance"] <= max_hash_distance)
        | (table["cosine_similarity"] >= min_cosine)
    ].reset_index(drop=True)
    table["score"] = _pair_scores(table, max_hash_distance, min_cosine)
    table = _add_image_columns(table, images)

    clusters, cluster_of = _clusters(table, images)
    per_image = _per_image(table, cluster_of, n)
    _flag_star_groups(per_image, star_groups, images)
    summary = _summary(table, clusters, n)
    progress.advance(1)
    logger.info(
        "duplicates: %d exact and %d near pairs, %d clusters, %d leaking pairs",
        summary["n_exact_pairs"],
        summary["n_near_pairs"],
        summary["n_clusters"],
        summary["n_leakage_pairs"],
    )
    return DuplicateResult(table[PAIR_COLUMNS], clusters, per_image, summary)


def find_hash_neighbours(codes: np.ndarray, radius: int) -> np.ndarray:
    """Return index pairs ``(i, j)``, ``i < j``, of 64-bit codes within ``radius`` bits.

    Uses faiss's multi-index hashing with four 16-bit tables, probing up to
    ``radius // 4`` flipped bits per table, which finds every such pair.
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
    keep = (labels > queries) & (distances <= radius)
    return np.column_stack([queries[keep], labels[keep]]).astype(np.int64)


def _hash_pairs(codes: np.ndarray, radius: int) -> tuple[np.ndarray, list]:
    """Return candidate pairs of rows of ``codes`` and the groups listed as stars.

    Identical codes are searched once. Groups of up to
    :data:`MAX_GROUP_FOR_ALL_PAIRS` images give every pair, within the group
    and towards each neighbouring group. A larger group gives a star around
    its first image, and towards a neighbouring group it contributes that
    first image alone. The pairs keep every cluster connected.
    """
    if len(codes) < 2:
        return np.empty((0, 2), dtype=np.int64), []
    unique, group = np.unique(codes, axis=0, return_inverse=True)
    group = group.ravel()
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(len(unique) + 1))
    members = [order[bounds[g] : bounds[g + 1]] for g in range(len(unique))]

    pairs, stars = [], []
    for rows in members:
        if len(rows) > MAX_GROUP_FOR_ALL_PAIRS:
            stars.append(rows)
            pairs.append(np.column_stack([np.full(len(rows) - 1, rows[0]), rows[1:]]))
        elif len(rows) > 1:
            pairs.append(_all_pairs(rows, rows))
    for u, v in find_hash_neighbours(unique, radius):
        side_u, side_v = _star_side(members[u]), _star_side(members[v])
        pairs.append(_all_pairs(side_u, side_v))
    if not pairs:
        return np.empty((0, 2), dtype=np.int64), stars
    return np.vstack(pairs).astype(np.int64), stars


def _star_side(rows: np.ndarray) -> np.ndarray:
    return rows[:1] if len(rows) > MAX_GROUP_FOR_ALL_PAIRS else rows


def _all_pairs(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Pairs of distinct rows from ``left`` x ``right``, each pair once, sorted."""
    a, b = np.meshgrid(left, right, indexing="ij")
    pairs = np.sort(np.column_stack([a.ravel(), b.ravel()]), axis=1)
    return np.unique(pairs[pairs[:, 0] != pairs[:, 1]], axis=0)


def find_embedding_neighbours(
    unit: np.ndarray, min_cosine: float, n_neighbors: int
) -> np.ndarray:
    """Return index pairs ``(i, j)``, ``i < j``, among each image's nearest neighbours
    whose cosine similarity is at least ``min_cosine``.

    ``unit`` contains L2-normalised embeddings, shape ``(n, dim)``. The search
    is exact (a flat inner-product index) up to :data:`HNSW_ABOVE` images and
    approximate (HNSW) above.
    """
    n = len(unit)
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    unit = np.ascontiguousarray(unit, dtype=np.float32)
    if n > HNSW_ABOVE:
        index = faiss.IndexHNSWFlat(unit.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexFlatIP(unit.shape[1])
    index.add(unit)
    k = min(n_neighbors + 1, n)
    similarities, labels = index.search(unit, k)
    queries = np.repeat(np.arange(n), k)
    labels, similarities = labels.ravel(), similarities.ravel()
    keep = (labels >= 0) & (labels != queries) & (similarities >= min_cosine)
    pairs = np.column_stack([queries[keep], labels[keep]])
    return np.sort(pairs, axis=1).astype(np.int64)


def _check_inputs(n, properties, max_hash_distance, min_cosine, n_neighbors):
    if len(properties) != n:
        raise ValueError(
            f"properties has {len(properties)} rows but the dataset has {n} images; "
            "compute the properties of this dataset's images, in its order."
        )
    missing = {"phash", "width", "height", "decode_error"} - set(properties.columns)
    if missing:
        raise ValueError(f"properties lacks the columns {sorted(missing)}")
    if not 0 <= max_hash_distance <= MAX_HASH_DISTANCE_LIMIT:
        raise ValueError(
            f"max_hash_distance must be in 0..{MAX_HASH_DISTANCE_LIMIT} bits, got "
            f"{max_hash_distance!r}; wider radii pair unrelated images."
        )
    if not -1.0 <= min_cosine <= 1.0:
        raise ValueError(f"min_cosine must be in [-1, 1], got {min_cosine!r}")
    if n_neighbors < 1:
        raise ValueError(f"n_neighbors must be at least 1, got {n_neighbors!r}")


def _unit_vectors(embeddings, n: int) -> np.ndarray:
    vectors = np.asarray(embeddings, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != n:
        raise ValueError(
            f"embeddings must have shape (n_images, dim) = ({n}, dim), "
            f"got {vectors.shape}; pass one row per dataset image, in its order."
        )
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _unique_pairs(pairs: np.ndarray) -> np.ndarray:
    if not len(pairs):
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.sort(np.asarray(pairs, dtype=np.int64), axis=1)
    return np.unique(pairs, axis=0)


def _describe_pairs(pairs, codes, unit) -> pd.DataFrame:
    a, b = pairs[:, 0], pairs[:, 1]
    table = pd.DataFrame({"image_id_a": a, "image_id_b": b})
    table["hash_distance"] = hamming_distances(codes[a], codes[b]).astype(np.int64)
    if unit is not None and len(pairs):
        table["cosine_similarity"] = np.einsum("ij,ij->i", unit[a], unit[b]).astype(
            float
        )
    else:
        table["cosine_similarity"] = np.nan
    return table


def _exact_candidates(table: pd.DataFrame, properties: pd.DataFrame) -> pd.Series:
    width = properties["width"].to_numpy(dtype=float, na_value=np.nan)
    height = properties["height"].to_numpy(dtype=float, na_value=np.nan)
    a, b = table["image_id_a"].to_numpy(), table["image_id_b"].to_numpy()
    same_size = (width[a] == width[b]) & (height[a] == height[b])
    close = table["hash_distance"].to_numpy() <= EXACT_CANDIDATE_DISTANCE
    return pd.Series(np.asarray(same_size & close, dtype=bool), index=table.index)


def _confirm_exact(table, properties, images, n_jobs) -> pd.Series:
    """Return "exact" for candidate pairs with identical full decodes, else "near".

    Files with the same bytes decode the same, so only pairs whose bytes
    differ are decoded in full.
    """
    kind = pd.Series("near", index=table.index, dtype=object)
    candidates = _exact_candidates(table, properties)
    if not candidates.any():
        return kind
    chosen = table[candidates]
    paths = images["path"].to_numpy()
    a, b = chosen["image_id_a"].to_numpy(), chosen["image_id_b"].to_numpy()

    file_digest = {i: hash_file(paths[i]) for i in np.unique(np.concatenate([a, b]))}
    same_bytes = np.array([file_digest[i] == file_digest[j] for i, j in zip(a, b)])
    undecided = ~same_bytes
    ids = np.unique(np.concatenate([a[undecided], b[undecided]]))
    # A few hundred full decodes take well under a second; worker processes
    # would cost more to start than they save.
    jobs = n_jobs if len(ids) > PARALLEL_DIGESTS_ABOVE else 1
    chunks = map_chunks(pixel_digests, paths[ids].tolist(), n_jobs=jobs)
    pixel_digest = dict(zip(ids.tolist(), [d for chunk in chunks for d in chunk]))
    same_pixels = np.array(
        [
            undecided[k]
            and pixel_digest[i] is not None
            and pixel_digest[i] == pixel_digest[j]
            for k, (i, j) in enumerate(zip(a, b))
        ],
        dtype=bool,
    )
    kind[chosen.index[same_bytes | same_pixels]] = "exact"
    return kind


def _pair_scores(table, max_hash_distance, min_cosine) -> pd.Series:
    """1 for exact pairs; for near pairs the larger of the hash and cosine scores.

    Each score is linear, 1 at identity and 0.5 at its threshold.
    """
    distance = table["hash_distance"].to_numpy(dtype=float)
    hash_score = np.clip(1.0 - distance / (2.0 * max(max_hash_distance, 1)), 0.0, 1.0)
    cosine = table["cosine_similarity"].to_numpy(dtype=float)
    span = 2.0 * max(1.0 - min_cosine, 1e-6)
    cosine_score = np.clip((cosine - (2.0 * min_cosine - 1.0)) / span, 0.0, 1.0)
    score = np.fmax(hash_score, cosine_score)
    score[(table["kind"] == "exact").to_numpy()] = 1.0
    return pd.Series(score, index=table.index)


def _add_image_columns(table: pd.DataFrame, images: pd.DataFrame) -> pd.DataFrame:
    for side in ("a", "b"):
        ids = table[f"image_id_{side}"].to_numpy()
        for column in ("relpath", "label", "split"):
            table[f"{column}_{side}"] = images[column].to_numpy()[ids]
    split_a, split_b = table["split_a"], table["split_b"]
    table["cross_split"] = split_a.notna() & split_b.notna() & (split_a != split_b)
    table["label_conflict"] = table["label_a"] != table["label_b"]
    return table


def _clusters(table: pd.DataFrame, images: pd.DataFrame):
    """Connected components of the pair graph, largest first; -1 for loners."""
    n = len(images)
    cluster_of = np.full(n, -1, dtype=np.int64)
    columns = ["cluster_id", "image_id", "relpath", "label", "split"]
    if table.empty:
        empty = pd.DataFrame(columns=[*columns, "cluster_size", "n_labels", "n_splits"])
        return empty, cluster_of

    a, b = table["image_id_a"].to_numpy(), table["image_id_b"].to_numpy()
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    members = np.unique(np.concatenate([a, b]))
    sizes = pd.Series(component[members]).value_counts()
    # Number clusters by decreasing size, ties by their smallest image id.
    first = pd.Series(members).groupby(component[members]).min()
    order = sorted(sizes.index, key=lambda c: (-sizes[c], first[c]))
    renumber = {component_id: rank for rank, component_id in enumerate(order)}
    cluster_of[members] = [renumber[c] for c in component[members]]

    rows = images.iloc[members]
    clusters = pd.DataFrame(
        {
            "cluster_id": cluster_of[members],
            "image_id": members,
            "relpath": rows["relpath"].to_numpy(),
            "label": rows["label"].to_numpy(),
            "split": rows["split"].to_numpy(),
        }
    )
    grouped = clusters.groupby("cluster_id")
    clusters["cluster_size"] = grouped["image_id"].transform("size")
    clusters["n_labels"] = grouped["label"].transform("nunique")
    clusters["n_splits"] = grouped["split"].transform("nunique")
    clusters = clusters.sort_values(["cluster_id", "image_id"]).reset_index(drop=True)
    return clusters, cluster_of


def _per_image(table: pd.DataFrame, cluster_of: np.ndarray, n: int) -> pd.DataFrame:
    result = pd.DataFrame({"duplicate_cluster": cluster_of})
    groups = {
        "exact_duplicate": table["kind"] == "exact",
        "near_duplicate": table["kind"] == "near",
        "split_leakage": table["cross_split"],
        "label_conflict": table["label_conflict"],
    }
    for name, selected in groups.items():
        score = _max_score_per_image(table[selected.to_numpy()], n)
        result[f"is_{name}"] = score > 0
        result[f"{name}_score"] = score
    return result[IMAGE_COLUMNS]


def _flag_star_groups(per_image: pd.DataFrame, groups: list, images) -> None:
    """Flag leakage and label conflicts inside groups listed as stars.

    Every two images of such a group share a hash, so each one leaks when
    the group spans another split, and conflicts when it spans another
    label, whether or not the star lists that pair.
    """
    labels = images["label"].to_numpy()
    splits = images["split"].to_numpy()
    for rows in groups:
        if len(set(labels[rows])) > 1:
            per_image.loc[rows, "is_label_conflict"] = True
            per_image.loc[rows, "label_conflict_score"] = 1.0
        known = rows[pd.notna(splits[rows])]
        if len(set(splits[known])) > 1:
            per_image.loc[known, "is_split_leakage"] = True
            per_image.loc[known, "split_leakage_score"] = 1.0


def _max_score_per_image(pairs: pd.DataFrame, n: int) -> np.ndarray:
    score = np.zeros(n)
    for side in ("image_id_a", "image_id_b"):
        np.maximum.at(score, pairs[side].to_numpy(), pairs["score"].to_numpy())
    return score


def _summary(table: pd.DataFrame, clusters: pd.DataFrame, n: int) -> dict:
    exact = table["kind"] == "exact"
    leaking = clusters[clusters["n_splits"] > 1]["cluster_id"].nunique()
    conflicting = clusters[clusters["n_labels"] > 1]["cluster_id"].nunique()
    return {
        "n_images": n,
        "n_exact_pairs": int(exact.sum()),
        "n_near_pairs": int((~exact).sum()),
        "n_clusters": int(clusters["cluster_id"].nunique()) if len(clusters) else 0,
        "n_images_in_clusters": len(clusters),
        "n_leakage_pairs": int(table["cross_split"].sum()),
        "n_leakage_clusters": int(leaking),
        "n_label_conflict_pairs": int(table["label_conflict"].sum()),
        "n_label_conflict_clusters": int(conflicting),
    }

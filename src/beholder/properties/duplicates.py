"""Exact and near duplicates in clusters, with split leakage and label conflicts.

Candidates come from nearest-neighbour indexes, never from comparing all
pairs in Python:

- perceptual hashes (``phash`` in the property table) go through
  :func:`beholder.properties.hash_groups.find_hash_candidates`, which groups
  identical hashes and searches a faiss multi-index hash;
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
conflicts. A group of more than
:data:`~beholder.properties.hash_groups.MAX_GROUP_FOR_ALL_PAIRS` images with
the same hash is listed as a star, each image paired with the first of its
exact copies or with the group's first image, and its flags come from the
whole group.
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
from beholder.ingest.names import canonical_split
from beholder.progress import NullProgress, Progress
from beholder.properties.hash_groups import find_hash_candidates
from beholder.properties.measure import pixel_digests
from beholder.properties.parallel import map_chunks
from beholder.properties.phash import hamming_distances, hex_to_codes

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
    candidates = find_hash_candidates(codes[index], radius)
    pairs = index[candidates.pairs]
    stars = [index[rows] for rows in candidates.stars]
    unit = None
    if embeddings is not None:
        unit = _unit_vectors(embeddings, n)
        found = find_embedding_neighbours(unit[index], min_cosine, n_neighbors)
        if len(found):
            pairs = np.vstack([pairs, _outside_stars(index[found], stars, n)])
    pairs = _unique_pairs(pairs)

    pixels = _PixelKeys(images["path"].to_numpy(), n_jobs)
    table = _describe_pairs(pairs, codes, unit)
    candidate = _exact_candidates(table, properties)
    keep = (
        (table["hash_distance"] <= max_hash_distance)
        | (table["cosine_similarity"] >= min_cosine)
        | candidate
    )
    table, candidate = table[keep].reset_index(drop=True), candidate[keep]
    table["kind"] = _confirm_exact(table, candidate.to_numpy(), pixels)
    table = table[
        (table["kind"] == "exact")
        | (table["hash_distance"] <= max_hash_distance)
        | (table["cosine_similarity"] >= min_cosine)
    ]
    table = _with_star_pairs(table, stars, codes, unit, pixels)
    table["score"] = _pair_scores(table, max_hash_distance, min_cosine)
    table = _add_image_columns(table, images)

    clusters, cluster_of = _clusters(table, images)
    per_image = _per_image(table, cluster_of, n)
    links = [(index[a], index[b], d) for a, b, d in candidates.star_links]
    _flag_groups(per_image, stars, links, images, pixels, max_hash_distance)
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


def _confirm_exact(table, candidates: np.ndarray, pixels: _PixelKeys) -> pd.Series:
    """Return "exact" for candidate pairs with identical full decodes, else "near"."""
    kind = pd.Series("near", index=table.index, dtype=object)
    if not candidates.any():
        return kind
    chosen = table[candidates]
    same = pixels.same_pixels(chosen["image_id_a"], chosen["image_id_b"])
    kind[chosen.index[same]] = "exact"
    return kind


class _PixelKeys:
    """Decide which images decode to the same pixels, decoding as few as possible.

    Files with the same bytes decode the same, so files are first compared
    by a digest of their bytes, and one file per distinct content is decoded
    in full when files with different bytes must be compared.
    """

    def __init__(self, paths: np.ndarray, n_jobs: int | None):
        self.paths = paths
        self.n_jobs = n_jobs
        self._file_digests: dict[int, str] = {}
        self._owners: dict[str, int] = {}  # file digest -> an image with it
        self._pixel_digests: dict[str, str | None] = {}

    def same_pixels(self, ids_a, ids_b) -> np.ndarray:
        """Return, for each pair of image ids, whether both decode to the same pixels."""
        ids_a, ids_b = [int(i) for i in ids_a], [int(i) for i in ids_b]
        files_a, files_b = self._files(ids_a), self._files(ids_b)
        differ = [a != b for a, b in zip(files_a, files_b)]
        self._decode([f for f, d in zip(files_a + files_b, differ * 2) if d])
        return np.array(
            [
                not d or (self._pixel_digests[a] or a) == (self._pixel_digests[b] or b)
                for a, b, d in zip(files_a, files_b, differ)
            ],
            dtype=bool,
        )

    def keys(self, ids) -> list[str]:
        """Return one key per image id, equal exactly for images with the same pixels."""
        files = self._files([int(i) for i in ids])
        if len(set(files)) < 2:
            return files
        self._decode(files)
        return [self._pixel_digests[f] or f for f in files]

    def _files(self, ids: list[int]) -> list[str]:
        for i in ids:
            if i not in self._file_digests:
                digest = hash_file(self.paths[i])
                self._file_digests[i] = digest
                self._owners.setdefault(digest, i)
        return [self._file_digests[i] for i in ids]

    def _decode(self, file_digests: list[str]) -> None:
        pending = [
            f for f in dict.fromkeys(file_digests) if f not in self._pixel_digests
        ]
        if not pending:
            return
        paths = [self.paths[self._owners[f]] for f in pending]
        # A few hundred full decodes take well under a second; worker processes
        # would cost more to start than they save.
        jobs = self.n_jobs if len(paths) > PARALLEL_DIGESTS_ABOVE else 1
        chunks = map_chunks(pixel_digests, paths, n_jobs=jobs)
        decoded = [digest for chunk in chunks for digest in chunk]
        self._pixel_digests.update(zip(pending, decoded))


def _outside_stars(pairs: np.ndarray, stars: list, n: int) -> np.ndarray:
    """Drop pairs whose two images lie in one star, which pairs them itself."""
    star_of = np.full(n, -1, dtype=np.int64)
    for number, members in enumerate(stars):
        star_of[members] = number
    a, b = star_of[pairs[:, 0]], star_of[pairs[:, 1]]
    return pairs[(a < 0) | (a != b)]


def _with_star_pairs(table, stars, codes, unit, pixels: _PixelKeys) -> pd.DataFrame:
    """Add the pairs of each star: exact copies around their first, others to the centre.

    The images of a star share one hash. Those that decode to the same
    pixels are paired with the first of them (exact pairs), and the first of
    each such set is paired with the star's first image (near pairs, unless
    they are the same set).
    """
    rows, kinds = [], []
    for members in stars:
        firsts: dict[str, int] = {}
        for member, key in zip(members, pixels.keys(members)):
            if key in firsts:
                rows.append((firsts[key], member))
                kinds.append("exact")
                continue
            firsts[key] = member
            if member != members[0]:
                rows.append((members[0], member))
                kinds.append("near")
    if not rows:
        return table.reset_index(drop=True)
    star_table = _describe_pairs(np.array(rows, dtype=np.int64), codes, unit)
    star_table["kind"] = kinds
    table = pd.concat([table, star_table], ignore_index=True)
    table = table.drop_duplicates(["image_id_a", "image_id_b"])
    return table.sort_values(["image_id_a", "image_id_b"]).reset_index(drop=True)


def _pair_scores(table, max_hash_distance, min_cosine) -> pd.Series:
    """1 for exact pairs; for near pairs the larger of the hash and cosine scores.

    Each score is linear, 1 at identity and 0.5 at its threshold.
    """
    hash_score = _hash_score(table["hash_distance"].to_numpy(), max_hash_distance)
    cosine = table["cosine_similarity"].to_numpy(dtype=float)
    span = 2.0 * max(1.0 - min_cosine, 1e-6)
    cosine_score = np.clip((cosine - (2.0 * min_cosine - 1.0)) / span, 0.0, 1.0)
    score = np.fmax(hash_score, cosine_score)
    score[(table["kind"] == "exact").to_numpy()] = 1.0
    return pd.Series(score, index=table.index)


def _split_roles(splits: pd.Series) -> pd.Series:
    """Split names as roles, so "Train" and "train" (or "val" and "valid") are one."""
    return splits.map(lambda name: canonical_split(name) if pd.notna(name) else None)


def _hash_score(distance: np.ndarray, max_hash_distance: int) -> np.ndarray:
    """Linear in the Hamming distance: 1 at 0 bits, 0.5 at ``max_hash_distance``."""
    distance = np.asarray(distance, dtype=float)
    return np.clip(1.0 - distance / (2.0 * max(max_hash_distance, 1)), 0.0, 1.0)


def _add_image_columns(table: pd.DataFrame, images: pd.DataFrame) -> pd.DataFrame:
    for side in ("a", "b"):
        ids = table[f"image_id_{side}"].to_numpy()
        for column in ("relpath", "label", "split"):
            table[f"{column}_{side}"] = images[column].to_numpy()[ids]
    split_a, split_b = _split_roles(table["split_a"]), _split_roles(table["split_b"])
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


def _flag_groups(per_image, stars, links, images, pixels, max_hash_distance) -> None:
    """Flag the images of stars and of their neighbours from whole groups.

    A star's images share one hash, and every image of a group linked to a
    star is within the same distance of every image of that star. So the
    flags follow from the groups, whether or not the pair table lists the
    pair that causes them. An image is a near duplicate when its group or a
    linked group contains other pixels, leaks when one contains another
    split, and conflicts when one contains another label.
    """
    labels = images["label"].to_numpy()
    splits = _split_roles(images["split"]).to_numpy()
    for members in stars:
        if len(set(pixels.keys(members))) > 1:
            _raise_flag(per_image, members, "near_duplicate", 1.0)
        _flag_across(per_image, members, members, labels, splits, 1.0)
    for rows_a, rows_b, distance in links:
        if distance > max_hash_distance:
            continue
        score = _hash_score(np.array([distance]), max_hash_distance)[0]
        _raise_flag(
            per_image, np.concatenate([rows_a, rows_b]), "near_duplicate", score
        )
        _flag_across(per_image, rows_a, rows_b, labels, splits, score)
        _flag_across(per_image, rows_b, rows_a, labels, splits, score)


def _flag_across(per_image, rows, others, labels, splits, score: float) -> None:
    """Flag ``rows`` whose label or split differs from one among ``others``."""
    other_labels = set(labels[others])
    other_splits = {s for s in splits[others] if pd.notna(s)}
    conflicting = [i for i in rows if other_labels - {labels[i]}]
    leaking = [i for i in rows if pd.notna(splits[i]) and other_splits - {splits[i]}]
    _raise_flag(
        per_image, np.array(conflicting, dtype=np.int64), "label_conflict", score
    )
    _raise_flag(per_image, np.array(leaking, dtype=np.int64), "split_leakage", score)


def _raise_flag(per_image: pd.DataFrame, rows, name: str, score: float) -> None:
    if not len(rows):
        return
    per_image.loc[rows, f"is_{name}"] = True
    current = per_image.loc[rows, f"{name}_score"].to_numpy()
    per_image.loc[rows, f"{name}_score"] = np.maximum(current, score)


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

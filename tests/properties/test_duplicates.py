import numpy as np
import pytest

from beholder.ingest import load_dataset
from beholder.properties import compute_properties, find_duplicates
from beholder.properties.duplicates import (
    MAX_HASH_DISTANCE_LIMIT,
    find_embedding_neighbours,
)
from beholder.properties.hash_groups import (
    MAX_GROUP_FOR_ALL_PAIRS,
    find_hash_neighbours,
)
from beholder.properties.phash import hamming_distances
from tests.properties.conftest import save, scene


def relpath_pairs(result, kind=None):
    pairs = result.pairs
    if kind:
        pairs = pairs[pairs["kind"] == kind]
    return {frozenset(p) for p in zip(pairs["relpath_a"], pairs["relpath_b"])}


@pytest.fixture
def scanned(split_dataset):
    dataset = load_dataset(split_dataset)
    properties = compute_properties(dataset.images["path"].tolist(), n_jobs=1)
    return dataset, properties, find_duplicates(dataset, properties, n_jobs=1)


def test_png_of_decoded_pixels_is_exact_duplicate(scanned):
    _, _, result = scanned
    exact = relpath_pairs(result, "exact")
    assert frozenset({"train/cats/original.jpg", "train/cats/copy.png"}) in exact


def test_resized_jpeg_is_near_duplicate(scanned):
    _, _, result = scanned
    near = relpath_pairs(result, "near")
    assert frozenset({"train/cats/original.jpg", "test/cats/smaller.jpg"}) in near
    assert frozenset(
        {"train/cats/original.jpg", "test/cats/smaller.jpg"}
    ) not in relpath_pairs(result, "exact")


def test_unrelated_images_are_not_duplicates(scanned):
    _, _, result = scanned
    involved = set(result.pairs["relpath_a"]) | set(result.pairs["relpath_b"])
    assert involved == {
        "train/cats/original.jpg",
        "train/cats/copy.png",
        "test/dogs/relabelled.png",
        "test/cats/smaller.jpg",
    }


def test_cross_split_duplicates_are_leakage(scanned):
    dataset, _, result = scanned
    leaking = result.pairs[result.pairs["cross_split"]]
    assert len(leaking) > 0
    assert (leaking["split_a"] != leaking["split_b"]).all()
    flagged = dataset.images["relpath"][result.images["is_split_leakage"]].tolist()
    assert "test/cats/smaller.jpg" in flagged
    assert "train/cats/original.jpg" in flagged
    assert result.summary["n_leakage_pairs"] == len(leaking)


def test_conflicting_labels_are_reported(scanned):
    dataset, _, result = scanned
    conflicts = result.pairs[result.pairs["label_conflict"]]
    assert frozenset({"train/cats/copy.png", "test/dogs/relabelled.png"}) in {
        frozenset(p) for p in zip(conflicts["relpath_a"], conflicts["relpath_b"])
    }
    flagged = set(dataset.images["relpath"][result.images["is_label_conflict"]])
    assert "test/dogs/relabelled.png" in flagged
    assert "train/cats/0.jpg" not in flagged


def test_duplicates_form_one_cluster(scanned):
    _, _, result = scanned
    assert result.clusters["cluster_id"].nunique() == 1
    assert set(result.clusters["cluster_size"]) == {4}
    assert set(result.clusters["n_labels"]) == {2}
    assert set(result.clusters["n_splits"]) == {2}
    in_cluster = result.images["duplicate_cluster"] >= 0
    assert in_cluster.sum() == 4


def test_per_image_scores_are_in_unit_interval(scanned):
    _, _, result = scanned
    for column in result.images.columns:
        if column.endswith("_score"):
            assert result.images[column].between(0, 1).all()


def test_embeddings_add_near_duplicates(tmp_path):
    root = tmp_path / "data"
    for i in range(4):
        save(root / "a" / f"{i}.png", scene(100 + i))
    dataset = load_dataset(root)
    properties = compute_properties(dataset.images["path"].tolist(), n_jobs=1)
    embeddings = np.eye(4, 8)
    embeddings[3] = embeddings[0] + 0.01
    with_embeddings = find_duplicates(
        dataset, properties, embeddings=embeddings, n_jobs=1
    )
    without = find_duplicates(dataset, properties, n_jobs=1)
    assert without.pairs.empty
    assert relpath_pairs(with_embeddings) == {frozenset({"a/0.png", "a/3.png"})}
    assert with_embeddings.pairs["cosine_similarity"].iloc[0] > 0.99


def test_embeddings_of_wrong_shape_raise(scanned):
    dataset, properties, _ = scanned
    with pytest.raises(ValueError, match="embeddings must have shape"):
        find_duplicates(dataset, properties, embeddings=np.ones((3, 4)))


def test_properties_of_other_length_raise(scanned):
    dataset, properties, _ = scanned
    with pytest.raises(ValueError, match="rows but the dataset has"):
        find_duplicates(dataset, properties.iloc[:-1])


def test_undecodable_images_are_skipped(split_dataset):
    (split_dataset / "train" / "cats" / "broken.jpg").write_bytes(b"\xff\xd8garbage")
    dataset = load_dataset(split_dataset)
    properties = compute_properties(dataset.images["path"].tolist(), n_jobs=1)
    result = find_duplicates(dataset, properties, n_jobs=1)
    assert "train/cats/broken.jpg" not in set(result.pairs["relpath_a"]) | set(
        result.pairs["relpath_b"]
    )


@pytest.mark.parametrize("radius", [0, 4, 6, 10])
def test_hash_neighbours_match_brute_force(radius):
    rng = np.random.default_rng(radius)
    codes = rng.integers(0, 256, size=(300, 8), dtype=np.uint8)
    for i in range(0, 60, 2):
        bits = np.unpackbits(codes[i])
        flips = rng.choice(64, size=rng.integers(0, 12), replace=False)
        bits[flips] ^= 1
        codes[i + 1] = np.packbits(bits)
    found = {tuple(p) for p in find_hash_neighbours(codes, radius).tolist()}
    i, j = np.triu_indices(len(codes), k=1)
    close = hamming_distances(codes[i], codes[j]) <= radius
    expected = set(zip(i[close].tolist(), j[close].tolist()))
    assert found == expected


def test_embedding_neighbours_threshold():
    unit = np.array([[1.0, 0.0], [0.999, 0.0447], [0.0, 1.0]], dtype=np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    pairs = find_embedding_neighbours(unit, 0.99, 2)
    assert {tuple(p) for p in pairs.tolist()} == {(0, 1)}


def _copies(root, layout, seed=7):
    """Write one image under each ``split/label/name`` in ``layout``, same bytes."""
    first = root / layout[0]
    save(first, scene(seed))
    data = first.read_bytes()
    for relpath in layout[1:]:
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_bytes(data)


def test_large_identical_group_listed_as_star(tmp_path):
    root = tmp_path / "data"
    n_copies = MAX_GROUP_FOR_ALL_PAIRS * 3
    _copies(root, [f"train/cats/{i:03d}.png" for i in range(n_copies)])
    save(root / "train" / "dogs" / "other.png", scene(8))
    dataset = load_dataset(root)
    properties = compute_properties(dataset.images["path"].tolist(), n_jobs=1)

    result = find_duplicates(dataset, properties, n_jobs=1)

    assert len(result.pairs) == n_copies - 1
    assert (result.pairs["kind"] == "exact").all()
    assert result.summary["n_clusters"] == 1
    assert result.summary["n_images_in_clusters"] == n_copies
    assert result.images["is_exact_duplicate"].sum() == n_copies


def test_star_group_flags_pairs_it_does_not_list(tmp_path):
    # The first image in path order, test/cats/000, is the star's centre.
    # test/dogs/a.png leaks only through train/dogs/b.png, a pair that the
    # star leaves out.
    root = tmp_path / "data"
    layout = [f"test/cats/{i:03d}.png" for i in range(MAX_GROUP_FOR_ALL_PAIRS)]
    layout += ["test/dogs/a.png", "train/dogs/b.png"]
    _copies(root, layout)
    dataset = load_dataset(root)
    properties = compute_properties(dataset.images["path"].tolist(), n_jobs=1)

    result = find_duplicates(dataset, properties, n_jobs=1)

    flags = result.images.set_index(dataset.images["relpath"])
    listed = relpath_pairs(result)
    assert frozenset({"test/cats/000.png", "test/dogs/a.png"}) in listed
    assert frozenset({"test/dogs/a.png", "train/dogs/b.png"}) not in listed
    assert flags.loc["test/dogs/a.png", "is_split_leakage"]
    assert flags.loc["test/cats/005.png", "is_split_leakage"]
    assert flags.loc["train/dogs/b.png", "is_split_leakage"]
    assert flags["is_label_conflict"].all()


def test_small_identical_group_lists_every_pair(tmp_path):
    root = tmp_path / "data"
    _copies(root, [f"train/cats/{i}.png" for i in range(4)])
    dataset = load_dataset(root)
    properties = compute_properties(dataset.images["path"].tolist(), n_jobs=1)

    result = find_duplicates(dataset, properties, n_jobs=1)

    assert len(result.pairs) == 6


@pytest.mark.parametrize("distance", [-1, MAX_HASH_DISTANCE_LIMIT + 1, 63])
def test_hash_distance_out_of_range_rejected(scanned, distance):
    dataset, properties, _ = scanned
    with pytest.raises(ValueError, match="max_hash_distance must be in 0..16"):
        find_duplicates(dataset, properties, max_hash_distance=distance)


def _groups_with_hashes(root, groups):
    """Write each group's copies and return the dataset and properties with set hashes.

    ``groups`` maps a folder such as ``"train/cats"`` to ``(n_copies,
    phash)``. Every copy in a group has the same bytes, and each group has
    an image of its own.
    """
    for seed, (folder, (n_copies, _)) in enumerate(groups.items()):
        _copies(root, [f"{folder}/{i:03d}.png" for i in range(n_copies)], seed)
    dataset = load_dataset(root)
    properties = compute_properties(dataset.images["path"].tolist(), n_jobs=1)
    folders = dataset.images["relpath"].str.rsplit("/", n=1).str[0]
    properties["phash"] = folders.map({f: h for f, (_, h) in groups.items()})
    return dataset, properties


def test_star_keeps_exact_copies_of_other_than_first(tmp_path):
    root = tmp_path / "data"
    n_copies = MAX_GROUP_FOR_ALL_PAIRS + 5
    _copies(root, [f"train/cats/{i:03d}.png" for i in range(1, n_copies)])
    changed = scene(7)
    changed[0, 0, 0] ^= 1
    save(root / "train" / "cats" / "000.png", changed)
    dataset = load_dataset(root)
    properties = compute_properties(dataset.images["path"].tolist(), n_jobs=1)
    properties["phash"] = "0123456789abcdef"

    result = find_duplicates(dataset, properties, n_jobs=1)

    flags = result.images.set_index(dataset.images["relpath"])
    assert not flags.loc["train/cats/000.png", "is_exact_duplicate"]
    assert flags["is_exact_duplicate"].sum() == n_copies - 1
    assert flags["is_near_duplicate"].all()
    assert len(result.pairs) == n_copies - 1
    assert result.summary["n_clusters"] == 1


def test_neighbouring_stars_flag_every_member(tmp_path):
    n_copies = MAX_GROUP_FOR_ALL_PAIRS + 5
    dataset, properties = _groups_with_hashes(
        tmp_path / "data",
        {
            "train/cats": (n_copies, "0000000000000000"),
            "test/dogs": (n_copies, "0000000000000003"),
        },
    )

    result = find_duplicates(dataset, properties, n_jobs=1)

    assert result.images["is_near_duplicate"].all()
    assert result.images["is_split_leakage"].all()
    assert result.images["is_label_conflict"].all()
    assert result.images["near_duplicate_score"].min() == pytest.approx(5 / 6)
    assert result.summary["n_clusters"] == 1
    assert len(result.pairs) < 3 * n_copies


def test_star_beside_small_group_flags_both(tmp_path):
    dataset, properties = _groups_with_hashes(
        tmp_path / "data",
        {
            "train/cats": (MAX_GROUP_FOR_ALL_PAIRS + 1, "0000000000000000"),
            "test/cats": (2, "0000000000000030"),
        },
    )

    result = find_duplicates(dataset, properties, n_jobs=1)

    assert result.images["is_split_leakage"].all()
    assert not result.images["is_label_conflict"].any()


def test_star_link_beyond_near_radius_flags_nothing(tmp_path):
    dataset, properties = _groups_with_hashes(
        tmp_path / "data",
        {
            "train/cats": (MAX_GROUP_FOR_ALL_PAIRS + 1, "0000000000000000"),
            "test/dogs": (MAX_GROUP_FOR_ALL_PAIRS + 1, "00000000000000ff"),
        },
    )

    result = find_duplicates(dataset, properties, max_hash_distance=4, n_jobs=1)

    assert not result.images["is_split_leakage"].any()
    assert result.summary["n_clusters"] == 2


def test_split_names_differing_by_case_do_not_leak(tmp_path):
    root = tmp_path / "data"
    save(root / "imgs" / "a.png", scene(3))
    save(root / "imgs" / "a_copy.png", scene(3))
    save(root / "imgs" / "b.png", scene(4))
    manifest = root / "labels.csv"
    manifest.write_text(
        "path,label,split\nimgs/a.png,cat,train\nimgs/a_copy.png,cat,Train\n"
        "imgs/b.png,dog,test\n"
    )
    dataset = load_dataset(manifest)
    properties = compute_properties(dataset.images["path"].tolist(), n_jobs=1)

    result = find_duplicates(dataset, properties, n_jobs=1)

    assert len(result.pairs) == 1
    assert result.pairs["split_b"].tolist() == ["Train"]
    assert not result.pairs["cross_split"].any()
    assert not result.images["is_split_leakage"].any()


def test_star_with_embeddings_keeps_one_pair_per_copy(tmp_path):
    root = tmp_path / "data"
    n_copies = MAX_GROUP_FOR_ALL_PAIRS * 2
    _copies(root, [f"train/cats/{i:03d}.png" for i in range(n_copies)])
    save(root / "train" / "dogs" / "other.png", scene(8))
    dataset = load_dataset(root)
    properties = compute_properties(dataset.images["path"].tolist(), n_jobs=1)
    # Copies share one embedding; the other image points elsewhere.
    embeddings = np.zeros((dataset.n_images, 4), dtype=np.float32)
    embeddings[:, 0] = 1.0
    embeddings[dataset.images["label"] == "dogs"] = [0.0, 1.0, 0.0, 0.0]

    result = find_duplicates(dataset, properties, embeddings=embeddings, n_jobs=1)

    assert len(result.pairs) == n_copies - 1
    assert (result.pairs["kind"] == "exact").all()
    assert result.pairs["cosine_similarity"].tolist() == [1.0] * (n_copies - 1)

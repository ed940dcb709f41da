import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beholder.findings import compute_knn_consensus


def two_clusters():
    """Two tight clusters; image 5 lies in cluster 0 but carries label 1."""
    embeddings = np.array(
        [
            [1.0, 0.0, 0.0],
            [1.0, 0.02, 0.0],
            [1.0, 0.0, 0.02],
            [1.0, 0.02, 0.02],
            [1.0, 0.01, 0.01],
            [1.0, 0.1, 0.1],
            [0.0, 1.0, 0.0],
            [0.01, 1.0, 0.0],
            [0.025, 1.0, 0.0],
            [0.0, 1.0, 0.03],
            [0.0, 1.0, 0.04],
        ]
    )
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    return embeddings, labels


def test_known_answer_on_two_clusters():
    embeddings, labels = two_clusters()
    consensus = compute_knn_consensus(embeddings, labels, k=3)
    assert consensus.agreement[5] == 0.0
    np.testing.assert_allclose(consensus.label_distribution[5], [1.0, 0.0])
    assert len(consensus.disagreeing_neighbours[5]) == 3
    assert set(consensus.disagreeing_neighbours[5]) <= {0, 1, 2, 3, 4}
    np.testing.assert_allclose(np.delete(consensus.agreement, 5), 1.0)
    assert consensus.disagreeing_neighbours[0] == []


def test_image_is_not_its_own_neighbour():
    embeddings, labels = two_clusters()
    consensus = compute_knn_consensus(embeddings, labels, k=3)
    own = consensus.neighbour_ids == np.arange(len(labels))[:, np.newaxis]
    assert not own.any()


def test_neighbours_sorted_by_similarity():
    embeddings, labels = two_clusters()
    consensus = compute_knn_consensus(embeddings, labels, k=3)
    assert (np.diff(consensus.neighbour_similarity, axis=1) <= 1e-7).all()


def test_small_class_uses_fewer_neighbours():
    embeddings, labels = two_clusters()
    consensus = compute_knn_consensus(embeddings, labels, k=8)
    # Class 0 has 5 distinct images and class 1 has 6.
    np.testing.assert_array_equal(consensus.n_neighbours, np.where(labels == 0, 4, 5))
    assert consensus.agreement[0] == 1.0
    assert (consensus.neighbour_ids[0, 4:] == -1).all()
    assert np.isnan(consensus.neighbour_similarity[0, 4:]).all()


def test_copy_leaves_every_agreement_unchanged():
    embeddings, labels = two_clusters()
    before = compute_knn_consensus(embeddings, labels, k=3)
    with_copy = compute_knn_consensus(
        np.vstack([embeddings, embeddings[5]]), np.append(labels, labels[5]), k=3
    )
    np.testing.assert_allclose(with_copy.agreement[:-1], before.agreement)
    assert with_copy.agreement[-1] == pytest.approx(before.agreement[5])
    assert with_copy.content_group[-1] == with_copy.content_group[5]


def test_copy_with_other_label_votes_half():
    embeddings, labels = two_clusters()
    consensus = compute_knn_consensus(
        np.vstack([embeddings, embeddings[6]]), np.append(labels, 0), k=2
    )
    # Image 7 sees the group {6, 11} as one neighbour voting half 1, half 0,
    # and image 8 voting 1.
    np.testing.assert_allclose(consensus.label_distribution[7], [0.25, 0.75])
    assert consensus.disagreeing_neighbours[7] == [11]


def test_content_ids_group_images():
    embeddings, labels = two_clusters()
    content_ids = np.array(list("abcdefghija"))
    consensus = compute_knn_consensus(embeddings, labels, k=2, content_ids=content_ids)
    assert consensus.content_group[10] == consensus.content_group[0]
    # Image 10 is treated as a copy of image 0, so it gets image 0's votes.
    np.testing.assert_allclose(
        consensus.label_distribution[10], consensus.label_distribution[0]
    )
    assert consensus.agreement[10] == 0.0


def test_k_larger_than_dataset_uses_all_others(caplog):
    embeddings, labels = two_clusters()
    consensus = compute_knn_consensus(embeddings, labels, k=50)
    assert consensus.neighbour_ids.shape == (11, 10)
    assert "instead of k=50" in caplog.text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"k": 0}, "k must be a positive integer"),
        ({"labels": np.array([0, 1])}, "labels must have shape"),
        ({"embeddings": np.zeros((11, 3))}, "all zeros"),
        ({"embeddings": np.full((11, 3), np.nan)}, "NaN or infinite"),
    ],
)
def test_invalid_inputs_rejected(change, message):
    embeddings, labels = two_clusters()
    arguments = {"embeddings": embeddings, "labels": labels, "k": 3, **change}
    with pytest.raises(ValueError, match=message):
        compute_knn_consensus(**arguments)


def test_all_copies_rejected():
    with pytest.raises(ValueError, match="at least two distinct images"):
        compute_knn_consensus(np.ones((4, 3)), np.array([0, 1, 0, 1]))


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_images=st.integers(4, 30),
    copied=st.integers(0, 29),
    k=st.integers(1, 6),
)
def test_duplicate_invariance_random(seed, n_images, copied, k):
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(n_images, 8))
    labels = rng.integers(0, 3, n_images)
    copied %= n_images
    before = compute_knn_consensus(embeddings, labels, n_classes=3, k=k)
    after = compute_knn_consensus(
        np.vstack([embeddings, embeddings[copied]]),
        np.append(labels, labels[copied]),
        n_classes=3,
        k=k,
    )
    np.testing.assert_allclose(after.agreement[:-1], before.agreement, atol=1e-12)
    assert after.agreement[-1] == pytest.approx(before.agreement[copied])

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beholder.findings import compute_knn_consensus


def two_clusters():
    """Two tight clusters on the axes; image 3 sits in cluster 0 with label 1."""
    embeddings = np.array(
        [
            [1.0, 0.00, 0.0],
            [1.0, 0.05, 0.0],
            [1.0, 0.00, 0.05],
            [1.0, 0.03, 0.03],
            [0.0, 1.00, 0.0],
            [0.05, 1.0, 0.0],
            [0.0, 1.00, 0.05],
        ]
    )
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    return embeddings, labels


def test_known_answer_on_two_clusters():
    embeddings, labels = two_clusters()
    consensus = compute_knn_consensus(embeddings, labels, k=3)
    np.testing.assert_allclose(consensus.agreement[3], 0.0)
    np.testing.assert_allclose(consensus.label_distribution[3], [1.0, 0.0])
    assert sorted(consensus.disagreeing_neighbours[3]) == [0, 1, 2]
    # Each clean cluster-0 image sees two clean neighbours and image 3.
    np.testing.assert_allclose(consensus.agreement[:3], [2 / 3] * 3)
    assert consensus.disagreeing_neighbours[0] == [3]
    # Cluster 1 has three images, so its third neighbour is from cluster 0.
    np.testing.assert_allclose(consensus.agreement[4:], [2 / 3] * 3)


def test_image_is_not_its_own_neighbour():
    embeddings, labels = two_clusters()
    consensus = compute_knn_consensus(embeddings, labels, k=3)
    own = consensus.neighbour_ids == np.arange(len(labels))[:, np.newaxis]
    assert not own.any()


def test_neighbours_sorted_by_similarity():
    embeddings, labels = two_clusters()
    consensus = compute_knn_consensus(embeddings, labels, k=3)
    assert (np.diff(consensus.neighbour_similarity, axis=1) <= 1e-7).all()


def test_copy_leaves_every_agreement_unchanged():
    embeddings, labels = two_clusters()
    before = compute_knn_consensus(embeddings, labels, k=3)
    with_copy = compute_knn_consensus(
        np.vstack([embeddings, embeddings[3]]), np.append(labels, labels[3]), k=3
    )
    np.testing.assert_allclose(with_copy.agreement[:-1], before.agreement)
    assert with_copy.agreement[-1] == pytest.approx(before.agreement[3])
    assert with_copy.content_group[-1] == with_copy.content_group[3]


def test_copy_with_other_label_votes_half():
    embeddings, labels = two_clusters()
    consensus = compute_knn_consensus(
        np.vstack([embeddings, embeddings[4]]), np.append(labels, 0), k=2
    )
    # Image 5 sees the group {4, 7} as one neighbour voting half 1, half 0,
    # and image 6 voting 1.
    np.testing.assert_allclose(consensus.label_distribution[5], [0.25, 0.75])
    assert 7 in consensus.disagreeing_neighbours[5]


def test_content_ids_group_images():
    embeddings, labels = two_clusters()
    content_ids = np.array(["a", "b", "c", "d", "e", "f", "a"])
    consensus = compute_knn_consensus(embeddings, labels, k=2, content_ids=content_ids)
    assert consensus.content_group[6] == consensus.content_group[0]
    assert 6 not in consensus.neighbour_ids[0]


def test_k_larger_than_dataset_uses_all_others(caplog):
    embeddings, labels = two_clusters()
    consensus = compute_knn_consensus(embeddings, labels, k=50)
    assert consensus.neighbour_ids.shape == (7, 6)
    assert "instead of k=50" in caplog.text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"k": 0}, "k must be a positive integer"),
        ({"labels": np.array([0, 1])}, "labels must have shape"),
        ({"embeddings": np.zeros((7, 3))}, "all zeros"),
        ({"embeddings": np.full((7, 3), np.nan)}, "NaN or infinite"),
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


@settings(max_examples=25, deadline=None)
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

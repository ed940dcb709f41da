import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beholder.predict import assign_folds, cross_val_probabilities


def blobs(n_per_class=30, n_classes=3, dim=8, seed=0, spread=0.3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (n_classes, dim))
    labels = np.repeat(np.arange(n_classes), n_per_class)
    x = centres[labels] + rng.normal(0, spread, (len(labels), dim))
    return x.astype(np.float32), labels


def test_probabilities_are_rows_that_sum_to_one():
    x, y = blobs()

    result = cross_val_probabilities(x, y, n_folds=3, seed=0)

    assert result.probabilities.shape == (90, 3)
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0, atol=1e-9)
    assert result.accuracy > 0.95


def test_probabilities_are_out_of_sample():
    # A mislabelled point inside another class's blob must be predicted as
    # that class, which an in-sample fit would memorise away.
    x, y = blobs(spread=0.2)
    y = y.copy()
    y[0] = 1

    result = cross_val_probabilities(x, y, n_folds=5, seed=0)

    assert result.probabilities[0].argmax() == 0
    assert result.probabilities[0, 1] < 0.5


def test_each_image_predicted_in_its_own_fold():
    x, y = blobs()

    result = cross_val_probabilities(x, y, n_folds=4, seed=3)

    assert set(np.unique(result.folds)) == {0, 1, 2, 3}
    for label in range(3):
        counts = np.bincount(result.folds[y == label], minlength=4)
        assert counts.max() - counts.min() <= 1


def test_single_image_class_still_runs_and_is_noted():
    x, y = blobs()
    x = np.vstack([x, x[:1] + 10])
    y = np.append(y, 3)

    result = cross_val_probabilities(x, y, n_classes=4, n_folds=5, seed=0)

    assert result.probabilities.shape == (91, 4)
    assert result.probabilities[-1, 3] == 0.0
    assert any("class index 3 has 1 image" in note for note in result.notes)


def test_small_class_is_noted():
    x, y = blobs()
    x, y = x[:63], y[:63]  # class 2 keeps 3 images

    result = cross_val_probabilities(x, y, n_folds=5, seed=0)

    assert any("class index 2 has 3 images" in note for note in result.notes)


def test_seed_is_reproducible_and_changes_folds():
    x, y = blobs()

    a = cross_val_probabilities(x, y, n_folds=3, seed=1)
    b = cross_val_probabilities(x, y, n_folds=3, seed=1)
    c = cross_val_probabilities(x, y, n_folds=3, seed=2)

    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    assert not np.array_equal(a.folds, c.folds)


def test_cache_returns_same_result(tmp_path):
    x, y = blobs()

    first = cross_val_probabilities(x, y, n_folds=3, cache_dir=tmp_path)
    second = cross_val_probabilities(x, y, n_folds=3, cache_dir=tmp_path)
    changed = cross_val_probabilities(x, y, n_folds=3, seed=9, cache_dir=tmp_path)

    np.testing.assert_array_equal(first.probabilities, second.probabilities)
    assert first.notes == second.notes
    assert len(list(tmp_path.glob("probe-*.npz"))) == 2
    assert changed.seed == 9


def test_mismatched_lengths_are_rejected():
    x, y = blobs()

    with pytest.raises(ValueError, match="embeddings has 90 rows but labels has 89"):
        cross_val_probabilities(x, y[:-1])


def test_one_fold_is_rejected():
    x, y = blobs()

    with pytest.raises(ValueError, match="n_folds must be at least 2"):
        cross_val_probabilities(x, y, n_folds=1)


@settings(max_examples=50, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 12), min_size=1, max_size=6),
    n_folds=st.integers(2, 6),
    seed=st.integers(0, 2**16),
)
def test_folds_cover_every_image_once(sizes, n_folds, seed):
    labels = np.repeat(np.arange(len(sizes)), sizes)

    folds, _ = assign_folds(labels, n_folds=n_folds, seed=seed)

    assert folds.shape == labels.shape
    assert folds.min() >= 0
    assert folds.max() < n_folds
    for label, size in enumerate(sizes):
        # Every class is spread over min(size, n_folds) folds.
        assert len(np.unique(folds[labels == label])) == min(size, n_folds)


def test_groups_share_a_fold_across_classes():
    labels = np.array([0, 0, 0, 1, 1, 1, 0, 1])
    groups = ["a", "a", "b", "a", "c", "d", "e", "e"]

    folds, _ = assign_folds(labels, n_folds=3, seed=0, groups=groups)

    assert folds[0] == folds[1] == folds[3]
    assert folds[6] == folds[7]

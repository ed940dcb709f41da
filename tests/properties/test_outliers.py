import numpy as np
import pytest

from beholder.properties import find_outliers


def clustered(seed=0, per_class=30):
    rng = np.random.default_rng(seed)
    centres = np.eye(3, 16) * 10
    vectors = np.vstack(
        [centres[c] + rng.normal(0, 1, (per_class, 16)) for c in range(3)]
    )
    labels = np.repeat(np.arange(3), per_class)
    return vectors, labels


def test_point_far_from_every_class_is_outlier():
    vectors, labels = clustered()
    far = np.zeros((1, 16))
    far[0, 10] = 10
    result = find_outliers(np.vstack([vectors, far]), np.append(labels, 0))
    assert result["is_outlier"].iloc[-1]
    assert result["outlier_score"].iloc[-1] > 0.5
    assert result["is_outlier"].iloc[:-1].sum() <= 2


def test_mislabelled_point_near_another_class_is_not_outlier():
    vectors, labels = clustered(1)
    labels = labels.copy()
    labels[0] = 2  # sits in class 0's cluster but carries label 2
    result = find_outliers(vectors, labels)
    assert not result["is_outlier"].iloc[0]


def test_scores_in_unit_interval_and_columns():
    vectors, labels = clustered(2)
    result = find_outliers(vectors, labels, k=5)
    assert list(result.columns) == [
        "is_outlier",
        "outlier_score",
        "centroid_distance",
        "knn_distance",
        "outlier_z",
    ]
    assert result["outlier_score"].between(0, 1).all()
    assert len(result) == len(vectors)


def test_exact_duplicate_vectors_do_not_break_knn():
    vectors, labels = clustered(3)
    vectors[1] = vectors[0]
    result = find_outliers(vectors, labels, k=3)
    assert np.isfinite(result["knn_distance"]).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"k": 0}, "k must be"), ({"threshold": 0}, "threshold must be")],
)
def test_invalid_parameters_raise(kwargs, match):
    vectors, labels = clustered()
    with pytest.raises(ValueError, match=match):
        find_outliers(vectors, labels, **kwargs)


def test_label_length_mismatch_raises():
    vectors, labels = clustered()
    with pytest.raises(ValueError, match="labels has"):
        find_outliers(vectors, labels[:-1])

import numpy as np
import pytest

from beholder.findings import confusion_matrix, find_confused_pairs

CLASSES = ["bedroom", "kitchen", "livingroom"]


def test_confusion_matrix_counts():
    probabilities = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.2, 0.2]])
    matrix = confusion_matrix(probabilities, np.array([0, 1, 2]), 3)
    np.testing.assert_array_equal(matrix, [[1, 0, 0], [0, 1, 0], [1, 0, 0]])


def test_pairs_from_matrix_only():
    matrix = np.array([[8, 0, 2], [0, 10, 0], [1, 0, 9]])
    pairs = find_confused_pairs(matrix, CLASSES)
    assert len(pairs) == 1
    row = pairs.iloc[0]
    assert (row["class_a"], row["class_b"]) == ("bedroom", "livingroom")
    assert row["n_a_as_b"] == 2
    assert row["rate_a_as_b"] == pytest.approx(0.2)
    assert row["rate_b_as_a"] == pytest.approx(0.1)
    assert row["overlap"] == pytest.approx(0.2)
    assert np.isnan(row["est_rate_a_as_b"])


def test_pairs_ranked_by_overlap():
    matrix = np.array([[9, 1, 0], [0, 5, 5], [0, 1, 9]])
    pairs = find_confused_pairs(matrix, CLASSES)
    assert pairs["overlap"].is_monotonic_decreasing
    assert (pairs.iloc[0]["class_a"], pairs.iloc[0]["class_b"]) == (
        "kitchen",
        "livingroom",
    )


def test_joint_rates_and_merge_suggestion():
    matrix = np.array([[6, 0, 4], [0, 10, 0], [3, 0, 7]])
    joint = np.array([[0.2, 0.0, 0.1], [0.0, 0.3, 0.0], [0.1, 0.0, 0.3]])
    pairs = find_confused_pairs(matrix, CLASSES, joint=joint)
    row = pairs.iloc[0]
    assert row["joint_a_b"] == pytest.approx(0.1)
    assert row["est_rate_a_as_b"] == pytest.approx(1 / 3)
    assert row["est_rate_b_as_a"] == pytest.approx(0.25)
    assert row["overlap"] == pytest.approx(1 / 3)
    assert row["suggestion"] == "merge"
    assert "not separable" in row["suggestion_reason"]


def test_one_sided_overlap_suggests_split():
    matrix = np.array([[5, 0, 5], [0, 10, 0], [0, 0, 10]])
    joint = np.array([[0.2, 0.0, 0.15], [0.0, 0.3, 0.0], [0.01, 0.0, 0.34]])
    pairs = find_confused_pairs(matrix, CLASSES, joint=joint)
    row = pairs.iloc[0]
    assert row["suggestion"] == "split bedroom"
    assert "sub-group" in row["suggestion_reason"]


def test_small_overlap_has_no_suggestion():
    matrix = np.array([[9, 0, 1], [0, 10, 0], [1, 0, 9]])
    pairs = find_confused_pairs(matrix, CLASSES)
    assert pairs.iloc[0]["suggestion"] == ""


def test_no_confusion_gives_empty_frame():
    pairs = find_confused_pairs(np.diag([3, 4, 5]), CLASSES)
    assert pairs.empty
    assert "suggestion" in pairs.columns


def test_shape_mismatch_rejected():
    with pytest.raises(ValueError, match="to match 3 classes"):
        find_confused_pairs(np.eye(2), CLASSES)


def test_ties_in_joint_broken_by_observed_confusion():
    classes = ["a", "b", "c", "d"]
    matrix = np.array(
        [
            [50, 1, 0, 0],
            [0, 50, 0, 0],
            [0, 0, 45, 5],
            [0, 0, 2, 48],
        ]
    )
    # An estimated joint with nothing off the diagonal: every overlap is 0.
    joint = np.diag([0.25, 0.25, 0.25, 0.25])

    pairs = find_confused_pairs(matrix, classes, joint=joint)

    assert (pairs["overlap"] == 0).all()
    assert pairs[["class_a", "class_b"]].values.tolist() == [["c", "d"], ["a", "b"]]

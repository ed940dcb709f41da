import numpy as np
import pytest

from beholder.findings import PRUNING_METHODS, estimate_joint, find_issues_by_pruning

# Six images, two classes. Images 2 and 5 carry the other class's label.
PROBABILITIES = np.array(
    [
        [0.95, 0.05],
        [0.9, 0.1],
        [0.1, 0.9],
        [0.2, 0.8],
        [0.05, 0.95],
        [0.85, 0.15],
    ]
)
LABELS = np.array([0, 0, 0, 1, 1, 1])


@pytest.mark.parametrize("method", PRUNING_METHODS)
def test_every_rule_finds_planted_errors(method):
    flagged = find_issues_by_pruning(PROBABILITIES, LABELS, method=method)
    np.testing.assert_array_equal(flagged, [False, False, True, False, False, True])


def test_prune_by_noise_rate_takes_largest_margin():
    probabilities = np.array(
        [[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8], [0.1, 0.9]]
    )
    labels = np.array([0, 0, 0, 1, 1])
    joint = np.array([[0.2, 0.4], [0.0, 0.4]])  # two of the three 0s are truly 1
    flagged = find_issues_by_pruning(probabilities, labels, joint=joint)
    np.testing.assert_array_equal(flagged, [False, True, True, False, False])


def test_prune_by_class_takes_lowest_self_confidence():
    probabilities = np.array(
        [[0.5, 0.1, 0.4], [0.3, 0.6, 0.1], [0.9, 0.05, 0.05], [0.1, 0.1, 0.8]]
    )
    labels = np.array([0, 0, 0, 2])
    joint = np.array([[0.5, 0.1, 0.15], [0, 0, 0], [0, 0, 0.25]])  # one error in 0
    flagged = find_issues_by_pruning(
        probabilities, labels, method="prune_by_class", joint=joint
    )
    np.testing.assert_array_equal(flagged, [False, True, False, False])


def test_min_per_class_keeps_images():
    probabilities = np.array([[0.1, 0.9], [0.2, 0.8], [0.05, 0.95]])
    labels = np.array([0, 0, 1])
    joint = np.array([[0.0, 2 / 3], [0.0, 1 / 3]])  # every 0 looks like a 1
    flagged = find_issues_by_pruning(probabilities, labels, joint=joint)
    assert flagged[:2].sum() == 1
    flagged = find_issues_by_pruning(probabilities, labels, joint=joint, min_per_class=0)
    assert flagged[:2].sum() == 2


def test_both_is_intersection():
    rng = np.random.default_rng(3)
    raw = rng.random((300, 4)) ** 3
    probabilities = raw / raw.sum(axis=1, keepdims=True)
    labels = rng.integers(0, 4, 300)
    joint = estimate_joint(probabilities, labels)
    by_rate = find_issues_by_pruning(probabilities, labels, joint=joint)
    by_class = find_issues_by_pruning(
        probabilities, labels, joint=joint, method="prune_by_class"
    )
    both = find_issues_by_pruning(probabilities, labels, joint=joint, method="both")
    np.testing.assert_array_equal(both, by_rate & by_class)


def test_unknown_rule_rejected():
    with pytest.raises(ValueError, match="method must be one of"):
        find_issues_by_pruning(PROBABILITIES, LABELS, method="prune_all")


def test_joint_shape_checked():
    with pytest.raises(ValueError, match="joint must have shape"):
        find_issues_by_pruning(PROBABILITIES, LABELS, joint=np.eye(3) / 3)

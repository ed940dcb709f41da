import numpy as np
import pytest

from beholder.findings import (
    compute_class_thresholds,
    compute_confident_joint,
    estimate_joint,
    estimate_noise_rates,
)

# Five images, two classes. Image 2 is given class 0 but looks like class 1.
PROBABILITIES = np.array(
    [
        [0.9, 0.1],
        [0.8, 0.2],
        [0.15, 0.85],
        [0.3, 0.7],
        [0.05, 0.95],
    ]
)
LABELS = np.array([0, 0, 0, 1, 1])


def test_thresholds_are_mean_self_confidence():
    thresholds = compute_class_thresholds(PROBABILITIES, LABELS)
    np.testing.assert_allclose(thresholds, [(0.9 + 0.8 + 0.15) / 3, (0.7 + 0.95) / 2])


def test_threshold_of_empty_class_is_infinite():
    probabilities = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1]])
    thresholds = compute_class_thresholds(probabilities, np.array([0, 1]))
    assert np.isinf(thresholds[2])


def test_confident_joint_known_answer():
    # thresholds: class 0 = 0.6167, class 1 = 0.825
    joint, confident_label = compute_confident_joint(PROBABILITIES, LABELS)
    np.testing.assert_array_equal(joint, [[2, 1], [0, 1]])
    np.testing.assert_array_equal(confident_label, [0, 0, 1, -1, 1])


def test_confident_joint_picks_most_probable_above_threshold():
    probabilities = np.array([[0.5, 0.45, 0.05], [0.1, 0.1, 0.8], [0.2, 0.7, 0.1]])
    thresholds = np.array([0.4, 0.4, 0.9])
    _, confident_label = compute_confident_joint(
        probabilities, np.array([0, 2, 1]), thresholds=thresholds
    )
    np.testing.assert_array_equal(confident_label, [0, -1, 1])


def test_estimate_joint_known_answer():
    joint = estimate_joint(PROBABILITIES, LABELS)
    # Row 0: confident shares 2/3, 1/3 of 3 images; row 1: 0, 1 of 2 images.
    np.testing.assert_allclose(joint, [[2 / 5, 1 / 5], [0.0, 2 / 5]])


def test_estimate_joint_rows_match_given_shares():
    rng = np.random.default_rng(0)
    raw = rng.random((200, 4))
    probabilities = raw / raw.sum(axis=1, keepdims=True)
    labels = rng.integers(0, 4, 200)
    joint = estimate_joint(probabilities, labels)
    assert joint.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(joint.sum(axis=1), np.bincount(labels) / 200)


def test_row_without_confident_images_stays_on_diagonal():
    probabilities = np.array([[0.5, 0.5], [0.6, 0.4], [0.1, 0.9]])
    labels = np.array([0, 0, 1])
    thresholds = np.array([0.7, 0.85])  # no image given 0 reaches a threshold
    confident, _ = compute_confident_joint(probabilities, labels, thresholds=thresholds)
    np.testing.assert_array_equal(confident, [[0, 0], [0, 1]])
    joint = estimate_joint(probabilities, labels, confident_joint=confident)
    np.testing.assert_allclose(joint, [[2 / 3, 0.0], [0.0, 1 / 3]])


def test_noise_rates_known_answer():
    joint = np.array([[0.4, 0.2], [0.0, 0.4]])
    rates = estimate_noise_rates(joint)
    np.testing.assert_allclose(rates.true_prior, [0.4, 0.6])
    np.testing.assert_allclose(rates.given_prior, [0.6, 0.4])
    np.testing.assert_allclose(rates.noise_matrix, [[1.0, 1 / 3], [0.0, 2 / 3]])
    np.testing.assert_allclose(rates.inverse_noise_matrix, [[2 / 3, 1 / 3], [0, 1]])


def test_noise_rates_reject_unnormalised_joint():
    with pytest.raises(ValueError, match="sum to one"):
        estimate_noise_rates(np.array([[2.0, 1.0], [0.0, 2.0]]))


def test_confident_joint_rejects_wrong_threshold_shape():
    with pytest.raises(ValueError, match="thresholds must have shape"):
        compute_confident_joint(PROBABILITIES, LABELS, thresholds=[0.5])

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from beholder.findings import compute_label_quality, compute_margin

PROBABILITIES = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.1, 0.6, 0.3],
        [0.5, 0.1, 0.4],
    ]
)
LABELS = np.array([0, 2, 2])


def test_self_confidence_known_answer():
    quality = compute_label_quality(PROBABILITIES, LABELS, method="self_confidence")
    np.testing.assert_allclose(quality, [0.7, 0.3, 0.4])


def test_normalized_margin_known_answer():
    quality = compute_label_quality(PROBABILITIES, LABELS, method="normalized_margin")
    # margins 0.5, -0.3, -0.1 mapped by (m + 1) / 2
    np.testing.assert_allclose(quality, [0.75, 0.35, 0.45])


def test_combined_is_mean_of_both():
    quality = compute_label_quality(PROBABILITIES, LABELS, method="combined")
    np.testing.assert_allclose(quality, [0.725, 0.325, 0.425])


def test_margin_best_other_class():
    margin, best_other = compute_margin(PROBABILITIES, LABELS)
    np.testing.assert_allclose(margin, [0.5, -0.3, -0.1])
    np.testing.assert_array_equal(best_other, [1, 1, 0])


def test_unknown_method_rejected():
    with pytest.raises(ValueError, match="method must be one of"):
        compute_label_quality(PROBABILITIES, LABELS, method="entropy")


def test_label_outside_columns_rejected():
    with pytest.raises(ValueError, match="label 3 is outside 0..2"):
        compute_label_quality(PROBABILITIES, np.array([0, 1, 3]))


def test_negative_probability_rejected():
    with pytest.raises(ValueError, match="not raw scores"):
        compute_label_quality(PROBABILITIES - 0.2, LABELS)


def test_string_labels_rejected():
    with pytest.raises(ValueError, match="integer class indices"):
        compute_label_quality(PROBABILITIES, np.array(["a", "b", "c"]))


@st.composite
def probability_problems(draw):
    n_images = draw(st.integers(1, 12))
    n_classes = draw(st.integers(2, 5))
    raw = draw(
        arrays(np.float64, (n_images, n_classes), elements=st.floats(0.01, 1.0))
    )
    probabilities = raw / raw.sum(axis=1, keepdims=True)
    labels = np.array(draw(st.lists(st.integers(0, n_classes - 1), min_size=n_images,
                                     max_size=n_images)))
    permutation = np.array(draw(st.permutations(range(n_classes))))
    return probabilities, labels, permutation


@settings(max_examples=60, deadline=None)
@given(probability_problems(), st.sampled_from(["self_confidence", "normalized_margin",
                                                "combined"]))
def test_quality_unchanged_by_class_order(problem, method):
    probabilities, labels, permutation = problem
    # Column j of the permuted problem is old class permutation[j].
    new_index = np.argsort(permutation)
    permuted = compute_label_quality(
        probabilities[:, permutation], new_index[labels], method=method
    )
    original = compute_label_quality(probabilities, labels, method=method)
    np.testing.assert_allclose(permuted, original, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(probability_problems(), st.sampled_from(["self_confidence", "normalized_margin",
                                                "combined"]))
def test_quality_in_unit_interval(problem, method):
    probabilities, labels, _ = problem
    quality = compute_label_quality(probabilities, labels, method=method)
    assert (quality >= 0).all()
    assert (quality <= 1).all()

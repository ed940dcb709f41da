import numpy as np
import pandas as pd
import pytest

from beholder.bias.slices import find_error_slices


def _predictions(labels, wrong, n_classes):
    predicted = np.where(wrong, (labels + 1) % n_classes, labels)
    return np.eye(n_classes)[predicted] * 0.9 + 0.1 / n_classes


@pytest.fixture
def data():
    rng = np.random.default_rng(11)
    n, k = 2000, 4
    labels = rng.integers(0, k, size=n)
    properties = pd.DataFrame(
        {"brightness": rng.uniform(size=n), "noise": rng.normal(size=n)}
    )
    return rng, labels, properties, k


def test_planted_error_slice_found_first(data):
    rng, labels, properties, k = data
    dark_of_class_1 = (labels == 1) & (properties["brightness"] < 0.25)
    wrong = rng.uniform(size=len(labels)) < np.where(dark_of_class_1, 0.6, 0.05)
    slices = find_error_slices(
        properties, _predictions(labels, wrong, k), labels, list("abcd")
    )
    top = slices.iloc[0]
    assert top["kind"] == "class x property"
    assert top["class"] == "b"
    assert top["property"] == "brightness"
    assert top["bin"].startswith("Q1/4")
    assert top["is_significant"]
    assert top["error_rate"] > 0.4
    assert "class b with brightness Q1/4" in top["description"]


def test_random_errors_give_no_significant_slice(data):
    rng, labels, properties, k = data
    wrong = rng.uniform(size=len(labels)) < 0.1
    slices = find_error_slices(
        properties, _predictions(labels, wrong, k), labels, list("abcd")
    )
    assert len(slices) > 0
    assert not slices["is_significant"].any()


def test_small_slices_not_tested(data):
    rng, labels, properties, k = data
    wrong = rng.uniform(size=len(labels)) < 0.1
    slices = find_error_slices(
        properties, _predictions(labels, wrong, k), labels, list("abcd"), min_count=200
    )
    assert (slices["n"] >= 200).all()
    assert "class x property" not in set(slices["kind"])


def test_binary_property_gets_one_bin_per_value(data):
    rng, labels, properties, k = data
    properties = properties.assign(is_grayscale=rng.uniform(size=len(labels)) < 0.3)
    wrong = rng.uniform(size=len(labels)) < 0.1
    slices = find_error_slices(
        properties, _predictions(labels, wrong, k), labels, list("abcd")
    )
    bins = set(slices.loc[slices["property"] == "is_grayscale", "bin"])
    assert bins == {"= 0", "= 1"}


def test_wrong_probability_shape_raises(data):
    _, labels, properties, k = data
    with pytest.raises(ValueError, match="probabilities must have shape"):
        find_error_slices(properties, np.zeros((3, k)), labels, list("abcd"))

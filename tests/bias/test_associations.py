import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from beholder.bias.associations import (
    compute_associations,
    compute_predictability,
    select_property_columns,
)

from .conftest import make_properties


def test_planted_property_ranked_first(planted):
    properties, labels, classes = planted
    table = compute_associations(properties, labels, classes, seed=0)
    top = table[(table["class"] == "c") & (table["rank_in_class"] == 1)].iloc[0]
    assert top["property"] == "brightness"
    assert top["cliffs_delta"] < -0.5
    assert top["is_significant"]
    assert top["is_flagged"]
    assert top["delta_high"] < 0


def test_planted_property_flags_only_its_class(planted):
    properties, labels, classes = planted
    table = compute_associations(properties, labels, classes, seed=0)
    flagged = table[table["is_flagged"]]
    assert list(zip(flagged["class"], flagged["property"])) == [("c", "brightness")]


@pytest.mark.parametrize("correction", ["fdr_bh", "holm"])
def test_shuffled_labels_rarely_significant(correction):
    # Under the null the correction keeps the chance of any significant pair
    # near 5% per dataset; 3 or more of 20 would be very unlikely (p < 0.08).
    datasets_with_hits = 0
    for seed in range(20):
        properties, labels = make_properties(400, 5, seed=100 + seed, n_noise=8)
        table = compute_associations(
            properties, labels, list("abcde"), correction=correction, n_bootstrap=0
        )
        datasets_with_hits += bool(table["is_significant"].any())
    assert datasets_with_hits <= 2


def test_shuffled_planted_labels_not_significant(planted):
    properties, labels, classes = planted
    shuffled = np.random.default_rng(7).permutation(labels)
    table = compute_associations(properties, shuffled, classes, seed=0)
    assert not table["is_significant"].any()


def test_delta_matches_pairwise_definition(planted):
    properties, labels, classes = planted
    table = compute_associations(properties, labels, classes, n_bootstrap=50)
    row = table[(table["class"] == "a") & (table["property"] == "noise_1")].iloc[0]
    x = properties["noise_1"][labels == 0].to_numpy()
    y = properties["noise_1"][labels != 0].to_numpy()
    expected = np.sign(x[:, None] - y[None, :]).mean()
    assert row["cliffs_delta"] == pytest.approx(expected)
    assert row["auroc"] == pytest.approx(
        roc_auc_score(labels == 0, properties["noise_1"])
    )


def test_bootstrap_interval_contains_estimate(planted):
    properties, labels, classes = planted
    table = compute_associations(properties, labels, classes, seed=1)
    inside = (table["delta_low"] <= table["cliffs_delta"] + 1e-9) & (
        table["cliffs_delta"] - 1e-9 <= table["delta_high"]
    )
    assert inside.mean() > 0.95


def test_bootstrap_is_reproducible_with_seed(planted):
    properties, labels, classes = planted
    first = compute_associations(properties, labels, classes, seed=5)
    second = compute_associations(properties, labels, classes, seed=5)
    pd.testing.assert_frame_equal(first, second)


def test_renaming_classes_keeps_deltas(planted):
    properties, labels, classes = planted
    renamed = compute_associations(properties, labels, ["w", "x", "y", "z"], seed=0)
    original = compute_associations(properties, labels, classes, seed=0)
    np.testing.assert_allclose(renamed["cliffs_delta"], original["cliffs_delta"])


def test_identifier_and_text_columns_skipped():
    frame = pd.DataFrame(
        {
            "image_id": [0, 1],
            "source_id": [3, 4],
            "name": ["a", "b"],
            "brightness": [0.1, 0.2],
            "is_grayscale": [True, False],
        }
    )
    assert list(select_property_columns(frame).columns) == [
        "brightness",
        "is_grayscale",
    ]


def test_no_numeric_column_raises():
    with pytest.raises(ValueError, match="no numeric or boolean columns"):
        select_property_columns(pd.DataFrame({"name": ["a", "b"]}))


def test_labels_out_of_range_raise(planted):
    properties, labels, classes = planted
    with pytest.raises(ValueError, match="labels must lie in 0..3"):
        compute_associations(properties, labels + 1, classes)


def test_string_labels_raise(planted):
    properties, labels, classes = planted
    with pytest.raises(ValueError, match="class indices"):
        compute_associations(properties, np.array(classes)[labels], classes)


def test_constant_property_not_tested(planted):
    properties, labels, classes = planted
    properties = properties.assign(width=256.0)
    table = compute_associations(properties, labels, classes, n_bootstrap=0)
    assert "width" not in set(table["property"])


def test_nan_values_are_skipped(planted):
    properties, labels, classes = planted
    properties = properties.copy()
    properties.loc[:9, "brightness"] = np.nan
    table = compute_associations(properties, labels, classes, n_bootstrap=0)
    rows = table[table["property"] == "brightness"]
    assert (rows["n_class"] + rows["n_rest"] == 590).all()


def test_predictability_lifts_planted_property(planted):
    properties, labels, classes = planted
    properties = properties.copy()
    properties.loc[labels == 2, "brightness"] = 0.05
    table = compute_predictability(properties, labels, classes, seed=0).set_index(
        "property"
    )
    assert table.loc["brightness", "lift"] > 1.5
    assert table.loc["noise_0", "lift"] < 1.3
    assert table.loc["brightness", "chance"] == pytest.approx(0.25)

import numpy as np
import pytest

from beholder.bias import analyze_bias


@pytest.fixture(scope="module")
def probed(
    brightness_dataset, brightness_embeddings, brightness_properties, tiny_backbone
):
    paths, labels, classes = brightness_dataset
    probabilities = np.eye(2)[labels] * 0.9 + 0.05
    return analyze_bias(
        brightness_properties,
        probabilities,
        labels,
        classes,
        images=paths,
        embeddings=brightness_embeddings,
        backbone=tiny_backbone,
        n_probe_per_class=12,
        probes=["brightness_down", "brightness_up", "jpeg"],
        min_slice_count=5,
        seed=0,
    )


def test_brightness_shortcut_found_with_both_evidence(probed):
    top = probed.recommendations.iloc[0]
    assert top["factor"] == "brightness"
    assert top["evidence"] == "association and probe"
    assert top["priority"] == "high"
    assert top["transform"].startswith("v2.ColorJitter(brightness=")
    assert "ColorJitter(brightness=" in probed.pipeline


def test_association_ranks_brightness_first(probed):
    first = probed.associations[probed.associations["rank_in_class"] == 1]
    assert set(first["property"]) == {"brightness"}


def test_result_tables_and_parameters(probed):
    tables = probed.tables()
    assert set(tables) == {
        "bias_associations",
        "bias_predictability",
        "bias_slices",
        "bias_probe_images",
        "bias_probe_flips",
        "bias_flip_matrices",
        "bias_shortcuts",
        "bias_recommendations",
    }
    assert len(probed.probe_images) == 24 * 3
    assert probed.parameters["probes"] == ["brightness_down", "brightness_up", "jpeg"]
    assert probed.seed == 0
    assert {"associations", "slices", "probes"} <= set(probed.timings)


def test_without_images_probes_are_skipped(brightness_dataset, brightness_properties):
    _, labels, classes = brightness_dataset
    probabilities = np.eye(2)[labels] * 0.9 + 0.05
    result = analyze_bias(brightness_properties, probabilities, labels, classes)
    assert result.probe_images.empty
    assert result.probe_flips.empty
    assert "probes skipped: no image paths given" in result.notes
    # Association evidence alone still reaches the pipeline when nothing was probed.
    assert "ColorJitter(brightness=" in result.pipeline
    assert set(result.recommendations["priority"]) == {"low"}


def test_probes_need_probe_or_embeddings(
    brightness_dataset, brightness_properties, tiny_backbone
):
    paths, labels, classes = brightness_dataset
    probabilities = np.eye(2)[labels]
    with pytest.raises(ValueError, match="pass probe= or embeddings="):
        analyze_bias(
            brightness_properties,
            probabilities,
            labels,
            classes,
            images=paths,
            backbone=tiny_backbone,
        )


def test_mismatched_lengths_raise(brightness_dataset, brightness_properties):
    _, labels, classes = brightness_dataset
    with pytest.raises(ValueError, match="labels must have shape"):
        analyze_bias(brightness_properties, np.eye(2)[labels], labels[:-1], classes)


def test_tables_store_in_parquet_and_sqlite(probed, tmp_path):
    import sqlite3

    import pandas as pd

    connection = sqlite3.connect(tmp_path / "run.db")
    for name, table in probed.tables().items():
        table.to_parquet(tmp_path / f"{name}.parquet")
        table.to_sql(name, connection, index=False)
        back = pd.read_parquet(tmp_path / f"{name}.parquet")
        assert list(back.columns) == list(table.columns), name
        assert len(back) == len(table), name
    connection.close()


def test_zero_probes_per_class_skips_probes(brightness_dataset, brightness_properties):
    paths, labels, classes = brightness_dataset
    result = analyze_bias(
        brightness_properties,
        np.eye(2)[labels],
        labels,
        classes,
        images=paths,
        n_probe_per_class=0,
    )
    assert result.probe_images.empty
    assert "probes skipped: n_probe_per_class is 0" in result.notes

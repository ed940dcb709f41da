import numpy as np
import pandas as pd
import pytest

from beholder.bias.probes import (
    PROBE_IMAGE_COLUMNS,
    ProbeRun,
    flip_matrices,
    run_probes,
    select_probe_sample,
    summarize_probes,
)
from beholder.bias.transforms import Probe, probes_by_name
from beholder.predict.probe import fit_probe

PROBES = ["brightness_down", "brightness_up", "blur"]


@pytest.fixture(scope="module")
def probe_run(brightness_dataset, brightness_embeddings, tiny_backbone):
    paths, labels, classes = brightness_dataset
    model = fit_probe(brightness_embeddings, labels, seed=0)
    return run_probes(
        paths,
        labels,
        len(classes),
        tiny_backbone,
        model,
        n_per_class=12,
        probes=PROBES,
        batch_size=16,
        seed=0,
    )


def test_probe_table_shape(probe_run):
    table = probe_run.images
    assert list(table.columns) == PROBE_IMAGE_COLUMNS
    assert len(table) == 24 * len(PROBES)
    assert probe_run.n_forward == 24 * (len(PROBES) + 1)
    assert probe_run.probabilities_after.shape == (24, len(PROBES), 2)
    assert probe_run.seconds > 0


def test_flipped_means_prediction_changed(probe_run):
    table = probe_run.images
    assert (table["flipped"] == (table["pred_before"] != table["pred_after"])).all()


def test_original_predictions_match_labels(probe_run):
    first = probe_run.images[probe_run.images["probe"] == PROBES[0]]
    assert (first["pred_before"] == first["label"]).all()


def test_darkening_flips_bright_class(probe_run):
    flips = summarize_probes(probe_run, ["bright", "dark"]).set_index(
        ["class", "probe"]
    )
    row = flips.loc[("bright", "brightness_down")]
    assert row["flip_rate"] > 0.8
    assert row["is_sensitive"]
    assert row["top_target"] == "dark"
    assert flips.loc[("dark", "brightness_down"), "n_into"] == row["n_flipped"]
    assert not flips.loc[("dark", "brightness_down"), "is_sensitive"]
    # With two classes every moved image can only land in the other one, so
    # moving there is what chance predicts and is no evidence of attraction.
    assert not flips.loc[("dark", "brightness_down"), "is_attracting"]


def test_blur_flips_nothing_here(probe_run):
    flips = summarize_probes(probe_run, ["bright", "dark"])
    blur = flips[flips["probe"] == "blur"]
    assert not blur["is_sensitive"].any()
    assert not blur["is_attracting"].any()


def test_flip_matrix_counts_every_image(probe_run):
    matrices = flip_matrices(probe_run, ["bright", "dark"])
    totals = matrices.groupby("probe")["n_images"].sum()
    assert (totals == 24).all()
    row = matrices[
        (matrices["probe"] == "brightness_down")
        & (matrices["class"] == "bright")
        & (matrices["predicted"] == "dark")
    ]
    assert row["n_flipped"].iloc[0] == row["n_images"].iloc[0] > 9


def test_identity_probe_flips_nothing(
    brightness_dataset, brightness_embeddings, tiny_backbone
):
    paths, labels, _ = brightness_dataset
    model = fit_probe(brightness_embeddings, labels, seed=0)
    identity = Probe("identity", "other", "no change", lambda image: image)
    run = run_probes(
        paths, labels, 2, tiny_backbone, model, n_per_class=3, probes=[identity]
    )
    assert not run.images["flipped"].any()
    np.testing.assert_allclose(run.probabilities_after[:, 0], run.probabilities_before)


def test_undecodable_image_is_recorded(
    brightness_dataset, brightness_embeddings, tiny_backbone, tmp_path
):
    paths, labels, _ = brightness_dataset
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    model = fit_probe(brightness_embeddings, labels, seed=0)
    run = run_probes(
        [str(broken)] + paths[1:],
        labels,
        2,
        tiny_backbone,
        model,
        n_per_class=12,
        probes=["blur"],
    )
    assert set(run.failures) == {0}
    assert 0 not in set(run.images["image_id"])
    assert len(run.images) == 23


def test_sample_is_per_class_and_seeded():
    labels = np.array([0] * 30 + [1] * 5 + [2] * 12)
    sample = select_probe_sample(labels, n_per_class=10, seed=1)
    assert np.bincount(labels[sample]).tolist() == [10, 5, 10]
    again = select_probe_sample(labels, n_per_class=10, seed=1)
    other = select_probe_sample(labels, n_per_class=10, seed=2)
    assert np.array_equal(sample, again)
    assert not np.array_equal(sample, other)


def test_sample_size_must_be_positive():
    with pytest.raises(ValueError, match="n_per_class must be at least 1"):
        select_probe_sample(np.array([0, 1]), n_per_class=0)


CLASSES = ["a", "b", "c", "d", "e", "f"]


def _constructed_run(flips_of_class_0: int, n: int = 10) -> ProbeRun:
    """Six classes; one probe that flips ``flips_of_class_0`` class-0 images to 2."""
    k = len(CLASSES)
    labels = np.repeat(np.arange(k), n)
    before = np.eye(k)[labels] * 0.75 + 0.25 / k
    pred_after = labels.copy()
    pred_after[:flips_of_class_0] = 2
    table = pd.DataFrame(
        {
            "image_id": np.arange(k * n),
            "label": labels,
            "probe": "grayscale",
            "pred_before": labels,
            "pred_after": pred_after,
            "p_label_before": 0.8,
            "p_label_after": np.where(pred_after == labels, 0.8, 0.1),
            "flipped": pred_after != labels,
        }
    )
    return ProbeRun(
        images=table,
        image_ids=np.arange(k * n),
        probabilities_before=before,
        probabilities_after=before[:, None, :],
        probes=probes_by_name(["grayscale"]),
        seconds=1.0,
        n_forward=2 * k * n,
    )


def test_summary_of_constructed_run():
    flips = summarize_probes(_constructed_run(9), CLASSES).set_index("class")
    assert flips.loc["a", "n_flipped"] == 9
    assert flips.loc["a", "rest_flip_rate"] == 0
    assert flips.loc["a", "is_sensitive"]
    assert flips.loc["a", "top_target"] == "c"
    assert flips.loc["c", "n_into"] == 9
    assert flips.loc["c", "is_attracting"]
    assert not flips.loc["b", "is_sensitive"]
    # Each moved image lands in "c" with chance 1/5 under the null: 1.8 expected.
    assert flips.loc["c", "expected_into"] == pytest.approx(1.8)
    assert flips.loc["a", "label_prob_drop"] == pytest.approx(0.9 * (0.8 - 0.1))


def test_one_flip_is_not_evidence():
    flips = summarize_probes(_constructed_run(1), CLASSES)
    assert not flips["is_sensitive"].any()
    assert not flips["is_attracting"].any()


def test_probe_cache_reproduces_run(
    brightness_dataset, brightness_embeddings, tiny_backbone, tmp_path, monkeypatch
):
    paths, labels, classes = brightness_dataset
    model = fit_probe(brightness_embeddings, labels, seed=0)

    def probe_once():
        return run_probes(
            paths,
            labels,
            len(classes),
            tiny_backbone,
            model,
            n_per_class=4,
            probes=PROBES,
            seed=0,
            cache_dir=tmp_path / "cache",
        )

    first = probe_once()

    def no_decoding(*args, **kwargs):
        raise AssertionError("a cached probe run must not decode images")

    monkeypatch.setattr("beholder.bias.probes.open_rgb", no_decoding)
    second = probe_once()

    np.testing.assert_allclose(
        second.probabilities_after, first.probabilities_after, rtol=1e-6
    )
    np.testing.assert_allclose(
        second.probabilities_before, first.probabilities_before, rtol=1e-6
    )
    pd.testing.assert_frame_equal(second.images, first.images)

"""``beholder audit --predictions`` with the formats and hints it advertises."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from beholder.ingest import load_dataset
from beholder.store import RunStore


@pytest.fixture
def dataset_images(make_class_folders):
    """A dataset, and its images table in the order the audit uses."""
    data = make_class_folders(n_classes=2, per_class=6)
    return data, load_dataset(data).images


def test_npy_predictions_accepted(dataset_images, tmp_path, run_cli):
    data, images = dataset_images
    probabilities = np.full((len(images), 2), 0.5)
    path = tmp_path / "predictions.npy"
    np.save(path, probabilities)

    result = run_cli(data, "--out", tmp_path / "run", "--predictions", path)

    assert result.exit_code == 0, result.output


def test_logits_hint_names_real_option(dataset_images, tmp_path, run_cli):
    from typer.testing import CliRunner

    from beholder.cli import app

    data, images = dataset_images
    logits = pd.DataFrame(
        {"relpath": images["relpath"], "class_0": 3.0, "class_1": -2.0}
    )
    path = tmp_path / "logits.csv"
    logits.to_csv(path, index=False)

    result = run_cli(data, "--out", tmp_path / "run", "--predictions", path)

    assert result.exit_code == 2
    help_text = CliRunner().invoke(app, ["audit", "--help"], env={"COLUMNS": "200"})
    for option in set(re.findall(r"--[a-z][a-z-]+", result.output)):
        assert option in help_text.output, f"the error names {option}, which is not an option"


@pytest.mark.filterwarnings("default::UserWarning")
def test_in_sample_warning_kept_in_run(dataset_images, tmp_path, run_cli):
    data, images = dataset_images
    one_hot = pd.get_dummies(images["label"]).astype(float)
    one_hot.insert(0, "relpath", images["relpath"])
    path = tmp_path / "in_sample.csv"
    one_hot.to_csv(path, index=False)

    result = run_cli(data, "--out", tmp_path / "run", "--predictions", path)

    assert result.exit_code == 0, result.output
    notes = RunStore.open(tmp_path / "run").read_meta()["summary"]["notes"]
    assert any("one-hot" in note for note in notes), notes

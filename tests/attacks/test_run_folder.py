"""The run folder after reruns, interruptions and output inside the dataset."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from beholder.audit import AuditConfig, run_audit
from beholder.errors import BeholderError, StoreError
from beholder.store import RunStore


@pytest.fixture
def config(tiny_backbone_file):
    # The property scan and bias analysis are off because they take most of
    # the time and write nothing these tests look at.
    return AuditConfig(
        backbone=str(tiny_backbone_file), n_folds=3, seed=0, scan=False, bias=False
    )


def test_rerun_drops_tables_of_earlier_run(make_class_folders, tmp_path, config):
    data = make_class_folders(n_classes=2, per_class=6)
    out = tmp_path / "run"
    run_audit(data, out, config)
    stale = out / "leftover_from_older_version.parquet"
    pd.DataFrame({"image_id": [0, 1], "value": [1.0, 2.0]}).to_parquet(stale)

    run_audit(data, out, config)

    assert not stale.exists(), "a table of the earlier run is still in the folder"


def test_failed_rerun_leaves_one_run(make_class_folders, tmp_path, config, monkeypatch):
    first_data = make_class_folders(n_classes=2, per_class=6, root=tmp_path / "first")
    second_data = make_class_folders(n_classes=3, per_class=5, root=tmp_path / "second")
    out = tmp_path / "run"
    run_audit(first_data, out, config)

    def fail(self, name, array):
        raise KeyboardInterrupt

    monkeypatch.setattr(RunStore, "write_array", fail)
    with pytest.raises(KeyboardInterrupt):
        run_audit(second_data, out, config)
    monkeypatch.undo()

    # Either the folder is no longer a run, or every part is from one run.
    try:
        store = RunStore.open(out)
    except StoreError:
        return
    meta = json.loads((out / "run.json").read_text())
    n_images = meta["summary"]["n_images"]
    assert len(store.read_table("images")) == n_images
    assert len(store.read_table("label_issues")) == n_images
    assert len(store.read_array("probabilities")) == n_images


def test_out_inside_dataset_not_ingested(make_class_folders, config):
    data = make_class_folders(n_classes=2, per_class=6)

    try:
        run_audit(data, data / "class_0" / "run", config)
    except BeholderError:
        return  # An audit that rejects this output folder passes too.
    second = run_audit(data, data.parent / "second", config)

    ledger = second.summary["ledger"]
    assert ledger["flagged"] == 0, ledger["flagged_by_reason"]
    assert ledger["given"] == 12


def test_out_with_user_files_not_overwritten(make_class_folders, tmp_path, config):
    data = make_class_folders(n_classes=2, per_class=6)
    folder = tmp_path / "my-notes"
    folder.mkdir()
    (folder / "report.html").write_text("my own report")

    try:
        run_audit(data, folder, config)
    except BeholderError:
        pass  # An audit that rejects a folder that is not a run passes too.

    assert (folder / "report.html").read_text() == "my own report"

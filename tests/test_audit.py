import json

import numpy as np
import pandas as pd
import pytest

from beholder.audit import AuditConfig, run_audit
from beholder.errors import DatasetError
from beholder.store import RunStore


@pytest.fixture
def config(tiny_backbone_file):
    # The scan and bias stages have their own test below; they are off here
    # to keep each audit fast.
    return AuditConfig(
        backbone=str(tiny_backbone_file), n_folds=3, seed=7, scan=False, bias=False
    )


def test_audit_writes_every_table_and_report(make_class_folders, tmp_path, config):
    data = make_class_folders(n_classes=3, per_class=10)

    result = run_audit(data, tmp_path / "run", config)

    store = RunStore.open(result.run_dir)
    images = store.read_table("images")
    issues = store.read_table("label_issues")
    assert len(images) == 30
    assert images["image_id"].tolist() == list(range(30))
    assert issues["image_id"].tolist() == list(range(30))
    assert store.read_array("probabilities").shape == (30, 3)
    assert store.read_array("embeddings").shape[0] == 30
    assert store.read_array("confusion").sum() == 30
    meta = json.loads((result.run_dir / "run.json").read_text())
    assert meta["config"]["seed"] == 7
    assert meta["classes"] == ["class_0", "class_1", "class_2"]
    assert set(meta["timings_s"]) >= {"ingest", "embed", "predict", "report"}
    assert result.report_path.is_file()


def test_audit_flags_broken_files_and_goes_on(make_class_folders, tmp_path, config):
    data = make_class_folders(n_classes=2, per_class=8)
    (data / "class_0" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (data / "class_1" / "empty.png").write_bytes(b"")

    result = run_audit(data, tmp_path / "run", config)

    ledger = result.summary["ledger"]
    assert ledger["given"] == 18
    assert ledger["read"] == 16
    assert ledger["flagged"] == 2
    assert ledger["read"] + ledger["flagged"] == ledger["given"]
    report = result.report_path.read_text(encoding="utf-8")
    assert "2 of 18 files were not used" in report
    assert "broken.jpg" in report


def test_audit_finds_planted_label_error(make_class_folders, tmp_path, config):
    data = make_class_folders(n_classes=3, per_class=12)
    (data / "class_0" / "005.png").rename(data / "class_2" / "planted.png")

    result = run_audit(data, tmp_path / "run", config)

    store = RunStore.open(result.run_dir)
    table = store.read_table("label_issues").merge(
        store.read_table("images"), on="image_id"
    )
    planted = table[table["relpath"] == "class_2/planted.png"].iloc[0]
    assert planted["rank"] <= 3
    # The tiny backbone has random weights, so its nearest neighbours carry
    # no meaning; the linear probe's out-of-sample prediction does.
    assert planted["predicted"] == "class_0"


def test_audit_escapes_names_in_report(tmp_path, config):
    from tests.conftest import class_image, write_image

    data = tmp_path / "data"
    for c, name in enumerate(["<b>bold", 'quote"s']):
        for i in range(6):
            write_image(data / name / f"é {i}'.png", class_image(c, i))

    result = run_audit(data, tmp_path / "run", config)

    report = result.report_path.read_text(encoding="utf-8")
    assert "<b>bold" not in report
    assert "&lt;b&gt;bold" in report
    images = RunStore.open(result.run_dir).read_table("images")
    assert set(images["label"]) == {"<b>bold", 'quote"s'}


def test_audit_of_one_class_is_rejected(make_class_folders, tmp_path, config):
    data = make_class_folders(n_classes=1, per_class=4)

    with pytest.raises(DatasetError, match="only one class"):
        run_audit(data, tmp_path / "run", config)


def test_audit_of_unreadable_folder_is_rejected(tmp_path, config):
    for name in ("a", "b"):
        folder = tmp_path / "data" / name
        folder.mkdir(parents=True)
        (folder / "x.jpg").write_bytes(b"nope")

    with pytest.raises(DatasetError, match="none of the 2 files could be used"):
        run_audit(tmp_path / "data", tmp_path / "run", config)


def test_second_audit_reuses_cache(make_class_folders, tmp_path, config):
    data = make_class_folders(n_classes=2, per_class=6)

    run_audit(data, tmp_path / "first", config)
    second = run_audit(data, tmp_path / "second", config)

    first_probabilities = np.load(tmp_path / "first" / "probabilities.npy")
    np.testing.assert_array_equal(
        first_probabilities, np.load(tmp_path / "second" / "probabilities.npy")
    )
    meta = json.loads((second.run_dir / "run.json").read_text())
    assert meta["summary"]["n_images"] == 12
    assert isinstance(pd.read_parquet(second.run_dir / "images.parquet"), pd.DataFrame)


def test_run_json_masks_database_password(make_class_folders, tmp_path, config):
    from dataclasses import replace

    data = make_class_folders(n_classes=2, per_class=5)
    database = tmp_path / "records.db"
    url = f"sqlite:///{database}"
    config = replace(config, database_url=url)

    result = run_audit(data, tmp_path / "run", config)

    from beholder.audit import _public_config

    masked = _public_config(replace(config, database_url="postgresql://u:secret@h/db"))
    assert "secret" not in masked["database_url"]
    assert (
        json.loads((result.run_dir / "run.json").read_text())["config"]["database_url"]
        == url
    )
    assert database.is_file()


def test_audit_with_scan_and_bias(make_class_folders, tmp_path, config):
    from dataclasses import replace

    data = make_class_folders(n_classes=2, per_class=8)
    copy = data / "class_1" / "copy.png"
    copy.write_bytes((data / "class_1" / "000.png").read_bytes())
    config = replace(config, scan=True, bias=True, n_probe_per_class=2, n_jobs=1)

    result = run_audit(data, tmp_path / "run", config)

    store = RunStore.open(result.run_dir)
    assert len(store.read_table("properties")) == 17
    duplicates = store.read_table("duplicates")
    exact = duplicates[duplicates["kind"] == "exact"]
    assert len(exact) == 1
    assert {exact.iloc[0]["relpath_a"], exact.iloc[0]["relpath_b"]} == {
        "class_1/000.png",
        "class_1/copy.png",
    }
    assert len(store.read_table("bias_probe_images")) > 0
    assert (result.run_dir / "augmentations.py").is_file()
    report = result.report_path.read_text(encoding="utf-8")
    assert "Duplicates, split leakage and label conflicts" in report
    assert "Shortcuts and augmentation advice" in report


def _record_decision(run_dir, image_id):
    from beholder.review.app import open_run

    store, records, journal = open_run(run_dir)
    journal.record(
        image_id=image_id,
        action="keep",
        reviewer="tester",
        given_label=records.given_label(image_id),
        relpath=records.relpath(image_id),
    )
    journal.close()
    store.close()


def test_shared_database_keeps_matching_decisions(make_class_folders, tmp_path, config):
    from dataclasses import replace

    data = make_class_folders(n_classes=2, per_class=5)
    config = replace(config, database_url=f"sqlite:///{tmp_path / 'shared.db'}")
    first = run_audit(data, tmp_path / "run", config)
    _record_decision(first.run_dir, 3)

    # The same files get the same image ids, so the decision stays valid.
    second = run_audit(data, tmp_path / "run-again", config)

    images = RunStore.open(second.run_dir, database_url=config.database_url)
    assert len(images.read_table("images")) == 10


def test_shared_database_rejects_renumbered_images(
    make_class_folders, tmp_path, config
):
    from dataclasses import replace

    from beholder.errors import StoreError

    data = make_class_folders(n_classes=2, per_class=5)
    config = replace(config, database_url=f"sqlite:///{tmp_path / 'shared.db'}")
    first = run_audit(data, tmp_path / "run", config)
    _record_decision(first.run_dir, 9)
    images_before = RunStore.open(first.run_dir, database_url=config.database_url)
    relpaths_before = images_before.read_table("images")["relpath"].tolist()
    # Removing the first file shifts every later image id down by one.
    first_file = data / relpaths_before[0]
    first_file.unlink()

    with pytest.raises(StoreError, match="numbers differently"):
        run_audit(data, tmp_path / "run-again", config)

    after = images_before.read_table("images")["relpath"].tolist()
    assert after == relpaths_before
    assert not (tmp_path / "run-again").exists()

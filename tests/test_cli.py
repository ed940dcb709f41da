import os

import pytest
from typer.testing import CliRunner

from beholder.cli import app
from beholder.store import RunStore

runner = CliRunner()


def test_audit_command_prints_summary(make_class_folders, tmp_path, tiny_backbone_file):
    data = make_class_folders(n_classes=2, per_class=6)

    result = runner.invoke(
        app,
        [
            "audit",
            str(data),
            "--out",
            str(tmp_path / "run"),
            "--no-progress",
            "--backbone",
            str(tiny_backbone_file),
            "--folds",
            "3",
            "--no-scan",
            "--no-bias",
        ],
    )

    assert result.exit_code == 0, result.output
    assert "12 images read, 0 files flagged of 12 given" in result.output
    assert "Report:" in result.output
    # The scan is off, so there is no duplicate line.
    assert "Duplicates:" not in result.output


def test_missing_folder_is_one_line_error(tmp_path):
    result = runner.invoke(app, ["audit", str(tmp_path / "nowhere"), "--no-progress"])

    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


def test_empty_folder_is_one_line_error(tmp_path):
    (tmp_path / "empty").mkdir()

    result = runner.invoke(app, ["audit", str(tmp_path / "empty"), "--no-progress"])

    assert result.exit_code == 2
    assert "contains no files" in result.output


def test_demo_writes_digit_folders(tmp_path):
    from beholder.demo import write_digits

    count = write_digits(tmp_path / "digits")

    assert count == 1797
    assert sorted(p.name for p in (tmp_path / "digits").iterdir()) == [
        str(d) for d in range(10)
    ]


@pytest.mark.slow
def test_audit_on_real_scenes(shared_data, tmp_path):
    # Three scene15 classes, 30 training images each, with the default backbone.
    data = tmp_path / "scenes"
    for name in ("Bedroom", "LivingRoom", "Coast"):
        target = data / name
        target.mkdir(parents=True)
        for source in sorted((shared_data / "scene15" / "train" / name).iterdir())[:30]:
            os.symlink(source, target / source.name)

    result = runner.invoke(
        app, ["audit", str(data), "--out", str(tmp_path / "run"), "--no-progress"]
    )

    assert result.exit_code == 0, result.output
    assert "Duplicates: " in result.output
    store = RunStore.open(tmp_path / "run")
    summary = store.read_meta()["summary"]
    assert summary["n_images"] == 90
    assert summary["accuracy"] > 0.8
    top_pair = store.read_table("class_pairs").iloc[0]
    assert {top_pair["class_a"], top_pair["class_b"]} == {"Bedroom", "LivingRoom"}


def test_audit_reads_csv_manifest(make_class_folders, tmp_path, tiny_backbone_file):
    data = make_class_folders(n_classes=2, per_class=6)
    rows = ["file,category"]
    rows += [
        f"{p.relative_to(data).as_posix()},{p.parent.name}"
        for p in sorted(data.rglob("*.png"))
    ]
    rows.append("missing/nothing.png,class_0")
    manifest = data / "labels.csv"
    manifest.write_text("\n".join(rows) + "\n")

    result = runner.invoke(
        app,
        [
            "audit",
            str(manifest),
            "--out",
            str(tmp_path / "run"),
            "--no-progress",
            "--backbone",
            str(tiny_backbone_file),
            "--folds",
            "3",
            "--no-scan",
            "--no-bias",
            "--path-column",
            "file",
            "--label-column",
            "category",
        ],
    )

    assert result.exit_code == 0, result.output
    assert "12 images read, 1 file flagged of 13 given" in result.output
    ledger = RunStore.open(tmp_path / "run").read_table("ledger")
    flagged = ledger[ledger["status"] == "flagged"]
    assert flagged["relpath"].tolist() == ["missing/nothing.png"]


def test_unknown_split_is_one_line_error(make_class_folders, tmp_path):
    data = make_class_folders(n_classes=2, per_class=2)

    result = runner.invoke(
        app, ["audit", str(data), "--split", "holdout", "--no-progress"]
    )

    assert result.exit_code == 2
    assert "holdout" in result.output

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from beholder.ingest import load_dataset
from beholder.properties import PROPERTY_COLUMNS, scan_dataset
from beholder.properties.cli_scan import register_scan_command
from tests.properties.conftest import save, scene


class RecordingProgress:
    def __init__(self):
        self.stages, self.steps = [], {}

    def stage(self, name, total=None):
        self.stages.append((name, total))
        self.steps[name] = 0

    def advance(self, steps=1):
        self.steps[self.stages[-1][0]] += steps


def test_scan_finds_planted_duplicates_and_reports_progress(split_dataset):
    dataset = load_dataset(split_dataset)
    progress = RecordingProgress()
    result = scan_dataset(dataset, n_jobs=1, progress=progress)

    assert list(result.properties.columns) == PROPERTY_COLUMNS
    assert len(result.issues) == dataset.n_images
    assert result.issues["relpath"].tolist() == dataset.images["relpath"].tolist()
    assert result.summary["issue_counts"]["exact_duplicate"] == 3
    assert result.summary["issue_counts"]["split_leakage"] >= 2
    assert result.summary["issue_counts"]["label_conflict"] >= 2
    assert progress.stages == [("scan", dataset.n_images), ("duplicates", 1)]
    assert progress.steps == {"scan": dataset.n_images, "duplicates": 1}


def test_scan_records_undecodable_files(split_dataset):
    (split_dataset / "train" / "dogs" / "empty.jpg").write_bytes(b"")
    dataset = load_dataset(split_dataset)
    result = scan_dataset(dataset, n_jobs=1)
    assert result.failed == {"train/dogs/empty.jpg": "empty file"}
    assert result.summary["n_failed"] == 1


def test_for_dataset_after_flagging_renumbers(split_dataset):
    (split_dataset / "train" / "cats" / "0_broken.jpg").write_bytes(b"\xff\xd8\xff")
    dataset = load_dataset(split_dataset)
    result = scan_dataset(dataset, n_jobs=1)
    flagged = dataset.flag(result.failed, stage="scan")
    aligned = result.for_dataset(flagged)

    assert aligned.issues["relpath"].tolist() == flagged.images["relpath"].tolist()
    assert aligned.properties["image_id"].tolist() == list(range(flagged.n_images))
    relpaths = flagged.images["relpath"].to_numpy()
    for side in ("a", "b"):
        ids = aligned.duplicates[f"image_id_{side}"].to_numpy()
        assert (relpaths[ids] == aligned.duplicates[f"relpath_{side}"].to_numpy()).all()
    assert aligned.failed == {}


def test_write_creates_tables(split_dataset, tmp_path):
    result = scan_dataset(load_dataset(split_dataset), n_jobs=1)
    written = result.write(tmp_path / "out")
    names = {path.name for path in written}
    assert {
        "issues.parquet",
        "duplicates.csv",
        "clusters.parquet",
        "summary.json",
    } <= names
    properties = pd.read_parquet(tmp_path / "out" / "properties.parquet")
    assert properties["relpath"].tolist() == result.issues["relpath"].tolist()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["n_images"] == len(result.issues)


def test_scan_with_worker_processes_matches_serial(split_dataset):
    dataset = load_dataset(split_dataset)
    serial = scan_dataset(dataset, n_jobs=1)
    parallel = scan_dataset(dataset, n_jobs=2)
    assert serial.properties.equals(parallel.properties)
    assert serial.duplicates.equals(parallel.duplicates)


def test_scan_command_writes_output(split_dataset, tmp_path):
    import typer

    app = typer.Typer()
    register_scan_command(app)

    @app.command()
    def other():  # a second command keeps "scan" a subcommand
        pass

    out = tmp_path / "scan-out"
    result = CliRunner().invoke(
        app, ["scan", str(split_dataset), "--out", str(out), "--no-progress", "-j", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "exact duplicate" in result.output
    assert (out / "issues.csv").exists()


def test_scan_command_writes_ledger_and_report(split_dataset, tmp_path):
    import typer

    (split_dataset / "train" / "dogs" / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    (split_dataset / "train" / "dogs" / "notes.txt").write_text("not an image")
    app = typer.Typer()
    register_scan_command(app)

    @app.command()
    def other():
        pass

    out = tmp_path / "scan-out"
    result = CliRunner().invoke(
        app, ["scan", str(split_dataset), "--out", str(out), "--no-progress", "-j", "1"]
    )

    assert result.exit_code == 0, result.output
    # Ingest lists every file; the scan's decode rejects the two non-images.
    n_given = load_dataset(split_dataset).n_images
    assert f"Files given: {n_given}, measured: {n_given - 2}, flagged: 2" in result.output
    ledger = pd.read_csv(out / "ledger.csv").set_index("relpath")
    assert ledger.loc["train/dogs/broken.jpg", "status"] == "flagged"
    assert ledger.loc["train/dogs/broken.jpg", "stage"] == "scan"
    assert ledger.loc["train/dogs/notes.txt", "status"] == "flagged"
    assert (ledger["status"] == "read").sum() == n_given - 2
    files = json.loads((out / "summary.json").read_text())["files"]
    assert files == {"given": n_given, "read": n_given - 2, "flagged": 2}
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<h1>beholder scan: data</h1>" in page
    assert "train/dogs/broken.jpg" in page
    assert "test/dogs/relabelled.png" in page
    assert "label conflict" in page
    assert "data:image/jpeg;base64," in page
    # A scan has no embeddings, so the pair table has no cosine column.
    assert "<th>cosine</th>" not in page


def test_scan_report_share_leaves_out_undecodable(tmp_path):
    from beholder.report import write_scan_report

    root = tmp_path / "data"
    for i in range(2):
        gray = np.repeat(scene(i)[..., :1], 3, axis=2)
        save(root / "cls" / f"gray{i}.png", gray)
    (root / "cls" / "broken.png").write_bytes(b"not an image")
    dataset = load_dataset(root)
    result = scan_dataset(dataset, n_jobs=1)

    page = write_scan_report(result, dataset, tmp_path / "out").read_text()

    assert "<td>images scanned</td><td>2</td>" in page
    assert "<tr><td>grayscale</td><td>2</td>\n<td>100.0%</td>" in page


def test_scan_report_escapes_file_names(tmp_path):
    from beholder.report import write_scan_report

    root = tmp_path / "data"
    save(root / "<b>cls</b>" / "<img src=x>.png", scene(1))
    save(root / "<b>cls</b>" / "copy.png", scene(1))
    dataset = load_dataset(root)
    result = scan_dataset(dataset, n_jobs=1)

    page = write_scan_report(result, dataset, tmp_path / "out").read_text()

    assert "<img src=x>" not in page
    assert "&lt;img src=x&gt;.png" in page
    assert "<b>cls</b>" not in page


def _invoke_scan(*args):
    import typer

    app = typer.Typer()
    register_scan_command(app)

    @app.command()
    def other():
        pass

    return CliRunner().invoke(app, ["scan", *map(str, args), "--no-progress", "-j", "1"])


def test_scan_out_that_is_file_rejected_first(split_dataset, tmp_path):
    out = tmp_path / "taken"
    out.write_text("a file")

    result = _invoke_scan(split_dataset, "--out", out)

    assert result.exit_code == 2
    assert "is a file" in result.output
    assert "Scanned" not in result.output


def test_scan_out_inside_dataset_rejected(split_dataset):
    result = _invoke_scan(split_dataset, "--out", split_dataset / "train" / "out")

    assert result.exit_code == 2
    assert "inside the dataset" in result.output
    assert not (split_dataset / "train" / "out").exists()


def test_scan_out_with_other_files_rejected(split_dataset, tmp_path):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "summary.json").write_text("my own summary")

    result = _invoke_scan(split_dataset, "--out", out)

    assert result.exit_code == 2
    assert "is not a scan folder" in result.output
    assert (out / "summary.json").read_text() == "my own summary"


def test_scan_into_earlier_scan_folder(split_dataset, tmp_path):
    out = tmp_path / "scan"
    assert _invoke_scan(split_dataset, "--out", out).exit_code == 0

    result = _invoke_scan(split_dataset, "--out", out)

    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["beholder_version"]


def test_scan_into_linked_folder_writes_target(split_dataset, tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)

    result = _invoke_scan(split_dataset, "--out", link)

    assert result.exit_code == 0, result.output
    assert link.is_symlink()
    assert (target / "report.html").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_interrupted_write_keeps_earlier_scan(split_dataset, tmp_path, monkeypatch):
    import beholder.report.scan_report as scan_report

    out = tmp_path / "scan"
    assert _invoke_scan(split_dataset, "--out", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(scan_report, "write_scan_report", interrupt)
    (split_dataset / "train" / "cats" / "extra.jpg").write_bytes(b"not a jpeg")
    result = _invoke_scan(split_dataset, "--out", out)

    assert result.exit_code != 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_scan_command_reports_missing_folder(tmp_path):
    import typer

    app = typer.Typer()
    register_scan_command(app)

    @app.command()
    def other():
        pass

    result = CliRunner().invoke(app, ["scan", str(tmp_path / "nope"), "--no-progress"])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_with_duplicates_adds_embedding_pairs(split_dataset):
    from beholder.properties import find_duplicates

    dataset = load_dataset(split_dataset)
    scan = scan_dataset(dataset, n_jobs=1)
    vectors = np.eye(dataset.n_images, dataset.n_images + 1)
    first, second = 0, 1  # two unrelated photos made identical in embedding space
    vectors[second] = vectors[first]
    duplicates = find_duplicates(dataset, scan.properties, embeddings=vectors, n_jobs=1)
    updated = scan.with_duplicates(duplicates)

    assert len(updated.duplicates) == len(scan.duplicates) + 1
    assert updated.issues.loc[second, "is_near_duplicate"]
    assert not scan.issues.loc[second, "is_near_duplicate"]
    expected = int(updated.issues["is_near_duplicate"].sum())
    assert updated.summary["issue_counts"]["near_duplicate"] == expected


def test_scan_rejects_misshapen_embeddings_before_measuring(split_dataset):
    dataset = load_dataset(split_dataset)
    progress = RecordingProgress()
    with pytest.raises(ValueError, match="embeddings must have shape"):
        scan_dataset(dataset, n_jobs=1, embeddings=np.ones((2, 3)), progress=progress)
    assert progress.stages == []


def test_scan_with_no_checks_has_only_duplicate_columns(split_dataset):
    result = scan_dataset(load_dataset(split_dataset), n_jobs=1, checks=[])
    assert "is_dark" not in result.issues
    assert "is_exact_duplicate" in result.issues


def test_scan_of_one_image(tmp_path):
    from tests.properties.conftest import save, scene

    save(tmp_path / "data" / "only" / "a.png", scene(1))
    result = scan_dataset(load_dataset(tmp_path / "data"), n_jobs=1)
    assert len(result.issues) == 1
    assert result.duplicates.empty
    assert result.issues.loc[0, "duplicate_cluster"] == -1


def test_scan_when_no_image_decodes(tmp_path):
    for name in ("a.jpg", "b.png"):
        path = tmp_path / "data" / "cls" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not an image")
    result = scan_dataset(load_dataset(tmp_path / "data"), n_jobs=1)
    assert len(result.failed) == 2
    assert result.duplicates.empty
    assert not result.issues["is_dark"].any()

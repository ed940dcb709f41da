"""Export of the reviewed dataset: manifest, class tree, journal."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from beholder.cli import app as cli_app
from beholder.errors import StoreError
from beholder.review.app import open_run
from beholder.review.export import ExportError, export_run

from .conftest import NASTY_LABEL


def snapshot(folder: Path) -> dict:
    """Map every path under ``folder`` to its bytes' hash or its link target."""
    found = {}
    for path in sorted(folder.rglob("*")):
        relative = str(path.relative_to(folder))
        if relative.startswith(".") or "/." in relative:
            continue
        if path.is_symlink():
            found[relative] = "link:" + os.readlink(path)
        elif path.is_file():
            found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def review(run_dir, decisions, database_url=None):
    """Write ``(image_id, action, label)`` decisions through the journal."""
    store, records, journal = open_run(run_dir, database_url=database_url)
    try:
        for image_id, action, label in decisions:
            journal.record(
                image_id=image_id,
                action=action,
                reviewer="ana",
                given_label=records.given_label(image_id),
                new_label=label,
                relpath=records.relpath(image_id),
            )
    finally:
        journal.close()
        store.close()
    return records


def other_class(records, image_id):
    given = records.given_label(image_id)
    return next(name for name in records.classes if name != given)


def test_export_applies_decisions(run_dir, tmp_path, database_url):
    store, records, journal = open_run(run_dir, database_url=database_url)
    journal.close()
    store.close()
    new_label = other_class(records, 1)
    review(
        run_dir,
        [(0, "remove", None), (1, "relabel", new_label), (2, "ambiguous", None),
         (3, "keep", None)],
        database_url,
    )  # fmt: skip

    result = export_run(run_dir, tmp_path / "out", database_url=database_url)

    manifest = pd.read_csv(tmp_path / "out" / "manifest.csv").set_index("image_id")
    assert result.n_images == records.n_images - 1
    assert result.n_removed == 1
    assert 0 not in manifest.index
    assert manifest.at[1, "label"] == new_label
    assert manifest.at[1, "original_label"] == records.given_label(1)
    assert manifest.at[1, "action"] == "relabel"
    assert manifest.at[2, "action"] == "ambiguous"
    assert manifest.at[3, "action"] == "keep"
    assert manifest.at[4, "action"] == "unreviewed"
    assert manifest.at[4, "label"] == records.given_label(4)
    parquet = pd.read_parquet(tmp_path / "out" / "manifest.parquet")
    assert parquet["image_id"].tolist() == manifest.index.tolist()
    removed = pd.read_csv(tmp_path / "out" / "removed.csv")
    assert removed["image_id"].tolist() == [0]
    journal_csv = pd.read_csv(tmp_path / "out" / "journal.csv")
    assert journal_csv["action"].tolist() == ["remove", "relabel", "ambiguous", "keep"]
    link = tmp_path / "out" / manifest.at[1, "export_path"]
    assert link.parent.name == new_label
    assert link.is_symlink()
    assert Path(os.readlink(link)) == Path(records.image_path(1))
    assert link.read_bytes() == records.image_path(1).read_bytes()
    tree = [p for p in (tmp_path / "out" / "images").rglob("*") if p.is_symlink()]
    assert len(tree) == records.n_images - 1


def test_export_is_byte_identical_on_rerun(run_dir, tmp_path):
    review(run_dir, [(0, "remove", None), (5, "keep", None)])

    export_run(run_dir, tmp_path / "out")
    first = snapshot(tmp_path / "out")
    export_run(run_dir, tmp_path / "out")
    second = snapshot(tmp_path / "out")

    assert first == second
    assert "manifest.parquet" in first
    assert "export.json" in first


def test_reexport_replaces_old_tree(run_dir, tmp_path):
    records = review(run_dir, [(1, "keep", None)])
    export_run(run_dir, tmp_path / "out")
    stale = tmp_path / "out" / "images" / "stale.txt"
    stale.write_text("left over")
    new_label = other_class(records, 1)

    review(run_dir, [(1, "relabel", new_label), (2, "remove", None)])
    export_run(run_dir, tmp_path / "out")

    manifest = pd.read_csv(tmp_path / "out" / "manifest.csv").set_index("image_id")
    links = {
        p.name: p for p in (tmp_path / "out" / "images").rglob("*") if p.is_symlink()
    }
    name_1 = Path(manifest.at[1, "export_path"]).name
    assert links[name_1].parent.name == new_label
    assert not stale.exists()
    assert 2 not in manifest.index
    assert len(links) == records.n_images - 1
    leftovers = [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
    assert leftovers == [".export.lock"]


def test_copies_mode_copies_bytes(run_dir, tmp_path):
    records = review(run_dir, [])

    export_run(run_dir, tmp_path / "out", mode="copies")

    manifest = pd.read_csv(tmp_path / "out" / "manifest.csv")
    for image_id, export_path in zip(manifest["image_id"], manifest["export_path"]):
        copy = tmp_path / "out" / export_path
        assert copy.is_file()
        assert not copy.is_symlink()
        assert copy.read_bytes() == records.image_path(image_id).read_bytes()


def test_export_refuses_foreign_folder(run_dir, tmp_path):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"not ours")

    with pytest.raises(ExportError, match="not empty"):
        export_run(run_dir, foreign)
    with pytest.raises(ValueError, match="mode"):
        export_run(run_dir, tmp_path / "out", mode="zip")

    assert (foreign / "holiday.jpg").read_bytes() == b"not ours"
    assert sorted(p.name for p in foreign.iterdir()) == ["holiday.jpg"]


def test_export_keeps_odd_labels_inside_tree(nasty_run_dir, tmp_path):
    records = review(nasty_run_dir, [(0, "relabel", NASTY_LABEL)])

    export_run(nasty_run_dir, tmp_path / "out")

    out = (tmp_path / "out").resolve()
    manifest = pd.read_csv(tmp_path / "out" / "manifest.csv", keep_default_na=False)
    for export_path in manifest["export_path"]:
        target = (out / export_path).parent.resolve()
        assert target.is_relative_to(out / "images")
    folders = {p.name for p in (out / "images").glob("*/*") if p.is_dir()}
    assert '<script>alert("label")<_script>' in folders
    assert 'eight "8"' in folders
    assert set(manifest["split"]) <= {"train", "val"}
    assert manifest.loc[manifest["image_id"] == 0, "label"].item() == NASTY_LABEL
    assert len(manifest) == records.n_images


def move_journal_rows(run_dir, image_id, relpath):
    """Rewrite the relpath of an image's journal rows, as another audit would see it."""
    store, _, journal = open_run(run_dir)
    with store.engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE review_journal SET relpath = ? WHERE image_id = ?",
            (relpath, image_id),
        )
    journal.close()
    store.close()


def test_export_rejects_journal_of_other_audit(run_dir, tmp_path):
    review(run_dir, [(1, "keep", None)])
    move_journal_rows(run_dir, 1, "elsewhere/1.png")

    with pytest.raises(StoreError, match="audited again"):
        export_run(run_dir, tmp_path / "out")


def test_export_command(run_dir, tmp_path):
    review(run_dir, [(0, "remove", None)])
    runner = CliRunner()

    result = runner.invoke(
        cli_app, ["export", str(run_dir), "--out", str(tmp_path / "o")]
    )
    rejected = runner.invoke(cli_app, ["export", str(run_dir), "--out", str(run_dir)])
    bad_mode = runner.invoke(cli_app, ["export", str(run_dir), "--mode", "zip"])

    assert result.exit_code == 0, result.output
    assert "1 removed" in result.output
    assert (tmp_path / "o" / "journal.csv").is_file()
    assert rejected.exit_code == 2
    assert "not empty" in rejected.output
    assert bad_mode.exit_code == 2
    assert "--mode" in bad_mode.output


def test_app_rejects_journal_of_other_audit(run_dir):
    review(run_dir, [(2, "blind", None)])
    move_journal_rows(run_dir, 2, "moved/2.png")

    with pytest.raises(StoreError, match="is now"):
        open_run(run_dir)

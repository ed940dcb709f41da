"""Export the reviewed dataset: manifest, folder-per-class tree and journal.

``export_run`` writes into ``OUT`` (default ``RUN_DIR/export``)::

    manifest.csv, manifest.parquet   images left after review: image_id, path,
                                     relpath, label (after decisions), split,
                                     original_label, action, decision_id,
                                     export_path
    removed.csv                      images a decision removed
    journal.csv                      every journal row, oldest first
    export.json                      counts and the journal's last row id
    images/[SPLIT/]LABEL/NAME        a link to (or copy of) each image left

An exported image's NAME is its relative path with ``/`` replaced by
``__``, so names stay unique and show where a file came from. An export
contains no timestamps and is ordered by image id, so exporting the same
journal twice gives the same bytes, and a new export replaces the old files
and tree of ``OUT`` instead of adding to them.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from beholder.errors import BeholderError
from beholder.review.journal import COLUMNS, Journal, JournalState, row_to_json
from beholder.review.records import ReviewRecords

logger = logging.getLogger(__name__)

MODES = ("links", "copies")
MARKER = "export.json"
TREE = "images"
FILES = ("manifest.csv", "manifest.parquet", "removed.csv", "journal.csv", MARKER)
UNREVIEWED = "unreviewed"


class ExportError(BeholderError, RuntimeError):
    """The export folder cannot be written as requested."""


@dataclass
class ExportResult:
    """Location and contents of one export."""

    out_dir: Path
    n_images: int
    n_removed: int
    counts: dict = field(default_factory=dict)
    last_decision_id: int = 0

    def as_dict(self) -> dict:
        return {
            "out_dir": str(self.out_dir),
            "n_images": self.n_images,
            "n_removed": self.n_removed,
            "counts": self.counts,
            "last_decision_id": self.last_decision_id,
        }


def export_run(
    run_dir: str | Path,
    out: str | Path | None = None,
    *,
    mode: str = "links",
    database_url: str | None = None,
) -> ExportResult:
    """Export run ``run_dir`` after its review decisions; see the module docstring."""
    from beholder.review.app import open_run

    store, records, journal = open_run(run_dir, database_url=database_url)
    try:
        out = Path(out) if out is not None else store.run_dir / "export"
        return export_reviewed(records, journal, out, mode=mode)
    finally:
        journal.close()
        store.close()


def export_reviewed(
    records: ReviewRecords, journal: Journal, out: Path, *, mode: str = "links"
) -> ExportResult:
    """Write the export of ``records`` after the decisions in ``journal`` to ``out``.

    Raises
    ------
    ValueError
        For a mode other than ``links`` or ``copies``.
    ExportError
        When ``out`` contains files that are not an earlier export, or an image
        to copy is missing.
    StoreError
        When the journal was written against another audit of the folder.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    out = Path(out).expanduser().resolve()
    _check_out_dir(out)
    rows = journal.rows()
    state = JournalState.from_rows(rows)
    records.check_journal(rows)

    manifest, removed = build_manifest(records, state)
    counts = manifest["action"].value_counts().sort_index().to_dict()
    counts["remove"] = len(removed)
    result = ExportResult(
        out_dir=out,
        n_images=len(manifest),
        n_removed=len(removed),
        counts={key: int(value) for key, value in sorted(counts.items())},
        last_decision_id=state.last_decision_id,
    )

    out.mkdir(parents=True, exist_ok=True)
    with _export_lock(out):
        _write_export(records, rows, manifest, removed, result, out, mode=mode)
    logger.info(
        "exported %d images (%d removed) to %s", result.n_images, result.n_removed, out
    )
    return result


def _write_export(records, rows, manifest, removed, result, out, *, mode) -> None:
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".staging-"))
    try:
        _write_tree(manifest, staging / TREE, mode=mode)
        _write_csv(manifest, staging / "manifest.csv")
        manifest.to_parquet(staging / "manifest.parquet", index=False)
        _write_csv(removed, staging / "removed.csv")
        _write_csv(journal_frame(rows), staging / "journal.csv")
        summary = {**result.as_dict(), "mode": mode, "run_dir": str(records.run_dir)}
        summary.pop("out_dir")
        text = json.dumps(summary, indent=2, sort_keys=True) + "\n"
        (staging / MARKER).write_text(text, encoding="utf-8")
        _swap_in(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def _export_lock(out: Path):
    """Hold an exclusive lock on ``out`` so two exports never interleave."""
    with open(out / ".export.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_manifest(
    records: ReviewRecords, state: JournalState
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the cleaned manifest and the removed images, both by image id."""
    images = records.images
    decisions = state.decisions
    actions, labels, decision_ids = [], [], []
    for image_id, given in zip(images["image_id"], images["label"]):
        decision = decisions.get(int(image_id))
        if decision is None:
            actions.append(UNREVIEWED)
            labels.append(str(given))
            decision_ids.append(None)
        else:
            actions.append(decision["action"])
            labels.append(str(decision["new_label"]))
            decision_ids.append(decision["decision_id"])
    frame = pd.DataFrame(
        {
            "image_id": images["image_id"].astype("int64").to_numpy(),
            "path": images["path"].astype(str).to_numpy(),
            "relpath": images["relpath"].astype(str).to_numpy(),
            "label": labels,
            "split": [None if _missing(s) else str(s) for s in images["split"]],
            "original_label": images["label"].astype(str).to_numpy(),
            "action": actions,
            "decision_id": pd.array(decision_ids, dtype="Int64"),
        }
    )
    is_removed = frame["action"] == "remove"
    removed = frame[is_removed].drop(columns=["label", "action"]).reset_index(drop=True)
    manifest = frame[~is_removed].reset_index(drop=True)
    manifest["export_path"] = _export_paths(manifest)
    return manifest, removed


def journal_frame(rows: list[dict]) -> pd.DataFrame:
    """Return journal rows as a DataFrame with the table's columns, oldest first."""
    plain = [row_to_json(row) for row in rows]
    frame = pd.DataFrame(plain, columns=list(COLUMNS))
    for name in ("decision_id", "image_id", "undoes"):
        frame[name] = pd.array(frame[name].tolist(), dtype="Int64")
    return frame


def _export_paths(manifest: pd.DataFrame) -> list[str]:
    label_dirs = _unique_folder_names(sorted(set(manifest["label"])))
    has_splits = manifest["split"].notna().any()
    split_dirs = {}
    if has_splits:
        splits = sorted({s for s in manifest["split"] if s is not None})
        split_dirs = _unique_folder_names(splits)
    paths = []
    for relpath, label, split in zip(
        manifest["relpath"], manifest["label"], manifest["split"]
    ):
        name = _safe_name(relpath.replace("/", "__"))
        parts = [label_dirs[label], name]
        if has_splits:
            parts.insert(0, split_dirs[split] if split is not None else "unsplit")
        paths.append("/".join([TREE] + parts))
    return paths


def _unique_folder_names(names: list[str]) -> dict[str, str]:
    """Map each name to a safe folder name; names that collide get a suffix."""
    folders: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        folder = _safe_name(name)
        candidate, number = folder, 2
        while candidate.lower() in taken:
            candidate = f"{folder}_{number}"
            number += 1
        taken.add(candidate.lower())
        folders[name] = candidate
    return folders


def _safe_name(name: str) -> str:
    """Return ``name`` as one path component that cannot leave its folder."""
    cleaned = "".join("_" if c in "/\\\0" or ord(c) < 32 else c for c in name)
    cleaned = cleaned.strip()
    if cleaned in ("", ".", ".."):
        cleaned = cleaned.replace(".", "_") or "_"
    return cleaned[:200]


def _write_tree(manifest: pd.DataFrame, root: Path, *, mode: str) -> None:
    root.mkdir(parents=True)
    missing = []
    for path, export_path in zip(manifest["path"], manifest["export_path"]):
        target = root.parent / export_path
        target.parent.mkdir(parents=True, exist_ok=True)
        source = Path(path)
        if mode == "links":
            os.symlink(source, target)
            continue
        try:
            shutil.copyfile(source, target)
        except FileNotFoundError:
            missing.append(str(source))
    if missing:
        raise ExportError(
            f"{len(missing)} images to copy are missing, first {missing[0]}; "
            "export with --mode links, or restore the dataset folder."
        )


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def _swap_in(staging: Path, out: Path) -> None:
    """Move the staged files and tree into ``out``, replacing older ones."""
    for name in FILES:
        os.replace(staging / name, out / name)
    old_tree = out / TREE
    retired = None
    if old_tree.exists() or old_tree.is_symlink():
        retired = Path(tempfile.mkdtemp(dir=out, prefix=".retired-")) / TREE
        os.replace(old_tree, retired)
    os.replace(staging / TREE, old_tree)
    if retired is not None:
        shutil.rmtree(retired.parent)


def _check_out_dir(out: Path) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise ExportError(f"export folder {out} is a file; choose another --out.")
    entries = [entry for entry in out.iterdir() if not entry.name.startswith(".")]
    if entries and not (out / MARKER).is_file():
        raise ExportError(
            f"export folder {out} is not empty and contains no earlier export "
            f"({MARKER}); choose an empty or new --out, so no other files are replaced."
        )


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False

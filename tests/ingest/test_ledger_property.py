"""Property: for any tree of good and bad files, every file is read or flagged.

The test runs the audit's first steps (load, decode every image with
``open_rgb``, ``Dataset.flag`` the failures) on random trees and checks the
ledger against the files that are on disk.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beholder.errors import DatasetError
from beholder.ingest import load_dataset

CLASS_NAMES = ["1", "10", "2", "cat", "caf\u00e9", 'it\'s "q"', "two words", "\u732b"]
SPLITS = ["train", "valid", "test"]

# kind -> (suffix, readable by ingest, decodes)
KINDS = {
    "png": (".png", True, True),
    "jpeg": (".jpg", True, True),
    "gif_named_jpg": (".jpg", True, True),
    "empty": (".jpg", True, False),
    "truncated": (".jpg", True, False),
    "text": (".png", True, False),
    "random": (".jpeg", True, False),
    "hidden": (".png", False, True),
    "thumbs": ("", False, False),
    "macosx": (".png", False, True),
    "at_root": (".png", False, True),
}

entries = st.lists(
    st.tuples(st.sampled_from(CLASS_NAMES), st.sampled_from(sorted(KINDS))),
    min_size=0,
    max_size=10,
)


def _write(files, root: Path, index: int, label: str, kind: str, split):
    suffix = KINDS[kind][0]
    base = root / split if split else root
    name = f"f{index} \u00e9{suffix}"
    if kind == "hidden":
        return files.image(base / label / f".{name}")
    if kind == "thumbs":
        path = base / label / "Thumbs.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\xd0\xcf")
        return path
    if kind == "macosx":
        return files.image(root / "__MACOSX" / label / name)
    if kind == "at_root":
        return files.image(root / name)
    if kind in ("png", "jpeg"):
        return files.image(base / label / name, fmt=kind.upper(), seed=index)
    if kind == "gif_named_jpg":
        return files.image(base / label / name, fmt="GIF")
    return files.bad(base / label / name, kind)


def _files_on_disk(root: Path) -> set[str]:
    found = set()
    for folder, _, names in os.walk(root):
        for name in names:
            found.add((Path(folder) / name).relative_to(root).as_posix())
    return found


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    # files and decode_all are stateless helpers, safe to share between examples.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(entries=entries, use_splits=st.booleans(), split_index=st.integers(0, 2))
def test_every_file_read_or_flagged(
    files, decode_all, entries, use_splits, split_index
):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        split = SPLITS[split_index] if use_splits else None
        ingest_reads, expected_labels = set(), {}
        for index, (label, kind) in enumerate(entries):
            path = _write(files, root, index, label, kind, split)
            relpath = path.relative_to(root).as_posix()
            _, reads, decodes = KINDS[kind]
            if reads:
                ingest_reads.add(relpath)
            if reads and decodes:
                expected_labels[relpath] = label
        on_disk = _files_on_disk(root)

        try:
            dataset = load_dataset(root)
        except DatasetError:
            # Only a tree with nothing that ingest can read may be rejected.
            assert not ingest_reads
            return
        assert ingest_reads

        checked = dataset.flag(decode_all(dataset), stage="decode")
        ledger = checked.ledger
        summary = checked.ledger_summary()

        assert set(ledger["relpath"]) == on_disk
        assert len(ledger) == len(on_disk)
        assert summary["given"] == summary["read"] + summary["flagged"]
        assert set(checked.images["relpath"]) == set(expected_labels)
        flagged = ledger[ledger["status"] == "flagged"]
        assert all(isinstance(r, str) and r.strip() for r in flagged["reason"])
        assert set(flagged["stage"]) <= {"ingest", "decode"}
        labels = dict(zip(checked.images["relpath"], checked.images["label"]))
        assert labels == expected_labels
        assert checked.classes == sorted(set(expected_labels.values()))
        assert all(isinstance(name, str) for name in checked.classes)

"""Tests for the split-list layout (Images/ with TrainImages.txt, TestImages.txt)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from beholder.errors import DatasetError
from beholder.ingest import load_dataset
from beholder.ingest.splitlists import load_split_lists

INDOOR67 = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "indoor67-splits"
)


def _rows(dataset) -> dict[str, dict]:
    return {row["relpath"]: row for row in dataset.ledger.to_dict("records")}


def _indoor_like(root: Path, files) -> Path:
    for relpath in [
        "kitchen/k1.jpg",
        "kitchen/k 2.jpg",
        "bar/b1.jpg",
        "bar/b2.jpg",
        "bar/unlisted.jpg",
        "mall/shopping mall.jpg",
    ]:
        files.image(root / "Images" / relpath, fmt="JPEG")
    (root / "TrainImages.txt").write_text(
        "kitchen/k1.jpg\nbar/b1.jpg\nmall/shopping mall.jpg\n"
    )
    # No newline after the last line, as in the published Indoor-67 lists.
    (root / "TestImages.txt").write_text("kitchen/k 2.jpg\nbar/b2.jpg")
    return root


def test_indoor_layout(tmp_path, files):
    root = _indoor_like(tmp_path, files)
    dataset = load_dataset(root)
    assert dataset.layout == "split-lists"
    assert dataset.classes == ["bar", "kitchen", "mall"]
    images = dataset.images.set_index("relpath")
    assert images.loc["Images/kitchen/k 2.jpg", "split"] == "test"
    assert images.loc["Images/mall/shopping mall.jpg", "split"] == "train"
    assert images.loc["Images/bar/b1.jpg", "label"] == "bar"
    assert dataset.n_images == 5
    assert dataset.splits == ["test", "train"]
    assert (
        "split lists: TrainImages.txt (3 entries, split 'train'), "
        "TestImages.txt (2 entries, split 'test')"
    ) in dataset.notes


def test_unlisted_file_accounted(tmp_path, files):
    dataset = load_dataset(_indoor_like(tmp_path, files))
    row = _rows(dataset)["Images/bar/unlisted.jpg"]
    assert row["status"] == "flagged"
    assert row["reason"] == "not in any split list: TestImages.txt, TrainImages.txt"
    assert row["label"] == "bar"
    assert pd.isna(row["split"])
    summary = dataset.ledger_summary()
    assert summary["given"] == 6
    assert summary["given"] == summary["read"] + summary["flagged"]
    assert "1 file under the root is in no split list" in dataset.notes


def test_lists_not_in_ledger(tmp_path, files):
    dataset = load_dataset(_indoor_like(tmp_path, files))
    assert "TrainImages.txt" not in set(dataset.ledger["relpath"])


def test_missing_and_repeated_entries(tmp_path, files):
    files.image(tmp_path / "Images" / "cat" / "a.jpg", fmt="JPEG")
    files.image(tmp_path / "Images" / "cat" / "b.jpg", fmt="JPEG")
    (tmp_path / "TrainImages.txt").write_text(
        "cat/a.jpg\n"  # line 1
        "cat/missing.jpg\n"  # line 2
        "\n"  # line 3, blank
        "cat/a.jpg\n"  # line 4
        "loose.jpg\n"  # line 5
        "cat/b.jpg\n"  # line 6
    )
    (tmp_path / "TestImages.txt").write_text("cat/b.jpg\r\n")

    dataset = load_split_lists(tmp_path)
    by_line = {row["listed_at"]: row for row in dataset.ledger.to_dict("records")}
    assert by_line["TrainImages.txt:2"]["reason"] == "file not found"
    assert by_line["TrainImages.txt:2"]["relpath"] == "Images/cat/missing.jpg"
    assert by_line["TrainImages.txt:4"]["reason"] == (
        "listed twice in TrainImages.txt: first on line 1"
    )
    assert by_line["TrainImages.txt:5"]["reason"].startswith(
        "file not found; no class folder"
    )
    assert by_line["TestImages.txt:1"]["reason"] == (
        "listed in two splits: first in TrainImages.txt line 6; an image can "
        "belong to one split only"
    )
    assert "TrainImages.txt:3" not in by_line
    assert dataset.images["relpath"].tolist() == [
        "Images/cat/a.jpg",
        "Images/cat/b.jpg",
    ]
    assert "TrainImages.txt: 3 entries flagged, on lines 2, 4, 5" in dataset.notes


def test_absolute_and_climbing_entries(tmp_path, files):
    files.image(tmp_path / "Images" / "cat" / "a.png")
    files.image(tmp_path / "Images" / "dog" / "b.png")
    outside = files.image(tmp_path / "elsewhere" / "c.png")
    (tmp_path / "TrainImages.txt").write_text(
        f"cat/a.png\ncat/../dog/b.png\n{outside}\n"
    )
    dataset = load_dataset(tmp_path)
    by_line = {row["listed_at"]: row for row in dataset.ledger.to_dict("records")}
    assert by_line["TrainImages.txt:2"]["reason"] == (
        "path contains '..': list CLASS/FILE relative to Images/"
    )
    assert by_line["TrainImages.txt:3"]["reason"] == (
        "absolute path: list paths relative to Images/"
    )
    assert dataset.images["relpath"].tolist() == ["Images/cat/a.png"]


def test_files_outside_images_and_hidden(tmp_path, files):
    root = _indoor_like(tmp_path, files)
    (root / "README").write_text("Indoor scenes")
    (root / "Images" / "bar" / ".DS_Store").write_bytes(b"x")
    rows = _rows(load_dataset(root))
    assert rows["README"]["reason"] == "outside Images/ and not a split list"
    assert rows["Images/bar/.DS_Store"]["reason"] == "hidden or system file"


def test_class_folder_without_listed_images(tmp_path, files):
    root = _indoor_like(tmp_path, files)
    files.image(root / "Images" / "zoo" / "z.jpg", fmt="JPEG")
    (root / "Images" / "empty").mkdir()
    dataset = load_dataset(root)
    assert dataset.declared_classes == ["bar", "empty", "kitchen", "mall", "zoo"]
    assert "class 'zoo' has no usable image (1 file flagged)" in dataset.notes
    assert "class 'empty' has no usable image (0 files flagged)" in dataset.notes


def test_lowercase_names_and_val_list(tmp_path, files):
    files.image(tmp_path / "images" / "cat" / "a.png")
    files.image(tmp_path / "images" / "cat" / "b.png")
    (tmp_path / "train.txt").write_text("cat/a.png\n")
    (tmp_path / "val_list.txt").write_text("images/cat/b.png\n")
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "split-lists"
    assert dict(zip(dataset.images["relpath"], dataset.images["split"])) == {
        "images/cat/a.png": "train",
        "images/cat/b.png": "val",
    }


def test_split_filter_keeps_unlisted_rows(tmp_path, files):
    dataset = load_dataset(_indoor_like(tmp_path, files), split="Test")
    assert set(dataset.images["split"]) == {"test"}
    assert dataset.n_images == 2
    assert "Images/bar/unlisted.jpg" in set(dataset.ledger["relpath"])
    assert "Images/bar/b1.jpg" not in set(dataset.ledger["relpath"])


def test_list_not_utf8_rejected(tmp_path, files):
    files.image(tmp_path / "Images" / "cat" / "a.png")
    (tmp_path / "TrainImages.txt").write_bytes(
        "cat/\u00e9t\u00e9.png\n".encode("latin-1")
    )
    with pytest.raises(DatasetError, match="TrainImages.txt is not valid UTF-8"):
        load_dataset(tmp_path)


def test_split_list_file_given_directly(tmp_path, files):
    root = _indoor_like(tmp_path, files)
    with pytest.raises(DatasetError, match="Give the folder that contains it"):
        load_dataset(root / "TrainImages.txt")


def test_not_split_list_layout_rejected(tmp_path, files):
    files.image(tmp_path / "cat" / "a.png")
    with pytest.raises(DatasetError, match="not in the split-list layout"):
        load_dataset(tmp_path, layout="split-lists")


@pytest.mark.skipif(not INDOOR67.is_dir(), reason=f"{INDOOR67} is absent")
def test_real_indoor67_lists(tmp_path, files):
    for name in ["TrainImages.txt", "TestImages.txt"]:
        shutil.copy(INDOOR67 / name, tmp_path / name)
    train = (INDOOR67 / "TrainImages.txt").read_text().split("\n")
    test = (INDOOR67 / "TestImages.txt").read_text().split("\n")
    # Create the files for a few entries, among them names with spaces.
    chosen = train[:5] + [line for line in train if " " in line] + test[:3]
    for relpath in chosen:
        files.image(tmp_path / "Images" / relpath, fmt="JPEG", size=(4, 4))

    dataset = load_dataset(tmp_path)
    summary = dataset.ledger_summary()
    assert len(train) == 5360
    assert len(test) == 1340
    assert summary["given"] == 5360 + 1340
    assert summary["read"] == len(set(chosen))
    assert summary["flagged_by_reason"] == {"file not found": 6700 - len(set(chosen))}
    assert "Images/mall/shopping mall.jpg" in set(dataset.images["relpath"])
    assert len(dataset.declared_classes) == 67

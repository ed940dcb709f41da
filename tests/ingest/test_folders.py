"""Tests for class-folder and split-folder datasets, including hostile trees."""

from __future__ import annotations

import os
import sys
import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from beholder.errors import DatasetError
from beholder.ingest import load_dataset
from beholder.ingest.folders import load_folders


def _rows(dataset) -> dict[str, dict]:
    return {row["relpath"]: row for row in dataset.ledger.to_dict("records")}


def _assert_accounted(dataset):
    summary = dataset.ledger_summary()
    assert summary["given"] == summary["read"] + summary["flagged"]
    flagged = dataset.ledger[dataset.ledger["status"] == "flagged"]
    assert flagged["reason"].map(lambda r: isinstance(r, str) and len(r) > 3).all()
    read = set(dataset.ledger.loc[dataset.ledger["status"] == "read", "relpath"])
    assert read == set(dataset.images["relpath"])


def test_class_folders(tmp_path, files):
    files.image(tmp_path / "cat" / "a.png")
    files.image(tmp_path / "cat" / "b.jpg", fmt="JPEG")
    files.image(tmp_path / "dog" / "c.png")
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "folders"
    assert dataset.classes == ["cat", "dog"]
    assert dataset.images["relpath"].tolist() == ["cat/a.png", "cat/b.jpg", "dog/c.png"]
    assert dataset.images["split"].isna().all()
    assert dataset.labels.tolist() == [0, 0, 1]
    assert dataset.ledger_summary()["flagged"] == 0
    _assert_accounted(dataset)


@pytest.mark.parametrize("val_name", ["val", "valid", "validation", "Validation"])
def test_split_folders(tmp_path, files, val_name):
    for split in ["train", val_name, "test"]:
        files.image(tmp_path / split / "cat" / "a.png")
        files.image(tmp_path / split / "dog" / "b.png")
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "split-folders"
    assert dataset.classes == ["cat", "dog"]
    assert sorted(dataset.images["split"].unique()) == sorted(
        ["train", val_name, "test"]
    )
    assert dataset.n_images == 6
    _assert_accounted(dataset)


def test_numeric_class_names_stay_strings(tmp_path, files):
    for name in ["1", "2", "10", "01"]:
        files.image(tmp_path / name / "x.png")
    dataset = load_dataset(tmp_path)
    assert dataset.classes == ["01", "1", "10", "2"]
    assert all(isinstance(label, str) for label in dataset.images["label"])
    assert dataset.class_index == {"01": 0, "1": 1, "10": 2, "2": 3}
    by_path = dict(zip(dataset.images["relpath"], dataset.labels))
    assert by_path["10/x.png"] == 2
    assert by_path["01/x.png"] == 0


def test_hidden_and_system_entries_never_classes(tmp_path, files):
    files.image(tmp_path / "cat" / "a.png")
    files.image(tmp_path / "dog" / "b.png")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (tmp_path / "cat" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (tmp_path / "dog" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    files.image(tmp_path / ".ipynb_checkpoints" / "a-checkpoint.png")
    files.image(tmp_path / "__MACOSX" / "cat" / "._a.png")
    files.image(tmp_path / "cat" / ".ipynb_checkpoints" / "x.png")

    dataset = load_dataset(tmp_path)
    rows = _rows(dataset)
    assert dataset.classes == ["cat", "dog"]
    assert dataset.declared_classes == ["cat", "dog"]
    assert dataset.n_images == 2
    assert rows[".DS_Store"]["reason"] == "hidden or system file"
    assert rows["cat/.DS_Store"]["reason"] == "hidden or system file"
    assert rows["dog/Thumbs.db"]["reason"] == "hidden or system file"
    assert rows["__MACOSX/cat/._a.png"]["reason"] == "inside a hidden or system folder"
    assert pd.isna(rows["__MACOSX/cat/._a.png"]["label"])
    assert pd.isna(rows[".ipynb_checkpoints/a-checkpoint.png"]["label"])
    assert rows["cat/.ipynb_checkpoints/x.png"]["reason"] == (
        "inside a hidden or system folder"
    )
    assert len(dataset.ledger) == 8
    _assert_accounted(dataset)


def test_hidden_folders_do_not_make_splits_ambiguous(tmp_path, files):
    files.image(tmp_path / "train" / "cat" / "a.png")
    files.image(tmp_path / "test" / "cat" / "b.png")
    files.image(tmp_path / "__MACOSX" / "train" / "cat" / "._a.png")
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "split-folders"
    assert dataset.splits == ["test", "train"]


def test_loose_files_at_root(tmp_path, files):
    files.image(tmp_path / "cat" / "a.png")
    (tmp_path / "README.md").write_text("my dataset")
    files.image(tmp_path / "stray.png")
    dataset = load_dataset(tmp_path)
    rows = _rows(dataset)
    assert rows["README.md"]["reason"] == "not inside a class folder"
    assert rows["stray.png"]["status"] == "flagged"
    _assert_accounted(dataset)


def test_loose_files_in_split_folder(tmp_path, files):
    files.image(tmp_path / "train" / "cat" / "a.png")
    files.image(tmp_path / "train" / "orphan.png")
    dataset = load_dataset(tmp_path)
    row = _rows(dataset)["train/orphan.png"]
    assert row["reason"] == "not inside a split's class folder"
    assert row["split"] == "train"


def test_nested_subfolders_belong_to_class(tmp_path, files):
    files.image(tmp_path / "cat" / "2020" / "jan" / "a.png")
    dataset = load_dataset(tmp_path)
    assert dataset.images["label"].tolist() == ["cat"]


def test_mixed_split_and_class_folders_rejected(tmp_path, files):
    files.image(tmp_path / "train" / "cat" / "a.png")
    files.image(tmp_path / "dog" / "b.png")
    with pytest.raises(DatasetError, match="layout='split-folders'") as info:
        load_dataset(tmp_path)
    assert "train" in str(info.value)
    assert "dog" in str(info.value)


def test_layout_override_folders(tmp_path, files):
    files.image(tmp_path / "train" / "a.png")
    files.image(tmp_path / "dog" / "b.png")
    dataset = load_dataset(tmp_path, layout="folders")
    assert dataset.classes == ["dog", "train"]


def test_layout_override_split_folders(tmp_path, files):
    files.image(tmp_path / "train" / "cat" / "a.png")
    files.image(tmp_path / "holdout" / "cat" / "b.png")
    dataset = load_dataset(tmp_path, layout="split-folders")
    assert dataset.splits == ["holdout", "train"]
    assert dataset.classes == ["cat"]


def test_empty_folder_rejected(tmp_path):
    with pytest.raises(DatasetError, match="contains no files"):
        load_dataset(tmp_path)


def test_only_empty_class_folders_rejected(tmp_path):
    (tmp_path / "cat").mkdir()
    (tmp_path / "dog").mkdir()
    with pytest.raises(DatasetError, match="2 class folders are all empty"):
        load_dataset(tmp_path)


def test_only_bad_files_rejected(tmp_path):
    (tmp_path / ".DS_Store").write_bytes(b"x")
    with pytest.raises(DatasetError, match="no usable image") as info:
        load_dataset(tmp_path)
    assert "hidden or system file (1)" in str(info.value)


def test_missing_source_rejected(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nowhere")


def test_empty_class_folder_recorded(tmp_path, files):
    files.image(tmp_path / "cat" / "a.png")
    files.image(tmp_path / "cat" / "b.png")
    (tmp_path / "dog").mkdir()
    dataset = load_dataset(tmp_path)
    assert dataset.classes == ["cat"]
    assert dataset.declared_classes == ["cat", "dog"]
    assert "class folder 'dog' is empty" in dataset.notes
    summary = dataset.class_summary().set_index("label")
    assert summary.loc["dog", "class_index"] == -1
    assert summary.loc["dog", "n_given"] == 0
    assert dataset.ledger_summary()["classes_without_images"] == ["dog"]


def test_empty_class_folder_in_one_split(tmp_path, files):
    files.image(tmp_path / "train" / "cat" / "a.png")
    files.image(tmp_path / "train" / "dog" / "b.png")
    files.image(tmp_path / "test" / "cat" / "c.png")
    (tmp_path / "test" / "dog").mkdir(parents=True)
    dataset = load_dataset(tmp_path)
    assert "class folder 'test/dog' is empty" in dataset.notes
    assert "split 'test' has no images of 1 classes: dog" in dataset.notes


def test_class_of_only_bad_files_recorded(tmp_path, files, decode_all):
    files.image(tmp_path / "cat" / "a.png")
    files.image(tmp_path / "cat" / "b.png")
    files.bad(tmp_path / "dog" / "x.jpg", "truncated")
    files.bad(tmp_path / "dog" / "y.jpg", "empty")
    (tmp_path / "dog" / ".DS_Store").write_bytes(b"x")
    dataset = load_dataset(tmp_path)
    assert dataset.classes == ["cat", "dog"]

    checked = dataset.flag(decode_all(dataset), stage="decode")
    assert checked.classes == ["cat"]
    assert checked.declared_classes == ["cat", "dog"]
    summary = checked.class_summary().set_index("label")
    assert summary.loc["dog"].to_dict() == {
        "class_index": -1,
        "n_given": 3,
        "n_read": 0,
        "n_flagged": 3,
    }
    note = "class 'dog' has no usable image after decode (3 files flagged)"
    assert note in checked.notes
    _assert_accounted(checked)


def test_class_of_only_hidden_files_noted_at_load(tmp_path, files):
    files.image(tmp_path / "cat" / "a.png")
    files.image(tmp_path / "cat" / "b.png")
    (tmp_path / "dog" / "Thumbs.db").parent.mkdir()
    (tmp_path / "dog" / "Thumbs.db").write_bytes(b"x")
    dataset = load_dataset(tmp_path)
    assert "class 'dog' has no usable image (1 file flagged)" in dataset.notes


def test_single_image_class_recorded(tmp_path, files):
    files.image(tmp_path / "cat" / "a.png")
    files.image(tmp_path / "cat" / "b.png")
    files.image(tmp_path / "dog" / "c.png")
    dataset = load_dataset(tmp_path)
    assert dataset.classes == ["cat", "dog"]
    assert "class 'dog' has a single image" in dataset.notes
    assert dataset.ledger_summary()["single_image_classes"] == ["dog"]


def test_class_names_differing_by_case_noted(tmp_path, files):
    files.image(tmp_path / "Cat" / "a.png")
    files.image(tmp_path / "cat" / "b.png")
    dataset = load_dataset(tmp_path)
    assert dataset.classes == ["Cat", "cat"]
    assert "class names differ only by letter case: 'Cat', 'cat'" in dataset.notes


def test_nfc_and_nfd_class_folders_merge(tmp_path, files):
    nfc = unicodedata.normalize("NFC", "caf\u00e9")
    nfd = unicodedata.normalize("NFD", nfc)
    files.image(tmp_path / "train" / nfc / "a.png")
    files.image(tmp_path / "test" / nfd / "b.png")
    dataset = load_dataset(tmp_path)
    assert dataset.classes == [nfc]


def test_non_ascii_space_and_quote_names(tmp_path, files, decode_all):
    names = [
        "caf\u00e9 \u732b",
        'it\'s "quoted"',
        "   spaced   out",
        "\u05e9\u05dc\u05d5\u05dd",
    ]
    for i, name in enumerate(names):
        files.image(tmp_path / "cl\u00e4ss one" / f"{name}.png", seed=i)
    files.image(tmp_path / "cl\u00e4ss two" / "plain.png")
    dataset = load_dataset(tmp_path)
    relpaths = set(dataset.images["relpath"])
    for name in names:
        assert f"cl\u00e4ss one/{name}.png" in relpaths
    assert dataset.classes == ["cl\u00e4ss one", "cl\u00e4ss two"]
    assert decode_all(dataset) == {}


def test_name_not_valid_utf8(tmp_path, files):
    files.image(tmp_path / "cat" / "a.png")
    bad_name = os.path.join(os.fsencode(tmp_path / "cat"), b"bad\xff\xfe.png")
    with open(bad_name, "wb") as handle:
        handle.write(b"x")
    dataset = load_dataset(tmp_path)
    rows = _rows(dataset)
    assert rows["cat/bad\\xff\\xfe.png"]["reason"] == (
        "file name is not valid UTF-8: rename it"
    )
    # The ledger must be storable as Arrow strings (Parquet, SQLite, HTML).
    assert pd.api.types.is_string_dtype(dataset.ledger["relpath"])
    dataset.ledger["relpath"].str.encode("utf-8")
    _assert_accounted(dataset)


def test_symlinked_file_and_folder_read(tmp_path, files):
    data = tmp_path / "data"
    pool = tmp_path / "pool"
    files.image(pool / "shared.png")
    files.image(pool / "dogs" / "d.png")
    files.image(data / "cat" / "a.png")
    (data / "cat" / "link.png").symlink_to(pool / "shared.png")
    (data / "dog").symlink_to(pool / "dogs", target_is_directory=True)
    dataset = load_dataset(data)
    assert set(dataset.images["relpath"]) == {"cat/a.png", "cat/link.png", "dog/d.png"}
    assert dataset.images.set_index("relpath").loc["cat/link.png", "path"] == str(
        data / "cat" / "link.png"
    )


def test_symlink_loop_detected(tmp_path, files):
    files.image(tmp_path / "cat" / "a.png")
    (tmp_path / "cat" / "again").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "cat" / "self").symlink_to(tmp_path / "cat", target_is_directory=True)
    dataset = load_dataset(tmp_path)
    rows = _rows(dataset)
    assert rows["cat/again"]["reason"] == (
        "symbolic link loop: points back to the dataset root"
    )
    assert rows["cat/self"]["reason"] == "symbolic link loop: points back to cat"
    assert dataset.n_images == 1
    _assert_accounted(dataset)


@pytest.mark.parametrize("target", ["parent", "filesystem root"])
def test_link_above_root_not_walked(tmp_path, files, target):
    data = tmp_path / "data"
    files.image(data / "cat" / "a.png")
    files.image(tmp_path / "outside" / "b.png")
    above = tmp_path if target == "parent" else Path("/")
    (data / "cat" / "up").symlink_to(above, target_is_directory=True)
    dataset = load_dataset(data)
    assert dataset.images["relpath"].tolist() == ["cat/a.png"]
    assert _rows(dataset)["cat/up"]["reason"] == (
        "symbolic link to a folder that contains the dataset"
    )
    _assert_accounted(dataset)


def test_folder_linked_twice_read_once(tmp_path, files):
    files.image(tmp_path / "cat" / "a.png")
    (tmp_path / "kitty").symlink_to(tmp_path / "cat", target_is_directory=True)
    dataset = load_dataset(tmp_path)
    assert dataset.images["relpath"].tolist() == ["cat/a.png"]
    assert _rows(dataset)["kitty"]["reason"] == (
        "link to a folder already read: same folder as cat"
    )


def test_broken_link_flagged(tmp_path, files):
    files.image(tmp_path / "cat" / "a.png")
    (tmp_path / "cat" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    dataset = load_dataset(tmp_path)
    assert _rows(dataset)["cat/gone.png"]["reason"] == "broken symbolic link"
    assert _rows(dataset)["cat/gone.png"]["label"] == "cat"


def test_fifo_flagged_without_blocking(tmp_path, files):
    files.image(tmp_path / "cat" / "a.png")
    os.mkfifo(tmp_path / "cat" / "pipe.png")
    dataset = load_dataset(tmp_path)
    assert _rows(dataset)["cat/pipe.png"]["reason"] == "not a regular file"


def test_very_deep_tree(tmp_path, files):
    # The walk must not recurse once per level. A tree deeper than Python's
    # default limit of 1000 frames is slow to create and remove, so the limit
    # is lowered below this tree's depth for the call instead.
    depth = 400
    deep = tmp_path / "cat" / os.path.join(*["d"] * depth)
    os.makedirs(deep)
    files.image(deep / "a.png")
    files.image(tmp_path / "dog" / "b.png")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_stack_depth() + depth // 2)
    try:
        dataset = load_folders(tmp_path)
    finally:
        sys.setrecursionlimit(limit)
    assert dataset.n_images == 2
    assert dataset.images["label"].tolist() == ["cat", "dog"]
    assert dataset.images["relpath"].iloc[0].split("/").count("d") == depth


def _stack_depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


def test_folder_layout_rejects_unknown_layout(tmp_path, files):
    files.image(tmp_path / "cat" / "a.png")
    with pytest.raises(DatasetError, match="not a folder layout"):
        load_folders(tmp_path, layout="manifest")


def test_link_to_device_is_not_a_broken_link(tmp_path, files):
    files.image(tmp_path / "cats" / "real.png")
    os.symlink("/dev/null", tmp_path / "cats" / "null.jpg")
    os.symlink(tmp_path / "missing.jpg", tmp_path / "cats" / "dangling.jpg")

    ledger = load_dataset(tmp_path).ledger.set_index("relpath")

    assert ledger.loc["cats/null.jpg", "reason"].startswith("not a regular file")
    assert ledger.loc["cats/dangling.jpg", "reason"] == "broken symbolic link"

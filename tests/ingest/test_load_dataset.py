"""Tests for load_dataset: layout dispatch, overrides and the split filter."""

from __future__ import annotations

import pytest

from beholder.errors import BeholderError, DatasetError
from beholder.ingest import load_dataset


@pytest.fixture
def split_tree(tmp_path, files):
    for split in ["train", "val", "test"]:
        files.image(tmp_path / split / "cat" / "a.png")
        files.image(tmp_path / split / "dog" / "b.png")
    return tmp_path


def test_dataset_error_types(tmp_path):
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path / "missing")
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, BeholderError)


def test_unknown_layout_rejected(split_tree):
    with pytest.raises(
        DatasetError, match="layout='imagenet' is not a known layout"
    ) as info:
        load_dataset(split_tree, layout="imagenet")
    assert "split-lists" in str(info.value)


def test_manifest_layout_needs_file(split_tree):
    with pytest.raises(DatasetError, match="is a folder; layout='manifest'"):
        load_dataset(split_tree, layout="manifest")


def test_folder_layout_needs_folder(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\n")
    with pytest.raises(
        DatasetError, match="is a file; layout='folders' needs a folder"
    ):
        load_dataset(manifest, layout="folders")


def test_column_options_need_manifest(split_tree):
    with pytest.raises(DatasetError, match="label_column apply to manifests only"):
        load_dataset(split_tree, label_column="class")


def test_split_filter(split_tree):
    dataset = load_dataset(split_tree, split="train")
    assert set(dataset.images["split"]) == {"train"}
    assert dataset.n_images == 2
    assert set(dataset.ledger["split"]) == {"train"}
    assert dataset.classes == ["cat", "dog"]


@pytest.mark.parametrize("requested", ["validation", "VAL", "dev", "valid"])
def test_split_filter_variants(split_tree, requested):
    assert set(load_dataset(split_tree, split=requested).images["split"]) == {"val"}


def test_unknown_split_lists_existing(split_tree):
    with pytest.raises(DatasetError, match="split='holdout' does not exist") as info:
        load_dataset(split_tree, split="holdout")
    assert "'test', 'train', 'val'" in str(info.value)


def test_split_without_splits(tmp_path, files):
    files.image(tmp_path / "cat" / "a.png")
    with pytest.raises(DatasetError, match="has no splits. Omit split="):
        load_dataset(tmp_path, split="train")


def test_ambiguous_split_variant(tmp_path, files):
    files.image(tmp_path / "val" / "cat" / "a.png")
    files.image(tmp_path / "validation" / "cat" / "b.png")
    with pytest.raises(DatasetError, match="matches several splits"):
        load_dataset(tmp_path, split="valid")
    assert load_dataset(tmp_path, split="validation").n_images == 1


def test_split_with_only_bad_files_rejected(tmp_path, files):
    files.image(tmp_path / "train" / "cat" / "a.png")
    (tmp_path / "test" / "cat").mkdir(parents=True)
    (tmp_path / "test" / "cat" / ".DS_Store").write_bytes(b"x")
    with pytest.raises(DatasetError, match="no usable image"):
        load_dataset(tmp_path, split="test")


def test_manifest_split_filter(tmp_path, files):
    files.image(tmp_path / "a.png")
    files.image(tmp_path / "b.png")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        '{"path": "a.png", "label": "cat", "split": "train"}\n'
        '{"path": "b.png", "label": "cat", "split": "test"}\n'
    )
    dataset = load_dataset(manifest, split="test")
    assert dataset.images["relpath"].tolist() == ["b.png"]


def test_labels_must_be_strings(tmp_path, files):
    files.image(tmp_path / "1" / "a.png")
    dataset = load_dataset(tmp_path)
    images = dataset.images.copy()
    images["label"] = [1]
    with pytest.raises(TypeError, match="labels must be strings; got int 1"):
        type(dataset)(
            root=dataset.root, images=images, ledger=dataset.ledger, layout="x"
        )

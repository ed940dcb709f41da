"""Folder names that ingest reads differently from what is on disk."""

from __future__ import annotations

import os
import re

import pytest

from beholder.errors import DatasetError
from beholder.ingest import load_dataset
from tests.conftest import class_image, write_image


def test_split_lists_without_images_folder(tmp_path):
    (tmp_path / "TrainImages.txt").write_text("kitchen/a.jpg\nbar/b.jpg")
    (tmp_path / "TestImages.txt").write_text("kitchen/c.jpg")

    with pytest.raises(DatasetError) as error:
        load_dataset(tmp_path)

    # "TestImages.txt" alone does not count: the message must name the folder.
    assert re.search(r"\bImages\b", str(error.value)), str(error.value)


def test_folders_merged_by_whitespace_noted(tmp_path):
    for name in ("cat", "cat "):
        for i in range(3):
            write_image(tmp_path / name / f"{i}.png", class_image(0, i))

    dataset = load_dataset(tmp_path)

    merged = len(dataset.classes) < 2
    named = any("'cat '" in note for note in dataset.notes)
    assert not merged or named, (dataset.classes, dataset.notes)


def test_linked_class_folder_not_called_empty(tmp_path):
    for i in range(3):
        write_image(tmp_path / "a" / f"{i}.png", class_image(0, i))
        write_image(tmp_path / "b" / f"{i}.png", class_image(1, i))
    os.symlink(tmp_path / "a", tmp_path / "c")

    dataset = load_dataset(tmp_path)

    assert not any("'c' is empty" in note for note in dataset.notes), dataset.notes

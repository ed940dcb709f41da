"""Ingest and decode checks on the real datasets in ../shared/data."""

from __future__ import annotations

import pytest

from beholder.ingest import Dataset, load_dataset
from beholder.ingest.verify import verify_images

pytestmark = pytest.mark.slow


def test_scene15_layout(shared_data):
    dataset = load_dataset(shared_data / "scene15")
    summary = dataset.ledger_summary()
    assert dataset.layout == "split-folders"
    assert len(dataset.classes) == 15
    assert summary["given"] == summary["read"] == 4485
    assert (dataset.images["split"] == "train").sum() == 1500
    assert dataset.notes == []


def test_scene15_exif_rotated_kitchen(shared_data):
    # One Kitchen photo is stored 220x293 with EXIF orientation 6.
    dataset = load_dataset(shared_data / "scene15", split="train")
    kitchen = Dataset(
        root=dataset.root,
        images=dataset.images[dataset.images["label"] == "Kitchen"],
        ledger=dataset.ledger,
        layout=dataset.layout,
    )
    failures, notes = verify_images(kitchen)
    rotated = notes[notes["exif_transposed"]]
    assert failures == {}
    assert rotated["relpath"].tolist() == ["train/Kitchen/image_0172.jpg"]
    assert (rotated["width"].iloc[0], rotated["height"].iloc[0]) == (293, 220)


def test_sun8_decodes_cleanly(shared_data):
    dataset = load_dataset(shared_data / "sun8")
    failures, notes = verify_images(dataset)
    assert dataset.layout == "folders"
    assert len(dataset.classes) == 8
    assert failures == {}
    assert len(notes) == dataset.n_images == 1643
    assert set(notes["format"]) == {"JPEG"}

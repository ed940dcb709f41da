"""Tests for verify_images: the decode check the audit runs after ingest."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from beholder import decode
from beholder.ingest import load_dataset
from beholder.ingest import verify as verify_module
from beholder.ingest.verify import NOTE_COLUMNS, verify_images

HEIC_REASON = "unsupported format (HEIC; install pillow-heif)"


class RecordingProgress:
    def __init__(self):
        self.stages = []
        self.steps = 0

    def stage(self, name, total=None):
        self.stages.append((name, total))

    def advance(self, steps=1):
        self.steps += steps


def _hostile_folder(root, files):
    files.image(root / "cat" / "good.png")
    files.image(root / "cat" / "good.jpg", fmt="JPEG")
    files.bad(root / "cat" / "empty.jpg", "empty")
    files.bad(root / "cat" / "cut.jpg", "truncated")
    files.bad(root / "dog" / "notes.png", "text")
    files.image(root / "dog" / "liar.jpg", fmt="GIF")
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (30, 10), (5, 5, 5)).save(root / "dog" / "turned.jpg", exif=exif)
    Image.fromarray(np.full((4, 4), 40000, dtype=np.uint16)).save(
        root / "dog" / "deep.png"
    )
    frames = [Image.new("RGB", (6, 6), c) for c in [(255, 0, 0), (0, 0, 255)]]
    frames[0].save(root / "dog" / "moving.gif", save_all=True, append_images=frames[1:])
    (root / "dog" / ".DS_Store").write_bytes(b"x")


def test_failures_and_notes(tmp_path, files):
    _hostile_folder(tmp_path, files)
    dataset = load_dataset(tmp_path)
    failures, notes = verify_images(dataset)

    assert failures == {
        "cat/empty.jpg": "empty file",
        "cat/cut.jpg": "truncated file",
        "dog/notes.png": "not an image",
    }
    assert notes.columns.tolist() == NOTE_COLUMNS
    facts = notes.set_index("relpath")
    assert len(facts) == 6
    turned = facts.loc["dog/turned.jpg"]
    assert (turned["width"], turned["height"]) == (10, 30)
    assert facts.loc["dog/turned.jpg", "exif_transposed"]
    assert facts.loc["dog/liar.jpg", "format"] == "GIF"
    assert facts.loc["dog/liar.jpg", "extension_mismatch"]
    assert facts.loc["dog/deep.png", "scaled_to_8bit"]
    assert facts.loc["dog/deep.png", "mode"] == "I;16"
    assert facts.loc["dog/moving.gif", "is_animated"]
    assert facts.loc["cat/good.png", "notes"] == ""
    assert "EXIF orientation 6 applied" in facts.loc["dog/turned.jpg", "notes"]


def test_flagging_keeps_ledger_whole(tmp_path, files):
    _hostile_folder(tmp_path, files)
    dataset = load_dataset(tmp_path)
    failures, _ = verify_images(dataset)
    checked = dataset.flag(failures, stage="decode")

    summary = checked.ledger_summary()
    assert summary["given"] == 10
    assert summary["read"] == 6
    assert summary["flagged"] == 4
    assert summary["flagged_by_reason"] == {
        "empty file": 1,
        "truncated file": 1,
        "not an image": 1,
        "hidden or system file": 1,
    }
    assert checked.images["image_id"].tolist() == list(range(6))
    decode_rows = checked.ledger[checked.ledger["stage"] == "decode"]
    assert sorted(decode_rows["relpath"]) == sorted(failures)


def test_progress_reported(tmp_path, files):
    for i in range(3):
        files.image(tmp_path / "cat" / f"{i}.png")
    progress = RecordingProgress()
    verify_images(load_dataset(tmp_path), progress=progress)
    assert progress.stages == [("verify", 3)]
    assert progress.steps == 3


def test_heic_counted_as_unsupported(tmp_path, files, monkeypatch):
    pytest.importorskip("pillow_heif")
    decode._register_heif_opener()
    files.image(tmp_path / "cat" / "ok.png")
    for i in range(2):
        Image.new("RGB", (8, 8), (i, 0, 0)).save(tmp_path / "cat" / f"{i}.heic")
    dataset = load_dataset(tmp_path)

    failures, notes = verify_images(dataset)
    assert failures == {}
    assert set(notes["format"]) == {"HEIF", "PNG"}

    monkeypatch.setattr(Image, "ID", [name for name in Image.ID if name != "HEIF"])
    monkeypatch.delitem(Image.OPEN, "HEIF")
    failures, _ = verify_images(dataset)
    checked = dataset.flag(failures, stage="decode")
    assert checked.ledger_summary()["flagged_by_reason"] == {HEIC_REASON: 2}


def test_worker_processes_match_serial(tmp_path, files, monkeypatch):
    for i in range(5):
        files.image(tmp_path / "cat" / f"{i}.jpg", fmt="JPEG", seed=i)
    files.bad(tmp_path / "cat" / "bad.jpg", "truncated")
    dataset = load_dataset(tmp_path)
    monkeypatch.setattr(verify_module, "_CHUNK", 2)
    serial = verify_images(dataset)
    parallel = verify_images(dataset, n_jobs=2)
    assert parallel[0] == serial[0] == {"cat/bad.jpg": "truncated file"}
    assert parallel[1].equals(serial[1])

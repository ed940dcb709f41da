from pathlib import Path

import pytest

from beholder.errors import StoreError
from beholder.store.folders import make_staging_folder, swap_in


def _folder_with(path: Path, name: str, text: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / name).write_text(text)
    return path


def test_swap_in_replaces_old_folder(tmp_path):
    out = _folder_with(tmp_path / "out", "old.txt", "old")
    staging = _folder_with(make_staging_folder(out), "new.txt", "new")

    swap_in(staging, out)

    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_swap_in_keeps_folder_written_meanwhile(tmp_path, monkeypatch):
    out = _folder_with(tmp_path / "out", "old.txt", "old")
    staging = _folder_with(make_staging_folder(out), "mine.txt", "mine")
    rename = Path.rename

    def rename_after_other_process(self, target):
        if self == staging:
            _folder_with(out, "theirs.txt", "theirs")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", rename_after_other_process)

    with pytest.raises(StoreError, match="at the same time"):
        swap_in(staging, out)

    assert sorted(p.name for p in out.iterdir()) == ["theirs.txt"]
    assert not any(p.name.startswith(".out.old") for p in tmp_path.iterdir())


def test_swap_in_restores_old_folder_on_failure(tmp_path):
    out = _folder_with(tmp_path / "out", "old.txt", "old")
    missing_staging = tmp_path / ".out.partial-gone"

    with pytest.raises(FileNotFoundError):
        swap_in(missing_staging, out)

    assert (out / "old.txt").read_text() == "old"

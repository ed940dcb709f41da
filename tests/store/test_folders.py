from pathlib import Path

import pytest

from beholder.errors import StoreError
from beholder.store.folders import check_output_folder, make_staging_folder, swap_in


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


def _check(out, root):
    return check_output_folder(
        out, root, is_earlier_output=lambda folder: False, kind="test folder"
    )


def test_output_folder_link_resolved_to_target(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)

    assert _check(link, tmp_path / "data") == target.resolve()


def test_output_folder_dot_dot_resolved_without_stray_folder(tmp_path):
    out = _check(tmp_path / "nothere" / ".." / "x", tmp_path / "data")

    assert out == (tmp_path / "x").resolve()
    assert not (tmp_path / "nothere").exists()


@pytest.mark.parametrize("inside", ["", "sub"])
def test_output_folder_holding_current_folder_rejected(tmp_path, monkeypatch, inside):
    out = tmp_path / "out"
    (out / inside).mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(out / inside)

    with pytest.raises(StoreError, match="contains the current folder"):
        _check(out, tmp_path / "data")


def test_audit_replace_interrupted_keeps_a_whole_run(tmp_path, monkeypatch):
    import shutil

    from beholder.audit import replace_run_folder

    out = _folder_with(tmp_path / "run", "run.json", "earlier")
    (out / "report.html").write_text("earlier report")
    staging = _folder_with(make_staging_folder(out), "run.json", "new")

    def interrupted_rmtree(path, *args, **kwargs):
        next(p for p in sorted(Path(path).iterdir()) if p.is_file()).unlink()
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "rmtree", interrupted_rmtree)

    with pytest.raises(KeyboardInterrupt):
        replace_run_folder(staging, out)

    # The new run is in place; the interrupt hit the old one, renamed aside.
    assert (out / "run.json").read_text() == "new"

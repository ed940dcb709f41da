"""Output folders: checks before a command writes, and swapping a finished one in."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from beholder.errors import StoreError


def check_output_folder(
    out, dataset_root, *, is_earlier_output: Callable[[Path], bool], kind: str
) -> Path:
    """Return the absolute output folder, or raise StoreError if it cannot be one.

    An output folder must not be a file or lie inside the dataset, where its
    files would be read as images next time. It must not contain the current
    folder, because it is replaced as a whole, and it must not be a folder
    of other files, which the command would overwrite. ``is_earlier_output(folder)`` returns True
    for a folder that the same command wrote before, which it may replace.
    ``kind`` names such a folder in messages ("beholder run folder").
    """
    # Symbolic links and ".." are resolved, so that the folder swapped in
    # later is the one the link points to, and no stray folder is created.
    out = Path(out).expanduser().resolve()
    for parent in [out, *out.parents]:
        if parent.exists() and not parent.is_dir():
            raise StoreError(
                f"--out {out}: {parent} is a file. Give a new or empty folder."
            )
    root = Path(dataset_root).resolve()
    resolved = out.resolve()
    if resolved == root or root in resolved.parents:
        raise StoreError(
            f"--out {out} is inside the dataset {root}; its files would be read "
            "as images next time. Choose a folder outside the dataset."
        )
    cwd = Path.cwd().resolve()
    if cwd == out or out in cwd.parents:
        raise StoreError(
            f"--out {out} contains the current folder, which the command would "
            "replace. Give a folder outside it, or run the command from elsewhere."
        )
    if out.is_dir() and any(out.iterdir()) and not is_earlier_output(out):
        raise StoreError(
            f"--out {out} contains files and is not a {kind}. "
            "Choose a new or empty folder."
        )
    return out


def make_staging_folder(out: Path) -> Path:
    """Create a new, empty hidden folder beside ``out`` for one writer."""
    staging = _unique_sibling(out, "partial")
    staging.mkdir(parents=True)
    return staging


def _unique_sibling(out: Path, kind: str) -> Path:
    """Return a hidden path beside ``out`` that no other writer picks.

    The random part keeps two writers in one process apart too. The folder
    is made with ``mkdir`` so that it gets the usual permissions.
    """
    return out.parent / f".{out.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"


def swap_in(staging: Path, out: Path) -> None:
    """Replace ``out`` with the finished ``staging`` folder, then delete the old one.

    The old folder is first renamed aside, so ``out`` is missing only
    between two renames. When another process puts its own folder at
    ``out`` in that moment, that folder is kept and StoreError is raised.
    On any other failure the old folder is put back.
    """
    aside = None
    if out.exists():
        aside = _unique_sibling(out, "old")
        out.rename(aside)
    try:
        staging.rename(out)
    except OSError as error:
        if out.exists():
            raise StoreError(
                f"another process wrote {out} at the same time; its output is "
                "kept and this one is discarded. Give each run its own --out."
            ) from error
        if aside is not None:
            aside.rename(out)
            aside = None
        raise
    finally:
        if aside is not None and aside.is_symlink():
            aside.unlink()
        elif aside is not None:
            shutil.rmtree(aside, ignore_errors=True)

"""Checks on an output folder before a command writes into it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from beholder.errors import StoreError


def check_output_folder(
    out, dataset_root, *, is_earlier_output: Callable[[Path], bool], kind: str
) -> Path:
    """Return the absolute output folder, or raise StoreError if it cannot be one.

    An output folder must not be a file, lie inside the dataset (its files
    would be read as images next time), or be a folder of other files, which
    the command would overwrite. ``is_earlier_output(folder)`` returns True
    for a folder that the same command wrote before, which it may replace.
    ``kind`` names such a folder in messages ("beholder run folder").
    """
    out = Path(out).expanduser().absolute()
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
    if out.is_dir() and any(out.iterdir()) and not is_earlier_output(out):
        raise StoreError(
            f"--out {out} contains files and is not a {kind}. "
            "Choose a new or empty folder."
        )
    return out

"""Read a folder-per-class dataset, with or without split folders.

Two layouts are recognised, as torchvision's ``ImageFolder`` users have them::

    root/CLASS/image.jpg                 (layout "folders")
    root/SPLIT/CLASS/image.jpg           (layout "split-folders")

The second is chosen when every visible top-level folder is a split name
(see :data:`SPLIT_NAMES`). Files in subfolders of a class belong to that
class. Every file found is entered in the ledger.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from beholder.errors import DatasetError
from beholder.ingest.dataset import Dataset, make_ledger
from beholder.ingest.walk import is_hidden_or_system, walk_files

SPLIT_NAMES = {
    "train",
    "training",
    "val",
    "valid",
    "validation",
    "dev",
    "test",
    "testing",
}


def load_folders(root: str | Path) -> Dataset:
    """Read ``root`` as class folders, or split folders above class folders."""
    root = Path(root).expanduser().resolve()
    _check_root(root)
    top = _visible_folders(root)
    has_splits = bool(top) and all(p.name.lower() in SPLIT_NAMES for p in top)

    images, ledger = [], []
    for path, reason in walk_files(root):
        relpath = path.relative_to(root).as_posix()
        parts = relpath.split("/")
        split, label, reason = _place(parts, has_splits, reason)
        status = "flagged" if reason else "read"
        ledger.append(
            {
                "relpath": relpath,
                "path": str(path),
                "status": status,
                "stage": "ingest" if reason else None,
                "reason": reason,
            }
        )
        if not reason:
            images.append(
                {"path": str(path), "relpath": relpath, "label": label, "split": split}
            )

    if not ledger:
        raise DatasetError(
            f"{root} contains no files. Point beholder at a folder with one "
            "subfolder per class (root/CLASS/image.jpg) or split folders "
            "(root/train/CLASS/image.jpg)."
        )
    frame = pd.DataFrame(images, columns=["path", "relpath", "label", "split"])
    layout = "split-folders" if has_splits else "folders"
    return Dataset(
        root=root,
        images=frame,
        ledger=make_ledger(ledger),
        layout=layout,
        source=str(root),
    )


def _check_root(root: Path) -> None:
    if not root.exists():
        raise DatasetError(f"{root} does not exist. Check the dataset path.")
    if not root.is_dir():
        raise DatasetError(
            f"{root} is a file, not a folder. For a manifest use a .csv or "
            ".jsonl file; for class folders give the folder above them."
        )


def _visible_folders(root: Path) -> list[Path]:
    return [
        p for p in root.iterdir() if p.is_dir() and not is_hidden_or_system(p.name)
    ]


def _place(parts: list[str], has_splits: bool, reason: str | None):
    """Return ``(split, label, reason)`` for a file's relative path parts."""
    depth = 3 if has_splits else 2
    if reason:
        return None, None, reason
    if len(parts) < depth:
        where = "a split's class folder" if has_splits else "a class folder"
        return None, None, f"not inside {where}"
    if has_splits:
        return parts[0], parts[1], None
    return None, parts[0], None

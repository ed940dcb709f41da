"""Read a folder-per-class dataset, with or without split folders.

Two layouts are recognised, as torchvision's ``ImageFolder`` users have them::

    root/CLASS/image.jpg                 (layout "folders")
    root/SPLIT/CLASS/image.jpg           (layout "split-folders")

The second is chosen when every visible top-level folder has a split name
(see :data:`~beholder.ingest.names.SPLIT_NAMES`), or when the caller passes
``layout="split-folders"``, which makes every top-level folder a split. When
only some top-level folders have split names, the layout is ambiguous and
``load_folders`` raises a DatasetError that names both ``layout=`` values. Files in subfolders of a class belong to
that class. Every file found is entered in the ledger, and every class
folder in :attr:`Dataset.declared_classes`, even when it is empty.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

from beholder.errors import DatasetError
from beholder.ingest.dataset import (
    Dataset,
    class_notes,
    ledger_row,
    make_images,
    make_ledger,
)
from beholder.ingest.names import (
    SPLIT_NAMES,
    merged_label_notes,
    normalize_label,
    printable_path,
)
from beholder.ingest.walk import FoundFile, is_hidden_or_system, walk_files

logger = logging.getLogger(__name__)

FOLDER_LAYOUTS = ("folders", "split-folders")


def load_folders(root: str | Path, *, layout: str | None = None) -> Dataset:
    """Read ``root`` as class folders, or split folders above class folders.

    Parameters
    ----------
    root : str or Path
        The dataset folder.
    layout : {"folders", "split-folders"}, optional
        Force a layout instead of detecting it from the top-level folder
        names.

    Raises
    ------
    DatasetError
        When ``root`` is missing, is a file, contains no files at all, or mixes
        split folders with other folders and ``layout`` is not given.
    """
    root = Path(root).expanduser().resolve()
    _check_root(root)
    has_splits = _has_splits(root, layout)

    images, ledger = [], []
    skipped_links: dict[str, str] = {}
    for found in walk_files(root):
        if _is_skipped_link(found, has_splits):
            skipped_links[found.relpath] = found.reason
        split, label, reason = _place(found, has_splits)
        ledger.append(
            ledger_row(found.relpath, str(found.path), reason, label=label, split=split)
        )
        if not reason:
            images.append(
                {
                    "path": str(found.path),
                    "relpath": found.relpath,
                    "label": label,
                    "split": split,
                }
            )

    found_folders = _class_folders(root, has_splits, skipped_links)
    class_folders = [(split, label) for split, _, label in found_folders]
    if not ledger:
        raise DatasetError(_no_files_message(root, class_folders))

    dataset = Dataset(
        root=root,
        images=make_images(images),
        ledger=make_ledger(ledger),
        layout="split-folders" if has_splits else "folders",
        source=str(root),
        declared_classes=sorted({label for _, label in class_folders}),
    )
    dataset.add_notes(_skipped_link_notes(skipped_links))
    dataset.add_notes(_empty_folder_notes(class_folders, ledger, has_splits))
    dataset.add_notes(merged_label_notes(name for _, name, _ in found_folders))
    dataset.add_notes(_name_notes(dataset))
    dataset.add_notes(class_notes(dataset))
    return dataset


def _check_root(root: Path) -> None:
    if not root.exists():
        raise DatasetError(f"{root} does not exist. Check the dataset path.")
    if not root.is_dir():
        raise DatasetError(
            f"{root} is a file, not a folder. For a manifest use a .csv or "
            ".jsonl file; for class folders give the folder above them."
        )


def _has_splits(root: Path, layout: str | None) -> bool:
    if layout is not None and layout not in FOLDER_LAYOUTS:
        raise DatasetError(
            f"layout={layout!r} is not a folder layout; use one of "
            f"{', '.join(FOLDER_LAYOUTS)}."
        )
    if layout is not None:
        return layout == "split-folders"

    top = [p.name for p in _visible_folders(root)]
    named = [name for name in top if name.lower() in SPLIT_NAMES]
    if named and len(named) < len(top):
        others = sorted(set(top) - set(named))
        raise DatasetError(
            f"{root} mixes split folders ({', '.join(sorted(named))}) with other "
            f"folders ({', '.join(others[:5])}). Pass layout='split-folders' to "
            "read every top-level folder as a split, or layout='folders' to read "
            "every top-level folder as a class."
        )
    return bool(top) and len(named) == len(top)


def _visible_folders(folder: Path) -> list[Path]:
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return []
    folders = []
    for child in children:
        if is_hidden_or_system(child.name) or not printable_path(child.name)[1]:
            continue
        try:
            if child.is_dir():
                folders.append(child)
        except OSError:
            continue
    return folders


def _class_folders(
    root: Path, has_splits: bool, skipped_links: dict[str, str]
) -> list[tuple[str | None, str, str]]:
    """Return ``(split, folder name, class name)`` for every visible class folder.

    Folders in ``skipped_links`` (relative paths of linked folders that the
    walk did not enter), and class folders inside them, are left out: their
    files are read under another name, or they loop.
    """
    if not has_splits:
        return [
            (None, p.name, normalize_label(p.name))
            for p in _visible_folders(root)
            if p.name not in skipped_links
        ]
    triples = []
    for split_folder in _visible_folders(root):
        if split_folder.name in skipped_links:
            continue
        for class_folder in _visible_folders(split_folder):
            if f"{split_folder.name}/{class_folder.name}" in skipped_links:
                continue
            label = normalize_label(class_folder.name)
            triples.append((split_folder.name, class_folder.name, label))
    return [triple for triple in triples if triple[2]]


def _is_skipped_link(found: FoundFile, has_splits: bool) -> bool:
    """Return True for a linked split or class folder that the walk did not enter.

    The walk flags a link to a folder it already read, or to one of its own
    ancestors, as a single entry. Such a folder is not a class of its own.
    """
    depth = 3 if has_splits else 2
    if not found.reason or len(found.parts) >= depth:
        return False
    try:
        return found.path.is_symlink() and found.path.is_dir()
    except OSError:
        return False


def _skipped_link_notes(skipped_links: dict[str, str]) -> list[str]:
    return [
        f"linked folder '{relpath}' was not read as a class ({reason})"
        for relpath, reason in sorted(skipped_links.items())
    ]


def _place(found: FoundFile, has_splits: bool):
    """Return ``(split, label, reason)`` for a file found by the walk."""
    parts = found.parts
    depth = 3 if has_splits else 2
    split = label = None
    # A hidden or system folder (__MACOSX, .ipynb_checkpoints) is never a
    # split or a class, so its files get neither.
    folders = parts[: depth - 1] if len(parts) >= depth else parts[:-1]
    if not any(is_hidden_or_system(name) for name in folders):
        split = parts[0] if has_splits and len(parts) > 1 else None
        if len(parts) >= depth:
            label = normalize_label(parts[depth - 2]) or None
    if found.reason:
        return split, label, found.reason
    if len(parts) < depth:
        where = "a split's class folder" if has_splits else "a class folder"
        return split, None, f"not inside {where}"
    if label is None:
        return split, None, "class folder name is empty or only white space"
    return split, label, None


def _empty_folder_notes(class_folders, ledger: list[dict], has_splits) -> list[str]:
    used = {(row["split"], row["label"]) for row in ledger}
    notes = []
    for split, label in class_folders:
        if (split, label) not in used:
            where = f"{split}/{label}" if has_splits else label
            notes.append(f"class folder '{where}' is empty")
    return notes


def _name_notes(dataset: Dataset) -> list[str]:
    """Return notes on class names that differ only by case, and on uneven splits."""
    notes = []
    by_lower = defaultdict(list)
    for name in dataset.declared_classes:
        by_lower[name.casefold()].append(name)
    for names in by_lower.values():
        if len(names) > 1:
            quoted = ", ".join(f"'{n}'" for n in names)
            notes.append(f"class names differ only by letter case: {quoted}")

    images = dataset.images
    if images["split"].notna().any():
        everywhere = set(images["label"])
        for split, group in images.groupby("split"):
            missing = sorted(everywhere - set(group["label"]))
            if missing:
                class_list = ", ".join(missing[:10]) + (
                    " ..." if len(missing) > 10 else ""
                )
                notes.append(
                    f"split '{split}' has no images of {len(missing)} classes: {class_list}"
                )
    return notes


def _no_files_message(root: Path, class_folders) -> str:
    message = f"{root} contains no files."
    if class_folders:
        message += f" Its {len(class_folders)} class folders are all empty."
    return (
        message + " Point beholder at a folder with one subfolder per class "
        "(root/CLASS/image.jpg) or split folders (root/train/CLASS/image.jpg)."
    )

"""Read a dataset whose splits are given as lists of files, as MIT Indoor-67 ships it::

    root/Images/CLASS/file.jpg
    root/TrainImages.txt          one CLASS/file.jpg per line
    root/TestImages.txt

A list is a text file at the root named after a split (``TrainImages.txt``,
``test.txt``, ``val_list.txt``: see :data:`SPLIT_LIST_PATTERN`). Each
non-blank line is one path relative to ``Images/``, whose first folder is
the class. Lines may contain spaces, and the last line may lack a newline.

Every list entry gets a ledger row (``listed_at`` is ``"TrainImages.txt:12"``).
Files under ``Images/`` that no list names, and files elsewhere under the
root, are flagged with the reason. The lists themselves are metadata and are
named in :attr:`Dataset.notes`, not in the ledger.
"""

from __future__ import annotations

import logging
import re
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
    canonical_split,
    file_problem,
    find_file,
    merged_label_notes,
    normalize_label,
    printable_path,
    relative_to_root,
)
from beholder.ingest.walk import is_hidden_or_system, walk_files

logger = logging.getLogger(__name__)

SPLIT_LIST_PATTERN = re.compile(
    r"^(train|training|val|valid|validation|dev|test|testing)"
    r"[ _-]?(images?|files|list)?\.txt$",
    re.IGNORECASE,
)
IMAGES_FOLDER = "images"


def find_split_lists(root: Path) -> tuple[Path | None, list[Path]]:
    """Return the images folder (any case of ``Images``) and the split lists at ``root``.

    Lists come in the order train, val, test. An image named by two lists
    belongs to the first, so a training image repeated in a test list is
    flagged in the test list.
    """
    try:
        children = sorted(root.iterdir())
    except OSError:
        return None, []
    folders = [p for p in children if p.name.lower() == IMAGES_FOLDER and p.is_dir()]
    lists = [p for p in children if SPLIT_LIST_PATTERN.match(p.name) and p.is_file()]
    order = {"train": 0, "val": 1, "test": 2}
    lists.sort(key=lambda p: (order.get(canonical_split(_split_of(p)), 3), p.name))
    return (folders[0] if folders else None), lists


def is_split_list_layout(root: Path) -> bool:
    """Return True when ``root`` has an ``Images/`` folder and at least one split list."""
    images, lists = find_split_lists(root)
    return images is not None and bool(lists)


def load_split_lists(root: str | Path) -> Dataset:
    """Read ``root/Images/`` with the split lists beside it.

    Raises
    ------
    DatasetError
        When ``root`` has no ``Images/`` folder or no split list, or a list
        is not UTF-8 text.
    """
    root = Path(root).expanduser().resolve()
    images_dir, lists = find_split_lists(root)
    if images_dir is None or not lists:
        raise DatasetError(
            f"{root} is not in the split-list layout: it needs an Images/ folder "
            "and at least one list such as TrainImages.txt or TestImages.txt. "
            "Use layout='folders' for class folders."
        )

    reader = _ListReader(root, images_dir)
    for list_path in lists:
        reader.read_list(list_path)
    reader.read_unlisted({p.name for p in lists})
    return reader.dataset(lists)


class _ListReader:
    """Collect ledger and image rows from the lists, then from the files no list names."""

    def __init__(self, root: Path, images_dir: Path):
        self.root = root
        self.images_dir = images_dir
        self.ledger: list[dict] = []
        self.images: list[dict] = []
        self.labels: set[str] = set()
        self.first_listed: dict[str, tuple[str, int]] = {}
        self.entries: dict[str, int] = {}

    def read_list(self, list_path: Path) -> None:
        split = _split_of(list_path)
        lines = _read_lines(list_path)
        self.entries[list_path.name] = 0
        for number, line in enumerate(lines, start=1):
            entry = line.strip()
            if not entry:
                continue
            self.entries[list_path.name] += 1
            self._read_entry(entry, split, list_path.name, number)

    def _read_entry(self, entry: str, split: str, list_name: str, line: int) -> None:
        listed_at = f"{list_name}:{line}"
        relative = entry.replace("\\", "/").removeprefix("./")
        if relative.lower().startswith(IMAGES_FOLDER + "/"):
            relative = relative.split("/", 1)[1]
        parts = [part for part in relative.split("/") if part]
        label = normalize_label(parts[0]) if len(parts) > 1 else None
        if label:
            self.labels.add(label)

        path, reasons = self._locate(relative)
        relpath, valid = printable_path(relative_to_root(path, self.root))
        if Path(relative).is_absolute():
            reasons = ["absolute path: list paths relative to Images/"]
        elif ".." in parts:
            # The class is the first folder, so a path that climbs out of it
            # would give the image the wrong class.
            reasons = ["path contains '..': list CLASS/FILE relative to Images/"]
        elif len(parts) < 2 or not label:
            reasons.append("no class folder in the entry: expected CLASS/FILE")
        reasons.extend(self._duplicate(relpath, list_name, line))
        if not valid:
            reasons = ["file name is not valid UTF-8: rename it"]

        reason = "; ".join(reasons) or None
        stored_path = printable_path(str(path))[0]
        self.ledger.append(
            ledger_row(
                relpath,
                stored_path,
                reason,
                label=label,
                split=split,
                listed_at=listed_at,
            )
        )
        if reason is None:
            self.images.append(
                {"path": str(path), "relpath": relpath, "label": label, "split": split}
            )

    def _locate(self, relative: str) -> tuple[Path, list[str]]:
        found, _ = find_file(self.images_dir / relative)
        if found is None:
            return self.images_dir / relative, ["file not found"]
        problem = file_problem(found)
        return found, [problem] if problem else []

    def _duplicate(self, relpath: str, list_name: str, line: int) -> list[str]:
        if relpath not in self.first_listed:
            self.first_listed[relpath] = (list_name, line)
            return []
        first_list, first_line = self.first_listed[relpath]
        if first_list == list_name:
            return [f"listed twice in {list_name}: first on line {first_line}"]
        reason = (
            f"listed in two splits: first in {first_list} line {first_line}; "
            "an image can belong to one split only"
        )
        return [reason]

    def read_unlisted(self, list_names: set[str]) -> None:
        """Flag every file under the root that no list entry read."""
        listed = set(self.first_listed)
        images_name = self.images_dir.name
        list_names_shown = ", ".join(sorted(list_names))
        for found in walk_files(self.root):
            if found.relpath in listed or found.relpath in list_names:
                continue
            parts = found.parts
            inside = parts[0] == images_name and len(parts) > 1
            label = None
            if inside and len(parts) > 2 and not is_hidden_or_system(parts[1]):
                label = normalize_label(parts[1]) or None
            if found.reason:
                reason = found.reason
            elif inside:
                reason = f"not in any split list: {list_names_shown}"
            else:
                reason = f"outside {images_name}/ and not a split list"
            self.ledger.append(
                ledger_row(found.relpath, str(found.path), reason, label=label)
            )
            if label:
                self.labels.add(label)

    def dataset(self, lists: list[Path]) -> Dataset:
        class_folders = _class_folders(self.images_dir)
        for folder in class_folders:
            self.labels.add(normalize_label(folder.name))
        self.labels.discard("")
        dataset = Dataset(
            root=self.root,
            images=make_images(self.images),
            ledger=make_ledger(self.ledger),
            layout="split-lists",
            source=str(self.root),
            declared_classes=sorted(self.labels),
        )
        described = ", ".join(
            f"{p.name} ({self.entries[p.name]} entries, split '{_split_of(p)}')"
            for p in lists
        )
        dataset.add_notes([f"split lists: {described}"])
        dataset.add_notes(merged_label_notes(folder.name for folder in class_folders))
        dataset.add_notes(_flag_notes(dataset))
        dataset.add_notes(class_notes(dataset))
        return dataset


def _split_of(list_path: Path) -> str:
    match = SPLIT_LIST_PATTERN.match(list_path.name)
    return match.group(1).lower() if match else list_path.stem.lower()


def _read_lines(list_path: Path) -> list[str]:
    try:
        text = list_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError(
            f"{list_path} is not valid UTF-8 (byte {error.start}). Save it as UTF-8."
        ) from None
    except OSError as error:
        raise DatasetError(f"{list_path} cannot be read: {error.strerror}.") from None
    # split("\n") rather than splitlines(), which would also break a line at
    # characters such as U+2028 that a file name may contain.
    return [line.rstrip("\r") for line in text.split("\n")]


def _class_folders(images_dir: Path) -> list[Path]:
    folders = []
    for child in sorted(images_dir.iterdir()):
        if is_hidden_or_system(child.name) or not printable_path(child.name)[1]:
            continue
        if child.is_dir():
            folders.append(child)
    return folders


def _flag_notes(dataset: Dataset) -> list[str]:
    flagged = dataset.ledger[dataset.ledger["status"] == "flagged"]
    listed = flagged[flagged["listed_at"].notna()]
    lines_by_list = defaultdict(list)
    for listed_at in listed["listed_at"]:
        name, line = listed_at.rsplit(":", 1)
        lines_by_list[name].append(line)
    notes = []
    for name, lines in sorted(lines_by_list.items()):
        entries = "entry" if len(lines) == 1 else "entries"
        where = "line" if len(lines) == 1 else "lines"
        shown = ", ".join(lines[:10]) + (" ..." if len(lines) > 10 else "")
        notes.append(f"{name}: {len(lines)} {entries} flagged, on {where} {shown}")
    unlisted = flagged[flagged["listed_at"].isna()]
    if len(unlisted) == 1:
        notes.append("1 file under the root is in no split list")
    elif len(unlisted):
        notes.append(f"{len(unlisted)} files under the root are in no split list")
    return notes

"""Walk a folder tree once, following symbolic links and detecting loops."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

# Names that operating systems, archivers and notebooks leave in folders.
# They are never classes and never images.
SYSTEM_NAMES = {"thumbs.db", "desktop.ini", "__macosx", "@eadir", "$recycle.bin"}


def is_hidden_or_system(name: str) -> bool:
    """Return True for dot-files, dot-folders and known system leftovers."""
    return name.startswith(".") or name.lower() in SYSTEM_NAMES


def walk_files(folder: Path) -> Iterator[tuple[Path, str | None]]:
    """Yield ``(file_path, reason)`` for every file below ``folder``.

    ``reason`` is ``None`` for an ordinary file and a short phrase for a file
    that must be flagged without being opened (hidden, inside a hidden
    folder, a broken link). Linked folders are followed once: a link back to
    a folder already visited is reported as a loop instead of being walked
    again.
    """
    seen: set[tuple[int, int]] = set()
    yield from _walk(folder, seen, hidden_parent=False)


def _walk(folder: Path, seen: set, *, hidden_parent: bool):
    try:
        stat = folder.stat()
    except OSError as error:
        yield folder, f"unreadable folder ({error.strerror})"
        return
    key = (stat.st_dev, stat.st_ino)
    if key in seen:
        yield folder, "symbolic link loop (folder already visited)"
        return
    seen.add(key)

    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as error:
        yield folder, f"unreadable folder ({error.strerror})"
        return
    for entry in entries:
        path = Path(entry.path)
        hidden = hidden_parent or is_hidden_or_system(entry.name)
        if entry.is_dir(follow_symlinks=True):
            yield from _walk(path, seen, hidden_parent=hidden)
        elif entry.is_file(follow_symlinks=True):
            yield path, _file_reason(entry.name, hidden, hidden_parent)
        elif entry.is_symlink():
            yield path, "broken symbolic link"
        else:
            yield path, "not a regular file"


def _file_reason(name: str, hidden: bool, hidden_parent: bool) -> str | None:
    if hidden_parent:
        return "inside a hidden or system folder"
    if hidden:
        return "hidden or system file"
    return None

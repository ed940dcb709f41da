"""Walk a folder tree once, following symbolic links and detecting loops."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from beholder.ingest.names import printable_path

# Names that operating systems, archivers and notebooks leave in folders.
# They are never classes and never images.
SYSTEM_NAMES = {"thumbs.db", "desktop.ini", "__macosx", "@eadir", "$recycle.bin"}


@dataclass(frozen=True)
class FoundFile:
    """A file (or an entry standing for one) that the walk reached.

    ``path`` is the path as reached, through links, not resolved. ``relpath``
    is relative to the walk root, ``/``-separated and valid UTF-8 (see
    :func:`~beholder.ingest.names.printable_path`). ``reason`` is None for an
    ordinary file and a short phrase for an entry that must be flagged
    without being opened.
    """

    path: Path
    relpath: str
    reason: str | None

    @property
    def parts(self) -> list[str]:
        return self.relpath.split("/")


@dataclass
class _Folder:
    entries: Iterator[os.DirEntry]
    relpath: str
    hidden: bool
    key: tuple[int, int]
    ancestors: tuple[tuple[int, int], ...]


def is_hidden_or_system(name: str) -> bool:
    """Return True for dot-files, dot-folders and known system leftovers."""
    return name.startswith(".") or name.lower() in SYSTEM_NAMES


def walk_files(root: Path) -> Iterator[FoundFile]:
    """Yield every file below ``root`` in sorted, depth-first order.

    Entries that cannot be read as files are yielded too, with a reason:
    hidden or system files, files inside hidden or system folders, broken
    links, pipes and devices, unreadable folders, and names that are not
    valid UTF-8. A linked folder is walked once: a link to a folder that is
    already being walked (a loop) or was walked before (a second way to the
    same files), or to a folder above the root, is yielded as one entry with
    a reason instead.
    """
    seen: dict[tuple[int, int], str] = {}
    stack: list[_Folder] = []
    real_root = os.path.realpath(root)
    opened = _enter(os.fspath(root), "", False, (), seen)
    if isinstance(opened, FoundFile):
        yield opened
        return
    stack.append(opened)

    # An explicit stack instead of recursion, so that a very deep tree
    # cannot exceed Python's recursion limit.
    while stack:
        folder = stack[-1]
        entry = next(folder.entries, None)
        if entry is None:
            stack.pop()
            continue
        relpath = f"{folder.relpath}/{entry.name}" if folder.relpath else entry.name
        hidden = folder.hidden or is_hidden_or_system(entry.name)
        kind = _kind(entry)
        if kind == "folder":
            if entry.is_symlink() and _contains(entry.path, real_root):
                # Walking it would read everything around the dataset, such
                # as a whole disk for a link to /.
                reason = "symbolic link to a folder that contains the dataset"
                yield _found(entry.path, relpath, reason)
                continue
            ancestors = folder.ancestors + (folder.key,)
            opened = _enter(entry.path, relpath, hidden, ancestors, seen)
            if isinstance(opened, FoundFile):
                yield opened
            else:
                stack.append(opened)
        elif kind == "file":
            reason = _file_reason(entry.name, hidden, folder.hidden)
            yield _found(entry.path, relpath, reason)
        else:
            yield _found(entry.path, relpath, kind)


def _enter(path: str, relpath: str, hidden: bool, ancestors, seen):
    """Open a folder for walking, or return a FoundFile saying why it is not walked."""
    try:
        info = os.stat(path)
    except OSError as error:
        return _found(path, relpath, f"unreadable folder: {error.strerror}")
    key = (info.st_dev, info.st_ino)
    if key in ancestors:
        where = seen[key] or "the dataset root"
        return _found(path, relpath, f"symbolic link loop: points back to {where}")
    if key in seen:
        return _found(
            path, relpath, f"link to a folder already read: same folder as {seen[key]}"
        )
    seen[key] = relpath

    try:
        with os.scandir(path) as iterator:
            entries = sorted(iterator, key=lambda entry: entry.name)
    except OSError as error:
        return _found(path, relpath, f"unreadable folder: {error.strerror}")
    return _Folder(iter(entries), relpath, hidden, key, ancestors)


def _contains(link: str, real_root: str) -> bool:
    """Return True when ``link`` points to a folder above ``real_root``.

    A link to the root itself is left to the loop check, which names it.
    """
    target = os.path.realpath(link)
    return real_root.startswith(target.rstrip(os.sep) + os.sep)


def _kind(entry: os.DirEntry) -> str:
    """Return "folder", "file", or the reason the entry is neither."""
    try:
        if entry.is_dir(follow_symlinks=True):
            return "folder"
        if entry.is_file(follow_symlinks=True):
            return "file"
        if entry.is_symlink():
            if not os.path.exists(entry.path):
                return "broken symbolic link"
            return "not a regular file: a link to a device, socket or pipe"
    except OSError as error:
        return f"unreadable entry: {error.strerror}"
    return "not a regular file"


def _found(path, relpath: str, reason: str | None) -> FoundFile:
    stored_relpath, valid = printable_path(relpath)
    if not valid:
        reason = "file name is not valid UTF-8: rename it"
        path = printable_path(str(path))[0]
    return FoundFile(Path(path), stored_relpath, reason)


def _file_reason(name: str, hidden: bool, hidden_parent: bool) -> str | None:
    if hidden_parent:
        return "inside a hidden or system folder"
    if hidden:
        return "hidden or system file"
    return None

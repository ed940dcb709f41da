"""Class names, split names and file names as ingest normalises them."""

from __future__ import annotations

import functools
import os
import unicodedata
from pathlib import Path

# Folder and list names that mark a split, mapped to the canonical name that
# ``load_dataset(split=...)`` matches on.
SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}


def canonical_split(name: str) -> str:
    """Return the canonical split name (``"validation"`` -> ``"val"``), else ``name`` lowered."""
    lowered = name.strip().lower()
    return SPLIT_NAMES.get(lowered, lowered)


def normalize_label(name: str) -> str:
    """Return a class name in Unicode NFC with surrounding white space removed.

    NFC makes a name typed on Linux equal to the same name that HFS+ on
    macOS stores decomposed (NFD). The result is always a string, so ``"01"``
    and ``"1"`` stay different classes.
    """
    return unicodedata.normalize("NFC", str(name)).strip()


def merged_label_notes(names) -> list[str]:
    """Return a note for every set of distinct ``names`` that one class label merges.

    ``names`` are class folder names as found on disk (``"cat"`` and
    ``"cat "``, or ``"café"`` in NFC and in NFD). :func:`normalize_label`
    makes each such set one class, and the note names every spelling with
    ``repr`` so that white space and control characters are visible.
    """
    by_label: dict[str, set[str]] = {}
    for name in names:
        label = normalize_label(name)
        if label:
            by_label.setdefault(label, set()).add(name)
    notes = []
    for label, spellings in sorted(by_label.items()):
        if len(spellings) < 2:
            continue
        ordered = sorted(spellings)
        quoted = ", ".join(repr(name) for name in ordered)
        notes.append(
            f"class folders {quoted} were merged into class {label!r} because their "
            f"names differ only by {_name_difference(ordered)}"
        )
    return notes


def _name_difference(names: list[str]) -> str:
    stripped = {name.strip() for name in names}
    if len(stripped) == 1:
        return "surrounding white space"
    composed = {unicodedata.normalize("NFC", name) for name in names}
    if len(composed) == 1:
        return "Unicode normalization (NFC and NFD spellings of the same name)"
    return "surrounding white space and Unicode normalization (NFC and NFD)"


def printable_path(text: str) -> tuple[str, bool]:
    """Return ``text`` safe to store as UTF-8, and whether it was already valid.

    File names that are not valid UTF-8 reach Python with lone surrogates
    (PEP 383), which neither SQLite, Parquet nor HTML can hold. Those bytes
    are shown as ``\\xNN`` escapes instead.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        return text, True
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # Surrogates that did not come from undecodable bytes, such as a
        # "\ud800" escape in a JSON manifest.
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "backslashreplace"), False


def find_file(path: Path) -> tuple[Path | None, str | None]:
    """Return an existing spelling of ``path`` and a note on how it was found.

    Lists written on another system often name a file in a different form
    than the disk stores it: Windows separators (``cat\\01.jpg``), or an
    accented name in Unicode NFC where macOS wrote it in NFD. The path is
    tried as given, then in those forms. Returns ``(None, None)`` when no
    form exists.
    """
    if _exists(path):
        return path, None
    text = str(path)
    variants = [
        (text.replace("\\", "/"), "Windows separators"),
        (unicodedata.normalize("NFC", text), "Unicode NFC"),
        (unicodedata.normalize("NFD", text), "Unicode NFD"),
        (unicodedata.normalize("NFC", text.replace("\\", "/")), "Unicode NFC"),
        (unicodedata.normalize("NFD", text.replace("\\", "/")), "Unicode NFD"),
    ]
    for candidate, spelling in variants:
        if candidate != text and _exists(Path(candidate)):
            return Path(candidate), f"found by its {spelling} spelling"
    return None, None


def relative_to_root(path: Path, root: Path) -> str:
    """Return ``path`` relative to ``root`` with ``/`` separators, else absolute."""
    normal = Path(os.path.normpath(path))
    try:
        return normal.relative_to(root).as_posix()
    except ValueError:
        return normal.as_posix()


def _exists(path: Path) -> bool:
    try:
        return path.exists() or path.is_symlink()
    except (OSError, ValueError):
        # ValueError: a NUL byte or an unencodable surrogate in the name,
        # which no file can have.
        return False


def file_problem(path: Path) -> str | None:
    """Return why an existing path cannot be read as an image file, or None."""
    try:
        if path.is_file():
            return None
        if path.is_dir():
            return "not a file: a folder"
        if path.is_symlink():
            if not os.path.exists(path):
                return "broken symbolic link"
            return "not a regular file: a link to a device, socket or pipe"
    except OSError as error:
        return f"unreadable entry: {error.strerror}"
    return "not a regular file"


@functools.cache
def image_suffixes() -> frozenset[str]:
    """Lower-case file suffixes of the formats Pillow registers, plus HEIC and AVIF."""
    from PIL import Image

    Image.init()
    return frozenset(Image.registered_extensions()) | {".heic", ".heif", ".avif"}

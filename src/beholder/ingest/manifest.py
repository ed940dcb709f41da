"""Read a dataset from a CSV or JSONL manifest.

A manifest has one entry per image: a path column, a label column, and
optionally a split and an id column. Column names are matched without regard
to case against common spellings (:data:`PATH_COLUMNS`, :data:`LABEL_COLUMNS`,
:data:`SPLIT_COLUMNS`, :data:`ID_COLUMNS`), or given explicitly. Relative
paths resolve against the manifest's folder, which becomes the dataset root.

Every value is read as text: CSV through the ``csv`` module and JSON numbers
as their literal text, so class ``"01"`` stays ``"01"`` and ``"1.0"`` stays
``"1.0"``. Every entry gets one ledger row whose ``listed_at`` is
``"<manifest name>:<line>"``. Entries with a missing file, an empty label, a
repeated path or a malformed line are flagged there, and
:attr:`Dataset.notes` lists their line numbers by reason.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from beholder.errors import DatasetError
from beholder.ingest.dataset import (
    Dataset,
    class_notes,
    ledger_row,
    make_images,
    make_ledger,
    reason_group,
)
from beholder.ingest.names import (
    file_problem,
    find_file,
    image_suffixes,
    normalize_label,
    printable_path,
    relative_to_root,
)
from beholder.ingest.walk import is_hidden_or_system

logger = logging.getLogger(__name__)

# Accepted column names in order of preference, compared in lower case.
PATH_COLUMNS = (
    "path",
    "filepath",
    "file_path",
    "relpath",
    "image_path",
    "img_path",
    "file",
    "filename",
    "file_name",
    "image",
    "img",
)
LABEL_COLUMNS = ("label", "class", "target", "category", "class_name", "label_name")
SPLIT_COLUMNS = ("split", "subset", "partition", "set")
ID_COLUMNS = ("id", "image_id", "uid", "uuid", "key")

MANIFEST_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_DELIMITERS = (",", ";", "\t", "|")
_MAX_LINES_SHOWN = 10


@dataclass
class _Record:
    line: int
    values: dict
    problem: str | None = None


@dataclass
class _Columns:
    path: str
    label: str
    split: str | None
    id: str | None
    notes: list[str] = field(default_factory=list)


def load_manifest(
    manifest: str | Path,
    *,
    path_column: str | None = None,
    label_column: str | None = None,
    split_column: str | None = None,
    id_column: str | None = None,
) -> Dataset:
    """Read a CSV (``.csv``, ``.tsv``) or JSON Lines (``.jsonl``, ``.ndjson``) manifest.

    Parameters
    ----------
    manifest : str or Path
        The manifest file. Relative paths in it resolve against its folder.
    path_column, label_column, split_column, id_column : str, optional
        Column names to use instead of the detected ones.

    Returns
    -------
    Dataset
        Layout ``"manifest"``. With an id column, ``images`` has a
        ``source_id`` column holding it.

    Raises
    ------
    DatasetError
        When the file is missing, not UTF-8, has no entries, has no path or
        label column, or a CSV quote is never closed.
    """
    manifest = Path(manifest).expanduser().resolve()
    kind = _check_manifest(manifest)
    overrides = {
        "path": path_column,
        "label": label_column,
        "split": split_column,
        "id": id_column,
    }
    text = _read_text(manifest)
    if kind == "csv":
        header, records = _read_csv(manifest, text, overrides)
    else:
        header, records = _read_jsonl(text)
    if not records:
        raise DatasetError(
            f"{manifest} has no entries. Add one line per image with a path "
            "and a label."
        )
    columns = _choose_columns(manifest, header, overrides)

    reader = _EntryReader(manifest, columns)
    for record in records:
        reader.read(record)
    reader.read_unlisted()
    return reader.dataset()


class _EntryReader:
    """Turn manifest records into ledger rows and image rows, one by one."""

    def __init__(self, manifest: Path, columns: _Columns):
        self.manifest = manifest
        self.root = manifest.parent
        self.columns = columns
        self.ledger: list[dict] = []
        self.images: list[dict] = []
        self.labels: set[str] = set()
        self.first_line: dict[str, tuple[int, str, str | None]] = {}
        self.ids: dict[str, list[int]] = defaultdict(list)
        self.respelled: list[tuple[int, str]] = []
        self.folders: set[Path] = set()
        self.n_unlisted = 0

    def read(self, record: _Record) -> None:
        listed_at = f"{self.manifest.name}:{record.line}"
        if record.problem:
            self._add(listed_at, "", record.problem, None, None, listed_at)
            return

        values = record.values
        raw_path, path_problem = _scalar(values.get(self.columns.path), "path")
        label, label_problem = _scalar(values.get(self.columns.label), "label")
        label = normalize_label(label) if label is not None else ""
        label, label_valid = printable_path(label)
        split = self._optional(values, self.columns.split)
        source_id = self._optional(values, self.columns.id)
        if label:
            self.labels.add(label)
        if source_id is not None:
            self.ids[source_id].append(record.line)

        if path_problem or not (raw_path or "").strip():
            reason = path_problem or "empty path"
            self._add(listed_at, "", reason, label, split, listed_at)
            return
        if "://" in raw_path:
            reason = "remote URL: download the file and list its local path"
            self._add(raw_path, raw_path, reason, label, split, listed_at)
            return

        path, reasons = self._locate(raw_path, record.line)
        if label_problem:
            reasons.append(label_problem)
        elif not label_valid:
            reasons.append("label is not valid Unicode text")
        elif not label:
            reasons.append("empty label")
        reasons.extend(self._duplicate(path, record.line, label, split))

        relpath, valid = printable_path(relative_to_root(path, self.root))
        if not valid:
            reasons = ["file name is not valid UTF-8: rename it"]
        reason = "; ".join(reasons) or None
        stored_path = printable_path(str(path))[0]
        self._add(relpath, stored_path, reason, label, split, listed_at)
        if reason is None:
            row = {
                "path": str(path),
                "relpath": relpath,
                "label": label,
                "split": split,
            }
            if self.columns.id is not None:
                row["source_id"] = source_id
            self.images.append(row)

    def read_unlisted(self) -> None:
        """Flag image files in the folders of listed files that no entry names.

        A class folder with more images than the manifest lists usually
        means entries are missing. Only those folders are read, not the
        whole tree around the manifest, and only names with an image suffix
        count.
        """
        suffixes = image_suffixes()
        for folder in sorted(self.folders):
            try:
                with os.scandir(folder) as entries:
                    names = sorted(entry.name for entry in entries if entry.is_file())
            except OSError as error:
                logger.warning(
                    "cannot list %s, so its unlisted files are not flagged: %s",
                    folder,
                    error,
                )
                continue
            for name in names:
                path = folder / name
                if os.path.normcase(str(path)) in self.first_line:
                    continue
                if is_hidden_or_system(name) or path.suffix.lower() not in suffixes:
                    continue
                relpath = printable_path(relative_to_root(path, self.root))[0]
                stored_path = printable_path(str(path))[0]
                reason = f"not listed in {self.manifest.name}"
                self._add(relpath, stored_path, reason, None, None, None)
                self.n_unlisted += 1

    def _add(self, relpath, path, reason, label, split, listed_at) -> None:
        row = ledger_row(
            relpath, path, reason, label=label or None, split=split, listed_at=listed_at
        )
        self.ledger.append(row)

    def _optional(self, values: dict, column: str | None) -> str | None:
        if column is None:
            return None
        value, problem = _scalar(values.get(column), column)
        if problem or value is None or not value.strip():
            return None
        return printable_path(value.strip())[0]

    def _locate(self, raw_path: str, line: int) -> tuple[Path, list[str]]:
        """Return the file's path (as found, or as written) and problems with it."""
        candidates = (
            [raw_path] if raw_path == raw_path.strip() else [raw_path, raw_path.strip()]
        )
        for text in candidates:
            found, respelling = find_file(self._resolve(text))
            if found is not None:
                if respelling or text != raw_path:
                    spelling = respelling or "trimmed of white space"
                    self.respelled.append((line, spelling))
                problem = file_problem(found)
                found = Path(os.path.normpath(found))
                self.folders.add(found.parent)
                return found, [problem] if problem else []
        path = self._resolve(raw_path.strip())
        return Path(os.path.normpath(path)), ["file not found"]

    def _resolve(self, text: str) -> Path:
        written = Path(text)
        return written if written.is_absolute() else self.root / written

    def _duplicate(self, path: Path, line: int, label: str, split) -> list[str]:
        key = os.path.normcase(str(path))
        if key not in self.first_line:
            self.first_line[key] = (line, label, split)
            return []
        first, first_label, first_split = self.first_line[key]
        if first_split != split and first_label == label:
            return [
                f"duplicate path in two splits: line {first} lists it in "
                f"'{first_split}', this line in '{split}'"
            ]
        if first_label == label:
            return [f"duplicate path: first listed on line {first}"]
        reason = (
            f"duplicate path with a different label: line {first} gives "
            f"'{first_label}', this line '{label}'"
        )
        return [reason]

    def dataset(self) -> Dataset:
        extra = ("source_id",) if self.columns.id is not None else ()
        dataset = Dataset(
            root=self.root,
            images=make_images(self.images, extra),
            ledger=make_ledger(self.ledger),
            layout="manifest",
            source=str(self.manifest),
            declared_classes=sorted(self.labels),
        )
        dataset.add_notes(self.columns.notes)
        dataset.add_notes(_line_notes(self.manifest.name, dataset))
        dataset.add_notes(self._spelling_notes())
        dataset.add_notes(self._id_notes())
        if self.n_unlisted:
            note = (
                f"{self.n_unlisted} image files in folders of listed images are "
                f"not listed in {self.manifest.name}; they are flagged"
            )
            dataset.add_notes([note])
        dataset.add_notes(class_notes(dataset))
        return dataset

    def _spelling_notes(self) -> list[str]:
        if not self.respelled:
            return []
        lines = _format_lines([line for line, _ in self.respelled])
        spellings = sorted({spelling for _, spelling in self.respelled})
        note = (
            f"{self.manifest.name}: {len(self.respelled)} paths matched a file only "
            f"after a respelling ({', '.join(spellings)}) on lines {lines}"
        )
        return [note]

    def _id_notes(self) -> list[str]:
        repeated = {k: v for k, v in self.ids.items() if len(v) > 1}
        if not repeated:
            return []
        examples = sorted(repeated.items(), key=lambda item: item[1][0])[:3]
        listing = "; ".join(f"'{k}' on lines {_format_lines(v)}" for k, v in examples)
        return [
            f"{self.manifest.name}: {len(repeated)} ids occur more than once ({listing})"
        ]


def _check_manifest(manifest: Path) -> str:
    if not manifest.exists():
        raise DatasetError(f"{manifest} does not exist. Check the manifest path.")
    if not manifest.is_file():
        raise DatasetError(f"{manifest} is not a file. Give a .csv or .jsonl manifest.")
    kind = MANIFEST_SUFFIXES.get(manifest.suffix.lower())
    if kind is None:
        raise DatasetError(
            f"{manifest} has the suffix '{manifest.suffix}'; manifests must end in "
            f"{', '.join(MANIFEST_SUFFIXES)}. Rename the file to match its content."
        )
    return kind


def _read_text(manifest: Path) -> str:
    try:
        return manifest.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        line = manifest.read_bytes()[: error.start].count(b"\n") + 1
        raise DatasetError(
            f"{manifest} is not valid UTF-8 (line {line}, byte {error.start}). "
            "Save it as UTF-8, for example with 'iconv -f cp1252 -t utf-8'."
        ) from None
    except OSError as error:
        raise DatasetError(f"{manifest} cannot be read: {error.strerror}.") from None


def _read_csv(manifest: Path, text: str, overrides: dict):
    known = set(PATH_COLUMNS + LABEL_COLUMNS)
    known |= {name.lower() for name in overrides.values() if name}
    delimiter = "\t" if manifest.suffix.lower() == ".tsv" else _sniff(text, known)
    # strict: an unclosed quote would otherwise swallow the rest of the file
    # into one field, and every entry after it would vanish unreported.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header, records = None, []
    previous = 0
    try:
        for row in reader:
            start, previous = previous + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = _clean_header(manifest, row)
                continue
            records.append(_csv_record(start, header, row))
    except csv.Error as error:
        raise DatasetError(
            f"{manifest} line {previous + 1} cannot be parsed as CSV ({error}). "
            "Check that every quoted value has a closing quote followed by the "
            "delimiter."
        ) from None
    return header or [], records


def _csv_record(line: int, header: list[str], row: list[str]) -> _Record:
    if len(row) > len(header):
        return _Record(
            line,
            {},
            f"malformed line: {len(row)} fields but the header has {len(header)}; "
            "quote values that contain the delimiter",
        )
    return _Record(line, dict(zip(header, row)))


def _sniff(text: str, known: set[str]) -> str:
    """Pick the delimiter under which the header names a known column."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    for delimiter in _DELIMITERS:
        names = next(csv.reader([first], delimiter=delimiter), [])
        if len(names) > 1 and any(n.strip().lower() in known for n in names):
            return delimiter
    return ","


def _clean_header(manifest: Path, row: list[str]) -> list[str]:
    header = [cell.strip() for cell in row]
    seen = set()
    for name in header:
        if name and name in seen:
            raise DatasetError(
                f"{manifest}: column '{name}' appears twice in the header. "
                "Rename one of them."
            )
        seen.add(name)
    return header


def _read_jsonl(text: str):
    header: dict[str, None] = {}
    records = []
    for line, content in enumerate(text.split("\n"), start=1):
        if not content.strip():
            continue
        try:
            # Numbers stay as their literal text, so labels 1 and 01 never
            # become the same integer.
            value = json.loads(content, parse_int=str, parse_float=str)
        except json.JSONDecodeError as error:
            records.append(
                _Record(line, {}, f"malformed line: not valid JSON ({error.msg})")
            )
            continue
        if not isinstance(value, dict):
            records.append(_Record(line, {}, "malformed line: not a JSON object"))
            continue
        header.update(dict.fromkeys(value))
        records.append(_Record(line, value))
    return list(header), records


def _choose_columns(manifest: Path, header: list[str], overrides: dict) -> _Columns:
    chosen, notes = {}, []
    candidates = {
        "path": PATH_COLUMNS,
        "label": LABEL_COLUMNS,
        "split": SPLIT_COLUMNS,
        "id": ID_COLUMNS,
    }
    for role, names in candidates.items():
        column, note = _choose(manifest, header, role, names, overrides[role])
        chosen[role] = column
        if note:
            notes.append(note)

    for role in ("path", "label"):
        if chosen[role] is None:
            column_names = ", ".join(f"'{name}'" for name in header) or "none"
            raise DatasetError(
                f"{manifest} has no {role} column. Its columns are {column_names}; "
                f"name one {' or '.join(candidates[role][:4])}, or pass "
                f"{role}_column=NAME (--{role}-column on the command line)."
            )
    used = ", ".join(f"{role}='{col}'" for role, col in chosen.items() if col)
    notes.insert(0, f"{manifest.name}: columns used: {used}")
    return _Columns(
        chosen["path"], chosen["label"], chosen["split"], chosen["id"], notes
    )


def _choose(manifest, header, role, names, override):
    """Return the column for ``role`` and a note when other candidates were present."""
    by_lower = {}
    for name in header:
        by_lower.setdefault(name.lower(), name)
    if override is not None:
        if override in header:
            return override, None
        if override.lower() in by_lower:
            return by_lower[override.lower()], None
        column_names = ", ".join(f"'{name}'" for name in header)
        raise DatasetError(
            f"{role}_column={override!r} is not a column of {manifest}. "
            f"Its columns are {column_names}."
        )
    present = [by_lower[name] for name in names if name in by_lower]
    if not present:
        return None, None
    note = None
    if len(present) > 1:
        others = ", ".join(f"'{name}'" for name in present[1:])
        note = (
            f"{manifest.name}: used column '{present[0]}' for the {role}; also "
            f"found {others} (pass {role}_column= to choose)"
        )
    return present[0], note


def _scalar(value, role: str) -> tuple[str | None, str | None]:
    """Return a manifest value as text, or a problem when it is not one value."""
    if value is None or isinstance(value, str):
        return value, None
    if isinstance(value, bool):
        return ("true" if value else "false"), None
    if isinstance(value, list):
        if role == "label":
            return None, "label is a list: beholder audits single-label datasets"
        return None, f"{role} is a list, not a single value"
    return None, f"{role} is a JSON object, not a single value"


def _line_notes(name: str, dataset: Dataset) -> list[str]:
    flagged = dataset.ledger[dataset.ledger["status"] == "flagged"]
    # Unlisted files have no line. The note from read_unlisted counts them.
    flagged = flagged[flagged["listed_at"].notna()]
    lines_by_reason = defaultdict(list)
    for reason, listed_at in zip(flagged["reason"], flagged["listed_at"]):
        for part in str(reason).split("; "):
            lines_by_reason[reason_group(part)].append(int(listed_at.rsplit(":", 1)[1]))
    return [
        f"{name}: {reason} on lines {_format_lines(lines)}"
        for reason, lines in sorted(lines_by_reason.items())
    ]


def _format_lines(lines: list[int]) -> str:
    text = ", ".join(str(line) for line in lines[:_MAX_LINES_SHOWN])
    if len(lines) > _MAX_LINES_SHOWN:
        text += f" and {len(lines) - _MAX_LINES_SHOWN} more"
    return text

"""The in-memory dataset that every stage after ingest works on.

A :class:`Dataset` has two tables:

``images``
    one row per image that later stages use, with columns ``image_id``
    (0..n-1, the row index of every per-image array), ``path`` (absolute),
    ``relpath`` (relative to the dataset root, ``/``-separated), ``label``
    (the class name, always a string) and ``split`` (``None`` when the layout
    has no splits). Layouts may add columns (a manifest's ``source_id``).
``ledger``
    one row per file the user gave, with ``relpath``, ``path``, ``status``
    (``"read"`` or ``"flagged"``), ``stage`` where it was flagged and a
    ``reason`` a person can act on, plus ``label``, ``split`` and
    ``listed_at`` (``"labels.csv:12"`` for entries read from a list) where
    they are known. ``given = read + flagged`` always holds.

A reason is a fixed phrase, optionally followed by ``": "`` and details
(``"duplicate path: first listed on line 3"``). :meth:`Dataset.ledger_summary`
counts flagged files by the phrase.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

logger = logging.getLogger(__name__)

IMAGE_COLUMNS = ["image_id", "path", "relpath", "label", "split"]
LEDGER_COLUMNS = ["relpath", "path", "status", "stage", "reason"]
LEDGER_EXTRA_COLUMNS = ["label", "split", "listed_at"]


@dataclass
class Dataset:
    """Images with labels and the ledger that accounts for every given file.

    ``declared_classes`` lists every class name the layout declares, including
    classes with no usable image (an empty class folder, a label whose files
    are all missing). :attr:`classes` lists only classes with at least one
    image, and is what class indices refer to.
    """

    root: Path
    images: pd.DataFrame
    ledger: pd.DataFrame
    layout: str
    source: str = ""
    notes: list[str] = field(default_factory=list)
    declared_classes: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.images = self.images.reset_index(drop=True)
        self.images["image_id"] = range(len(self.images))
        self.images = self.images[IMAGE_COLUMNS + _extra_columns(self.images)]
        _check_labels(self.images["label"])

        ledger = self.ledger.reset_index(drop=True)
        for column in LEDGER_EXTRA_COLUMNS:
            if column not in ledger.columns:
                ledger[column] = None
        extra = [c for c in ledger.columns if c not in LEDGER_COLUMNS]
        self.ledger = ledger[LEDGER_COLUMNS + extra]

        known = set(self.declared_classes) | set(self.images["label"])
        known |= {x for x in self.ledger["label"] if isinstance(x, str) and x}
        self.declared_classes = sorted(known)

    @property
    def classes(self) -> list[str]:
        """Class names in index order: sorted as strings, like torchvision.

        Names sort by code point, so classes ``"1"``, ``"2"``, ``"10"`` come
        out as ``["1", "10", "2"]``. Only classes with at least one image
        are listed; see ``declared_classes`` for the rest.
        """
        return sorted(self.images["label"].unique().tolist())

    @property
    def class_index(self) -> dict[str, int]:
        """Map from class name to its index in :attr:`classes`."""
        return {name: i for i, name in enumerate(self.classes)}

    @property
    def labels(self):
        """Class index of every image, shape ``(n_images,)``."""
        return self.images["label"].map(self.class_index).to_numpy()

    @property
    def n_images(self) -> int:
        return len(self.images)

    @property
    def splits(self) -> list[str]:
        """Split names that occur in the images or the ledger, sorted."""
        values = set(self.images["split"].dropna()) | set(self.ledger["split"].dropna())
        return sorted(str(x) for x in values)

    def flag(self, reasons: dict[str, str], *, stage: str) -> Dataset:
        """Return a copy without the images in ``reasons``, recorded in the ledger.

        ``reasons`` maps an image's ``relpath`` to why it cannot be used.
        Image ids are renumbered so that they stay 0..n-1, and class indices
        change when a class loses its last image. Such classes, and classes
        left with one image, get a line in ``notes``.
        """
        if not reasons:
            return self
        keep = ~self.images["relpath"].isin(reasons.keys())
        ledger = self.ledger.copy()
        hit = ledger["relpath"].isin(reasons.keys()) & (ledger["status"] == "read")
        ledger.loc[hit, "status"] = "flagged"
        ledger.loc[hit, "stage"] = stage
        ledger.loc[hit, "reason"] = ledger.loc[hit, "relpath"].map(reasons)
        flagged = Dataset(
            root=self.root,
            images=self.images[keep].copy(),
            ledger=ledger,
            layout=self.layout,
            source=self.source,
            notes=list(self.notes),
            declared_classes=list(self.declared_classes),
        )
        before = self.images["label"].value_counts()
        flagged.add_notes(class_notes(flagged, before=before, when=f"after {stage}"))
        return flagged

    def select_split(self, split: str) -> Dataset:
        """Return the images and ledger rows of one split.

        Ledger rows that belong to no split (a stray file at the root, a file
        that no split list names) are kept, because they were given either
        way. Raises ``KeyError`` when no row has that split; use
        :func:`beholder.ingest.load_dataset` with ``split=`` for a
        user-facing error.
        """
        if split not in self.splits:
            raise KeyError(split)
        images = self.images[self.images["split"] == split].copy()
        rows = (self.ledger["split"] == split) | self.ledger["split"].isna()
        return Dataset(
            root=self.root,
            images=images,
            ledger=self.ledger[rows].copy(),
            layout=self.layout,
            source=self.source,
            notes=list(self.notes),
            declared_classes=list(self.declared_classes),
        )

    def add_notes(self, notes: list[str]) -> None:
        """Append notes that are not already present, logging each one."""
        for note in notes:
            if note not in self.notes:
                logger.warning("%s", note)
                self.notes.append(note)

    def class_summary(self) -> pd.DataFrame:
        """Count the given, read and flagged files of every declared class.

        Returns one row per class in ``declared_classes``, with columns
        ``label``, ``class_index`` (-1 for a class without images),
        ``n_given``, ``n_read`` and ``n_flagged``.
        """
        index = self.class_index
        given_counts = self.ledger["label"].value_counts()
        read_counts = self.images["label"].value_counts()
        rows = []
        for name in self.declared_classes:
            n_given = int(given_counts.get(name, 0))
            n_read = int(read_counts.get(name, 0))
            rows.append(
                {
                    "label": name,
                    "class_index": index.get(name, -1),
                    "n_given": n_given,
                    "n_read": n_read,
                    "n_flagged": n_given - n_read,
                }
            )
        columns = ["label", "class_index", "n_given", "n_read", "n_flagged"]
        return pd.DataFrame(rows, columns=columns)

    def ledger_summary(self) -> dict:
        """Counts of given, read and flagged files, flagged files by reason, and classes."""
        flagged = self.ledger[self.ledger["status"] == "flagged"]
        by_reason = flagged["reason"].map(reason_group).value_counts()
        counts = self.images["label"].value_counts()
        return {
            "given": len(self.ledger),
            "read": int((self.ledger["status"] == "read").sum()),
            "flagged": len(flagged),
            "flagged_by_reason": {k: int(v) for k, v in by_reason.items()},
            "n_classes": len(self.classes),
            "classes_without_images": [
                name for name in self.declared_classes if name not in counts
            ],
            "single_image_classes": sorted(counts[counts == 1].index.tolist()),
            "notes": list(self.notes),
        }


def reason_group(reason: str) -> str:
    """Return the fixed phrase of a ledger reason, without details after ``": "``."""
    return str(reason).split(": ", 1)[0]


def class_notes(dataset: Dataset, *, before=None, when: str = "") -> list[str]:
    """Return notes on classes with no image or a single image.

    With ``before`` (image counts per class from an earlier state), only
    classes whose count dropped into those cases are reported.
    """
    counts = dataset.images["label"].value_counts()
    flagged = dataset.ledger[dataset.ledger["status"] == "flagged"]
    n_flagged = flagged["label"].value_counts()
    suffix = f" {when}" if when else ""
    notes = []
    for name in dataset.declared_classes:
        n_now = int(counts.get(name, 0))
        if before is not None and int(before.get(name, 0)) == n_now:
            continue
        if n_now == 0:
            count = int(n_flagged.get(name, 0))
            detail = f"{count} {'file' if count == 1 else 'files'} flagged"
            notes.append(f"class '{name}' has no usable image{suffix} ({detail})")
        elif n_now == 1:
            notes.append(f"class '{name}' has a single image{suffix}")
    return notes


def ledger_row(
    relpath: str,
    path: str,
    reason: str | None = None,
    *,
    label: str | None = None,
    split: str | None = None,
    listed_at: str | None = None,
    stage: str = "ingest",
) -> dict:
    """Return one ledger row: ``read`` when ``reason`` is None, else ``flagged``."""
    return {
        "relpath": relpath,
        "path": path,
        "status": "flagged" if reason else "read",
        "stage": stage if reason else None,
        "reason": reason,
        "label": label,
        "split": split,
        "listed_at": listed_at,
    }


def make_ledger(rows: list[dict]) -> pd.DataFrame:
    """Build a ledger table from dicts with the keys of ``LEDGER_COLUMNS``."""
    columns = LEDGER_COLUMNS + LEDGER_EXTRA_COLUMNS
    ledger = pd.DataFrame(rows, columns=columns)
    return ledger.astype({"relpath": str, "path": str, "status": str})


def make_images(rows: list[dict], extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Build an images table (without ``image_id``) from dicts."""
    columns = ["path", "relpath", "label", "split", *extra]
    return pd.DataFrame(rows, columns=columns)


def _extra_columns(images: pd.DataFrame) -> list[str]:
    return [c for c in images.columns if c not in IMAGE_COLUMNS]


def _check_labels(labels: pd.Series) -> None:
    bad = [x for x in labels if not isinstance(x, str)]
    if bad:
        raise TypeError(
            f"Dataset labels must be strings; got {type(bad[0]).__name__} "
            f"{bad[0]!r}. Convert class names with str() before building a "
            "Dataset, so that '01' and '1' stay different classes."
        )

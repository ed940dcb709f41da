"""The in-memory dataset that every stage after ingest works on.

A :class:`Dataset` has two tables:

``images``
    one row per image that later stages use, with columns ``image_id``
    (0..n-1, the row index of every per-image array), ``path`` (absolute),
    ``relpath`` (relative to the dataset root, ``/``-separated), ``label``
    (the class name, always a string) and ``split`` (``None`` when the layout
    has no splits).
``ledger``
    one row per file the user gave, with ``relpath``, ``path``, ``status``
    (``"read"`` or ``"flagged"``), ``stage`` where it was flagged and a
    ``reason`` a person can act on. ``given = read + flagged`` always holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

IMAGE_COLUMNS = ["image_id", "path", "relpath", "label", "split"]
LEDGER_COLUMNS = ["relpath", "path", "status", "stage", "reason"]


@dataclass
class Dataset:
    """Images with labels and the ledger that accounts for every given file."""

    root: Path
    images: pd.DataFrame
    ledger: pd.DataFrame
    layout: str
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.images = self.images.reset_index(drop=True)
        self.images["image_id"] = range(len(self.images))
        self.images = self.images[IMAGE_COLUMNS + _extra_columns(self.images)]
        self.ledger = self.ledger.reset_index(drop=True)[LEDGER_COLUMNS]

    @property
    def classes(self) -> list[str]:
        """Class names in index order: sorted as strings, like torchvision."""
        return sorted(self.images["label"].unique().tolist())

    @property
    def labels(self):
        """Class index of every image, shape ``(n_images,)``."""
        index = {name: i for i, name in enumerate(self.classes)}
        return self.images["label"].map(index).to_numpy()

    @property
    def n_images(self) -> int:
        return len(self.images)

    def flag(self, reasons: dict[str, str], *, stage: str) -> Dataset:
        """Return a copy without the images in ``reasons``, recorded in the ledger.

        ``reasons`` maps an image's ``relpath`` to why it cannot be used.
        Image ids are renumbered so that they stay 0..n-1.
        """
        if not reasons:
            return self
        keep = ~self.images["relpath"].isin(reasons.keys())
        ledger = self.ledger.copy()
        hit = ledger["relpath"].isin(reasons.keys()) & (ledger["status"] == "read")
        ledger.loc[hit, "status"] = "flagged"
        ledger.loc[hit, "stage"] = stage
        ledger.loc[hit, "reason"] = ledger.loc[hit, "relpath"].map(reasons)
        return Dataset(
            root=self.root,
            images=self.images[keep].copy(),
            ledger=ledger,
            layout=self.layout,
            source=self.source,
            notes=list(self.notes),
        )

    def ledger_summary(self) -> dict:
        """Counts of given, read and flagged files, and flagged files by reason."""
        flagged = self.ledger[self.ledger["status"] == "flagged"]
        return {
            "given": len(self.ledger),
            "read": int((self.ledger["status"] == "read").sum()),
            "flagged": len(flagged),
            "flagged_by_reason": flagged["reason"].value_counts().to_dict(),
        }


def _extra_columns(images: pd.DataFrame) -> list[str]:
    return [c for c in images.columns if c not in IMAGE_COLUMNS]


def make_ledger(rows: list[dict]) -> pd.DataFrame:
    """Build a ledger table from dicts with the keys of ``LEDGER_COLUMNS``."""
    ledger = pd.DataFrame(rows, columns=LEDGER_COLUMNS)
    return ledger.astype({"relpath": str, "path": str, "status": str})

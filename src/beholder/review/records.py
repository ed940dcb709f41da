"""The audit's records as the review app reads them: images, classes, findings.

Everything here is read once when the app starts and then only read, so
request handlers share it without locks. Decisions live in the journal
(:mod:`beholder.review.journal`), never here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from beholder.errors import StoreError
from beholder.review.journal import find_mismatched_rows
from beholder.store import RunStore

logger = logging.getLogger(__name__)

REQUIRED_TABLES = ("images", "classes", "label_issues", "class_pairs")
IMAGE_COLUMNS = ("image_id", "path", "relpath", "label")
# Tables that other stages may add to a run; the app shows them when present.
BIAS_TABLES = ("bias_slices",)
DUPLICATE_TABLES = ("duplicates", "duplicate_clusters")
PROPERTY_TABLES = ("properties",)
N_EXAMPLES = 4


@dataclass
class ReviewRecords:
    """One run's tables, indexed for the lookups a review step makes.

    Attributes
    ----------
    images : DataFrame
        One row per image, indexed by ``image_id``, with at least ``path``,
        ``relpath``, ``label``, ``split``, ``predicted`` and ``confidence``.
    classes : list of str
        Class names; class index ``i`` is ``classes[i]``.
    issues : DataFrame
        The ``label_issues`` table indexed by ``image_id``.
    pairs : DataFrame
        The ``class_pairs`` table, most confused pair first.
    probabilities : ndarray of shape (n_images, n_classes), or None
        Out-of-sample probabilities, memory-mapped, when the run has them.
    optional_tables : dict of str to DataFrame
        Tables other stages may add (bias slices, duplicates, properties).
    examples : dict of str to list of int
        For each class, ids of its most confidently and correctly predicted
        images, shown beside a suspect as typical members of the class.
    """

    run_dir: Path
    meta: dict
    images: pd.DataFrame
    classes: list[str]
    issues: pd.DataFrame
    pairs: pd.DataFrame
    probabilities: np.ndarray | None = None
    optional_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    examples: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def load(cls, store: RunStore) -> ReviewRecords:
        """Read the run's tables and arrays from ``store``.

        Raises
        ------
        StoreError
            When a required table or column is missing.
        """
        meta = store.read_meta()
        tables = {name: store.read_table(name) for name in REQUIRED_TABLES}
        images = _index_images(tables["images"], store.run_dir)
        classes = [
            str(name) for name in tables["classes"].sort_values("class_index")["name"]
        ]
        issues = tables["label_issues"].set_index("image_id", drop=False)
        issues.index.name = None
        probabilities = _load_probabilities(store, len(images), len(classes))
        optional = {}
        for name in BIAS_TABLES + DUPLICATE_TABLES + PROPERTY_TABLES:
            frame = _read_optional_table(store, name)
            if frame is not None:
                optional[name] = frame
        records = cls(
            run_dir=store.run_dir,
            meta=meta,
            images=images,
            classes=classes,
            issues=issues,
            pairs=tables["class_pairs"].reset_index(drop=True),
            probabilities=probabilities,
            optional_tables=optional,
        )
        records.examples = _typical_examples(images, classes)
        logger.info(
            "loaded run %s: %d images, %d classes, optional tables %s",
            store.run_dir,
            len(images),
            len(classes),
            sorted(optional) or "none",
        )
        return records

    def __post_init__(self):
        # Plain Python lists per column: a pandas lookup of one cell of an
        # Arrow-backed string column costs tens of microseconds, and every
        # decision needs several.
        images = self.images
        self._position = {int(i): k for k, i in enumerate(images["image_id"])}
        self._columns = {
            name: [None if _missing(v) else str(v) for v in images[name]]
            for name in ("path", "relpath", "label", "predicted", "content_hash")
        }
        self.class_set = frozenset(self.classes)

    @property
    def n_images(self) -> int:
        return len(self.images)

    def has_image(self, image_id: int) -> bool:
        return image_id in self._position

    def check_journal(self, rows: Iterable[dict]) -> None:
        """Raise StoreError when journal rows were written against another audit.

        Decisions are stored by ``image_id``. A row whose image this run lacks,
        or has under another relative path, means the folder was audited
        again after the review, and applying the row would change the wrong
        image.
        """
        mismatched = find_mismatched_rows(rows, self._relpath_or_none)
        if not mismatched:
            return
        row = mismatched[0]
        current = self._relpath_or_none(int(row["image_id"]))
        now = f"is now {current!r}" if current is not None else "is not in this run"
        raise StoreError(
            f"{len(mismatched)} review journal rows do not match this run's images "
            f"(decision {row['decision_id']}: image {row['image_id']} was "
            f"{row['relpath']!r} and {now}). The run was audited again after the "
            "review. Use the run folder the review was done on, or the one kept "
            "as RUN_DIR.previous-<time>."
        )

    def _relpath_or_none(self, image_id: int) -> str | None:
        return self.relpath(image_id) if self.has_image(image_id) else None

    def _cell(self, name: str, image_id: int) -> str | None:
        return self._columns[name][self._position[image_id]]

    def given_label(self, image_id: int) -> str:
        return self._cell("label", image_id)

    def relpath(self, image_id: int) -> str:
        return self._cell("relpath", image_id)

    def predicted(self, image_id: int) -> str | None:
        return self._cell("predicted", image_id)

    def image_path(self, image_id: int) -> Path:
        """Return the file of ``image_id`` as the audit recorded it."""
        return Path(self._cell("path", image_id))

    def content_hash(self, image_id: int) -> str | None:
        return self._cell("content_hash", image_id)

    def issue(self, image_id: int) -> dict | None:
        """Return the label-issue scores of ``image_id``, or None."""
        if image_id not in self.issues.index:
            return None
        row = self.issues.loc[image_id]
        result = {
            "rank": _plain(row.get("rank")),
            "score": _plain(row.get("label_issue_score")),
            "is_label_issue": _plain(row.get("is_label_issue")),
            "suggested": _plain(row.get("suggested")),
            "self_confidence": _plain(row.get("self_confidence")),
            "normalized_margin": _plain(row.get("normalized_margin")),
        }
        return result

    def disagreeing_neighbours(self, image_id: int, *, limit: int = 8) -> list[int]:
        """Return ids of nearby images with another label, nearest first."""
        if "disagreeing_neighbours" not in self.issues.columns:
            return []
        if image_id not in self.issues.index:
            return []
        ids = parse_id_list(self.issues.at[image_id, "disagreeing_neighbours"])
        return [i for i in ids if self.has_image(i)][:limit]

    def top_probabilities(self, image_id: int, *, k: int = 5) -> list[dict]:
        """Return the ``k`` most probable classes of ``image_id``, in order."""
        if self.probabilities is None:
            return []
        row = np.asarray(self.probabilities[image_id], dtype=np.float64)
        order = np.argsort(-row, kind="stable")[:k]
        return [
            {"label": self.classes[i], "probability": round(float(row[i]), 4)}
            for i in order
        ]


def parse_id_list(value) -> list[int]:
    """Read a list of image ids from a Parquet list cell or its JSON text in SQL."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return []
    if isinstance(value, (int, np.integer)):
        return [int(value)]
    try:
        return [int(item) for item in value]
    except (TypeError, ValueError):
        return []


def _index_images(images: pd.DataFrame, run_dir: Path) -> pd.DataFrame:
    missing = [name for name in IMAGE_COLUMNS if name not in images.columns]
    if missing:
        raise StoreError(
            f"Table 'images' of run {run_dir} lacks columns {missing}; "
            "rerun beholder audit."
        )
    if images["image_id"].duplicated().any():
        raise StoreError(f"Table 'images' of run {run_dir} repeats image ids.")
    images = images.copy()
    for name, default in (("split", None), ("predicted", None), ("confidence", np.nan)):
        if name not in images.columns:
            images[name] = default
    if "content_hash" not in images.columns:
        images["content_hash"] = None
    images["label"] = images["label"].astype(str)
    images = images.set_index("image_id", drop=False).sort_index()
    # The index repeats the column so that lookups by id stay short; an
    # unnamed index keeps pandas from treating "image_id" as ambiguous.
    images.index.name = None
    return images


def _load_probabilities(store: RunStore, n_images: int, n_classes: int):
    path = store.run_dir / "probabilities.npy"
    if not path.is_file():
        return None
    array = np.load(path, mmap_mode="r")
    if array.shape != (n_images, n_classes):
        logger.warning(
            "ignoring %s: shape %s does not match %d images x %d classes",
            path,
            array.shape,
            n_images,
            n_classes,
        )
        return None
    return array


def _read_optional_table(store: RunStore, name: str) -> pd.DataFrame | None:
    """Read table ``name`` from Parquet or the database; None when it is absent."""
    if store.has_table(name):
        return store.read_table(name)
    import sqlalchemy

    if not sqlalchemy.inspect(store.engine).has_table(name):
        return None
    return pd.read_sql_table(name, store.engine)


def _typical_examples(images: pd.DataFrame, classes: list[str]) -> dict[str, list[int]]:
    correct = images[images["predicted"].astype(str) == images["label"]]
    ranked = correct.sort_values(["confidence", "image_id"], ascending=[False, True])
    examples = {name: [] for name in classes}
    for label, group in ranked.groupby("label", sort=False):
        examples[str(label)] = [int(i) for i in group["image_id"].head(N_EXAMPLES)]
    return examples


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _plain(value):
    """Turn a NumPy or pandas scalar into a JSON-ready Python value."""
    if _missing(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value

"""The model-free scan: properties, issue checks and duplicates in one pass.

:func:`scan_dataset` decodes every image once (in worker processes), runs
every registered issue check on the property table, and finds exact and
near duplicates from the perceptual hashes. With ``embeddings`` (the audit
has them) near duplicates also come from embedding similarity.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from beholder import __version__
from beholder.progress import NullProgress, Progress
from beholder.properties.checks import get_check, run_checks
from beholder.properties.checks.base import IssueCheck, available_checks
from beholder.properties.duplicates import (
    DEFAULT_MAX_HASH_DISTANCE,
    DEFAULT_MIN_COSINE,
    DuplicateResult,
    find_duplicates,
)
from beholder.properties.parallel import resolve_n_jobs
from beholder.properties.table import compute_properties

logger = logging.getLogger(__name__)

SUMMARY_FILENAME = "summary.json"


@dataclass
class ScanResult:
    """Tables and summary returned by :func:`scan_dataset`, in dataset image order.

    ``properties``
        The property table (columns in :mod:`beholder.properties.measure`).
    ``issues``
        One row per image: ``image_id``, ``relpath``, ``label``, ``split``,
        then ``is_<issue>`` and ``<issue>_score`` for each check and for
        ``exact_duplicate``, ``near_duplicate``, ``split_leakage`` and
        ``label_conflict``, and ``duplicate_cluster`` (-1 for none).
    ``duplicates``
        One row per duplicate pair; see
        :class:`beholder.properties.duplicates.DuplicateResult`.
    ``clusters``
        One row per image in a duplicate cluster.
    ``summary``
        Counts per issue, duplicate counts, timings and the thresholds used.
    ``failed``
        ``relpath -> reason`` for files that could not be decoded, ready for
        ``Dataset.flag(failed, stage="scan")``.
    """

    properties: pd.DataFrame
    issues: pd.DataFrame
    duplicates: pd.DataFrame
    clusters: pd.DataFrame
    summary: dict
    failed: dict[str, str] = field(default_factory=dict)

    def for_dataset(self, dataset) -> ScanResult:
        """Return this result restricted and renumbered to ``dataset``'s images.

        Use it after ``dataset.flag(...)`` removed images: rows are matched
        by ``relpath``, and ``image_id`` (also in pairs and clusters) becomes
        the new row index. Images of ``dataset`` that were not scanned raise
        ValueError.
        """
        relpaths = dataset.images["relpath"].to_numpy()
        position = pd.Series(np.arange(len(self.issues)), index=self.issues["relpath"])
        missing = [r for r in relpaths if r not in position.index]
        if missing:
            raise ValueError(
                f"{len(missing)} images of the dataset were not scanned "
                f"(first: {missing[0]}); scan this dataset instead."
            )
        old_ids = position.loc[relpaths].to_numpy()
        new_id = pd.Series(np.arange(len(relpaths)), index=old_ids)

        def renumber(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
            keep = np.ones(len(table), dtype=bool)
            for column in columns:
                keep &= table[column].isin(new_id.index).to_numpy()
            table = table[keep].copy()
            for column in columns:
                table[column] = table[column].map(new_id).astype(np.int64)
            return table.reset_index(drop=True)

        properties = self.properties.iloc[old_ids].reset_index(drop=True)
        properties["image_id"] = np.arange(len(relpaths))
        issues = self.issues.iloc[old_ids].reset_index(drop=True)
        issues["image_id"] = np.arange(len(relpaths))
        kept = set(relpaths)
        return replace(
            self,
            properties=properties,
            issues=issues,
            duplicates=renumber(self.duplicates, ["image_id_a", "image_id_b"]),
            clusters=renumber(self.clusters, ["image_id"]),
            failed={k: v for k, v in self.failed.items() if k in kept},
        )

    def with_duplicates(self, duplicates: DuplicateResult) -> ScanResult:
        """Return this result with its duplicate tables and columns replaced.

        Use it to add embedding-based near duplicates after a model-free scan:
        ``scan.with_duplicates(find_duplicates(dataset, scan.properties,
        embeddings=vectors))``, with ``dataset`` the one ``scan`` describes.
        """
        if len(duplicates.images) != len(self.issues):
            raise ValueError(
                f"the duplicate result covers {len(duplicates.images)} images but "
                f"this scan has {len(self.issues)}; use the dataset of this scan."
            )
        issues = self.issues.copy()
        for column in duplicates.images.columns:
            issues[column] = duplicates.images[column].to_numpy()
        summary = dict(self.summary)
        summary["duplicates"] = duplicates.summary
        for name in (
            "exact_duplicate",
            "near_duplicate",
            "split_leakage",
            "label_conflict",
        ):
            summary["issue_counts"] = {
                **summary["issue_counts"],
                name: int(issues[f"is_{name}"].sum()),
            }
        return replace(
            self,
            issues=issues,
            duplicates=duplicates.pairs,
            clusters=duplicates.clusters,
            summary=summary,
        )

    def write(
        self, folder: str | Path, *, ledger: pd.DataFrame | None = None
    ) -> list[Path]:
        """Write the tables as Parquet and CSV, and the summary as JSON.

        Returns the paths written: ``properties``, ``issues``, ``duplicates``
        and ``clusters`` as ``.parquet`` and ``.csv``, and ``summary.json``.
        With ``ledger`` (``dataset.flag(result.failed, stage="scan").ledger``)
        it is written as ``ledger.parquet`` and ``ledger.csv`` too, and
        ``summary.json`` gets the counts of files given, read and flagged.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        properties = self.properties.copy()
        properties.insert(1, "relpath", self.issues["relpath"].to_numpy())
        tables = {
            "properties": properties,
            "issues": self.issues,
            "duplicates": self.duplicates,
            "clusters": self.clusters,
        }
        summary = {"beholder_version": __version__, **self.summary}
        if ledger is not None:
            tables["ledger"] = ledger
            status = ledger["status"]
            summary["files"] = {
                "given": len(ledger),
                "read": int((status == "read").sum()),
                "flagged": int((status == "flagged").sum()),
            }
        written = []
        for name, table in tables.items():
            for suffix in (".parquet", ".csv"):
                path = folder / f"{name}{suffix}"
                if suffix == ".parquet":
                    table.to_parquet(path, index=False)
                else:
                    table.to_csv(path, index=False)
                written.append(path)
        path = folder / SUMMARY_FILENAME
        path.write_text(json.dumps(summary, indent=2, default=_json_default))
        written.append(path)
        return written


def is_scan_folder(folder: str | Path) -> bool:
    """Return True if ``folder`` has the ``summary.json`` that a scan writes."""
    path = Path(folder) / SUMMARY_FILENAME
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(summary, dict) and "beholder_version" in summary


def scan_dataset(
    dataset,
    *,
    n_jobs: int | None = None,
    progress: Progress | None = None,
    checks=None,
    embeddings=None,
    max_hash_distance: int = DEFAULT_MAX_HASH_DISTANCE,
    min_cosine: float = DEFAULT_MIN_COSINE,
) -> ScanResult:
    """Measure, check and deduplicate every image of ``dataset``.

    Parameters
    ----------
    dataset : Dataset
        From :func:`beholder.ingest.load_dataset`.
    n_jobs : int, optional
        Worker processes; ``None`` or ``-1`` uses every available CPU, ``1``
        runs in this process.
    progress : Progress, optional
        Receives the stages "scan" (one step per image) and "duplicates".
    checks : iterable of str or IssueCheck, optional
        The issue checks to run; every registered check by default.
    embeddings : array-like of shape (n_images, dim), optional
        Adds embedding similarity to the near-duplicate search.
    max_hash_distance, min_cosine
        Near-duplicate thresholds, see
        :func:`beholder.properties.duplicates.find_duplicates`.

    Returns
    -------
    ScanResult
    """
    progress = progress or NullProgress()
    started = time.perf_counter()
    images = dataset.images
    if checks is None:
        checks = available_checks()
    checks = [get_check(c) if isinstance(c, str) else c for c in checks]
    if embeddings is not None:
        shape = np.shape(embeddings)
        if len(shape) != 2 or shape[0] != len(images):
            raise ValueError(
                f"embeddings must have shape (n_images, dim) = ({len(images)}, dim), "
                f"got {shape}; pass one row per dataset image, in its order."
            )

    properties = compute_properties(
        images["path"].tolist(), n_jobs=n_jobs, progress=progress
    )
    measured = time.perf_counter()
    flags = run_checks(properties, checks)
    duplicates = find_duplicates(
        dataset,
        properties,
        embeddings=embeddings,
        max_hash_distance=max_hash_distance,
        min_cosine=min_cosine,
        n_jobs=n_jobs,
        progress=progress,
    )
    finished = time.perf_counter()

    issues = pd.concat(
        [
            images[["image_id", "relpath", "label", "split"]].reset_index(drop=True),
            flags.reset_index(drop=True),
            duplicates.images,
        ],
        axis=1,
    )
    failed_rows = properties["decode_error"].notna().to_numpy()
    failed = dict(
        zip(
            images["relpath"].to_numpy()[failed_rows],
            properties["decode_error"].to_numpy()[failed_rows],
        )
    )
    summary = _summary(
        issues,
        checks,
        duplicates.summary,
        failed,
        seconds={
            "measure": measured - started,
            "checks_and_duplicates": finished - measured,
            "total": finished - started,
        },
        n_jobs=resolve_n_jobs(n_jobs),
        thresholds={"max_hash_distance": max_hash_distance, "min_cosine": min_cosine},
        with_embeddings=embeddings is not None,
    )
    logger.info(
        "scanned %d images in %.1f s (%d failed to decode)",
        len(images),
        summary["seconds"]["total"],
        len(failed),
    )
    return ScanResult(
        properties=properties,
        issues=issues,
        duplicates=duplicates.pairs,
        clusters=duplicates.clusters,
        summary=summary,
        failed=failed,
    )


def _summary(issues, checks: list[IssueCheck], duplicates, failed, **extra) -> dict:
    counts = {
        column[3:]: int(issues[column].fillna(False).sum())
        for column in issues.columns
        if column.startswith("is_")
    }
    return {
        "n_images": len(issues),
        "n_failed": len(failed),
        "issue_counts": counts,
        "duplicates": duplicates,
        "checks": {check.name: _parameters(check) for check in checks},
        "images_per_second": len(issues) / max(extra["seconds"]["total"], 1e-9),
        **extra,
    }


def _parameters(check: IssueCheck) -> dict:
    return {k: v for k, v in vars(check).items() if not k.startswith("_")}


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")

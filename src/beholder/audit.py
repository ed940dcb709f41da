"""The main job: every stage of an audit, in order, into one run folder."""

from __future__ import annotations

import logging
import platform
import shutil
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from beholder import __version__
from beholder.errors import DatasetError, StoreError
from beholder.ingest import Dataset, load_dataset
from beholder.progress import NullProgress, Progress
from beholder.store import RunStore, create_engine, folders
from beholder.store.run import DB_FILENAME, META_FILENAME

logger = logging.getLogger(__name__)


@dataclass
class AuditConfig:
    """Settings of one audit; stored in ``run.json`` with the results."""

    layout: str | None = None  # None: detected from the source
    split: str | None = None  # None: every split
    path_column: str | None = None
    label_column: str | None = None
    split_column: str | None = None
    id_column: str | None = None
    backbone: str = "efficientnet_lite0"
    weights: str | None = None
    allow_download: bool = False
    n_folds: int = 5
    seed: int = 0
    batch_size: int = 64
    num_workers: int = 0
    cache_dir: str | None = None  # None: default cache; "" disables caching
    predictions: str | None = None
    from_logits: bool = False  # apply a softmax to the imported predictions
    database_url: str | None = None
    n_report_suspects: int = 40
    scan: bool = True  # image properties, issue checks, duplicates
    bias: bool = True  # shortcuts, error slices, counterfactual probes
    n_probe_per_class: int = 10
    n_jobs: int | None = None  # scan worker processes; None uses every CPU


@dataclass
class AuditResult:
    """The run folder an audit wrote, and the numbers its summary shows."""

    run_dir: Path
    summary: dict
    timings: dict = field(default_factory=dict)

    @property
    def report_path(self) -> Path:
        return self.run_dir / "report.html"


class _Timer:
    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 3)
            logger.info("stage %s took %.2f s", name, self.seconds[name])


def run_audit(
    source: str | Path,
    out: str | Path,
    config: AuditConfig | None = None,
    *,
    progress: Progress | None = None,
) -> AuditResult:
    """Audit the dataset at ``source`` and write everything to ``out``.

    Stages: ingest, verify, embed, scan, predict, findings, bias, store and
    report (scan and bias can be turned off in ``config``). Files that cannot
    be decoded are flagged in the ledger and the run goes on. Everything is
    written to a staging folder that replaces ``out`` only when complete.
    """
    config = config or AuditConfig()
    progress = progress or NullProgress()
    timer = _Timer()

    with timer.stage("ingest"):
        dataset = _ingest(source, config)
        _check_usable(dataset, source)
        out = check_output_folder(out, dataset.root)
        _check_database(config.database_url)
    staging = folders.make_staging_folder(out)
    try:
        return _run_stages(source, out, staging, dataset, config, progress, timer)
    except BaseException:
        # An interrupted or failed audit leaves the earlier run untouched.
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _run_stages(source, out, staging, dataset, config, progress, timer):
    with timer.stage("verify"):
        from beholder.ingest.verify import verify_images

        failures, image_notes = verify_images(
            dataset, n_jobs=max(1, config.num_workers), progress=progress
        )
        dataset = dataset.flag(failures, stage="decode")
        _check_usable(dataset, source)
    with timer.stage("embed"):
        backbone = _load_backbone(config)
        dataset, embeddings, hashes = _embed(dataset, backbone, config, progress)
        _check_usable(dataset, source)
    scan = None
    if config.scan:
        with timer.stage("scan"):
            dataset, embeddings, hashes, scan = _scan(
                dataset, embeddings, hashes, config, progress
            )
            _check_usable(dataset, source)
    classes = dataset.classes
    labels = dataset.labels
    with timer.stage("predict"):
        probabilities, probe_info = _predict(dataset, embeddings, config, progress)
    with timer.stage("findings"):
        findings = _find(
            probabilities,
            labels,
            embeddings,
            classes,
            dataset.images["content_hash"].tolist(),
        )
    bias = None
    if config.bias and scan is not None:
        with timer.stage("bias"):
            bias = _bias(
                dataset, scan, embeddings, probabilities, backbone, config, progress
            )

    summary = _summarise(dataset, probabilities, labels, findings, probe_info)
    if scan is not None:
        summary["scan"] = _scan_summary(scan)
    if bias is not None:
        summary["bias"] = {
            "pipeline": bias.pipeline,
            "recommendations": bias.recommendations.head(5).to_dict("records"),
            "notes": bias.notes,
        }
    with timer.stage("store"):
        _check_shared_journal(config.database_url, dataset)
        store = RunStore(staging, database_url=config.database_url)
        _store(store, dataset, embeddings, hashes, probabilities, findings)
        store.write_table("image_notes", _notes_for_images(image_notes, dataset))
        if scan is not None:
            _store_scan(store, scan)
        if bias is not None:
            _store_bias(store, bias, scan, dataset)
        store.write_meta(_meta(source, config, dataset, summary, timer.seconds))
    with timer.stage("report"):
        from beholder.report import write_report

        write_report(store)
    store.write_meta(_meta(source, config, dataset, summary, timer.seconds))
    store.close()
    replace_run_folder(staging, out)
    return AuditResult(run_dir=out, summary=summary, timings=timer.seconds)


def check_output_folder(out, dataset_root) -> Path:
    """Return the absolute run folder, or raise StoreError if it cannot be one.

    See :func:`beholder.store.folders.check_output_folder`. An earlier run
    folder, one with ``run.json``, may be replaced.
    """
    return folders.check_output_folder(
        out,
        dataset_root,
        is_earlier_output=lambda folder: (folder / META_FILENAME).is_file(),
        kind="beholder run folder",
    )


def _check_database(url: str | None) -> None:
    """Connect once to the database URL, so a bad one fails before any work."""
    if not url:
        return
    import sqlalchemy

    try:
        engine = create_engine(url)
        with engine.connect():
            pass
        engine.dispose()
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError) as error:
        raise StoreError(
            f"Cannot use database URL {url!r}: {str(error).splitlines()[0]}. "
            "Give a SQLAlchemy URL such as sqlite:///runs/x.db or "
            "postgresql+psycopg://user@127.0.0.1/beholder."
        ) from error


def _check_shared_journal(url: str | None, dataset) -> None:
    """Raise StoreError before a database URL's journal would point at other images.

    The review journal stores decisions by ``image_id`` and outlives the
    tables that the audit replaces. When this audit numbers the images of
    earlier decisions differently, writing its tables would attach those
    decisions to other images, so nothing is written.
    """
    if not url:
        return
    from beholder.review.journal import find_mismatched_rows, read_image_references

    relpaths = dataset.images["relpath"].tolist()

    def relpath_of(image_id: int) -> str | None:
        return relpaths[image_id] if 0 <= image_id < len(relpaths) else None

    engine = create_engine(url)
    try:
        mismatched = find_mismatched_rows(read_image_references(engine), relpath_of)
    finally:
        engine.dispose()
    if mismatched:
        row = mismatched[0]
        raise StoreError(
            f"The database at {_hide_password(url)} holds {len(mismatched)} review "
            f"journal rows for images that this audit numbers differently "
            f"(decision {row['decision_id']}: image {row['image_id']} was "
            f"{row['relpath']!r}). Writing the run would attach them to other "
            "images. Export the reviewed run first (beholder export), then audit "
            "into a new database or drop its review_journal table."
        )


def replace_run_folder(staging: Path, out: Path) -> None:
    """Move a finished run into place; keep an older run that has decisions.

    A run folder whose review journal contains decisions is renamed to
    ``OUT.previous-<timestamp>`` instead of being deleted. Only the default
    SQLite journal in the run folder is checked. A journal kept in a
    ``--database-url`` database is not touched by this move.
    """
    if out.exists() and _has_decisions(out):
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        kept = out.with_name(f"{out.name}.previous-{stamp}")
        out.rename(kept)
        logger.warning("kept the earlier run with review decisions at %s", kept)
    # The old run is renamed aside before it is deleted, so an interrupt
    # never leaves neither run in place.
    folders.swap_in(staging, out)


def _has_decisions(run_dir: Path) -> bool:
    import sqlite3

    from beholder.review.journal import TABLE_NAME as JOURNAL_TABLE

    database = run_dir / DB_FILENAME
    if not database.is_file():
        return False
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            row = connection.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name=?",
                (JOURNAL_TABLE,),
            ).fetchone()
            if row is None:
                return False
            count = connection.execute(f"SELECT COUNT(*) FROM {JOURNAL_TABLE}")
            return count.fetchone()[0] > 0
        finally:
            connection.close()
    except sqlite3.Error:
        # An unreadable database may still hold decisions: keep it.
        return True


def _scan(dataset, embeddings, hashes, config, progress):
    """Measure properties and find duplicates; drop images the scan cannot decode."""
    from beholder.properties.scan import scan_dataset

    scan = scan_dataset(
        dataset, n_jobs=config.n_jobs, embeddings=embeddings, progress=progress
    )
    if scan.failed:
        keep = ~dataset.images["relpath"].isin(scan.failed.keys()).to_numpy()
        dataset = dataset.flag(scan.failed, stage="scan")
        embeddings = embeddings[keep]
        hashes = [h for h, k in zip(hashes, keep) if k]
        scan = scan.for_dataset(dataset)
    scan.issues = _with_outliers(scan.issues, embeddings, dataset.labels)
    return dataset, embeddings, hashes, scan


def _with_outliers(issues: pd.DataFrame, embeddings, labels) -> pd.DataFrame:
    """Add the embedding outlier score: far from every class and every neighbour."""
    from beholder.properties.outliers import find_outliers

    outliers = find_outliers(embeddings, labels).reset_index(drop=True)
    return pd.concat([issues.reset_index(drop=True), outliers], axis=1)


def _bias(dataset, scan, embeddings, probabilities, backbone, config, progress):
    from beholder.bias import analyze_bias

    return analyze_bias(
        scan.properties,
        probabilities,
        dataset.labels,
        dataset.classes,
        images=dataset.images["path"].tolist(),
        embeddings=embeddings,
        backbone=backbone,
        n_probe_per_class=config.n_probe_per_class,
        seed=config.seed,
        cache_dir=_cache_dir(config),
        progress=progress,
    )


def _cache_dir(config: AuditConfig):
    """Return the cache folder for this audit, or None when caching is off."""
    from beholder.embed.cache import default_cache_dir

    if config.cache_dir is None:
        return default_cache_dir()
    return config.cache_dir or None


def _scan_summary(scan) -> dict:
    summary = scan.summary
    return {key: summary[key] for key in summary if key not in ("seconds",)}


def _store_scan(store, scan) -> None:
    store.write_table("properties", scan.properties)
    store.write_table("image_issues", scan.issues)
    store.write_table("duplicates", scan.duplicates)
    store.write_table("duplicate_clusters", scan.clusters)


def _store_bias(store, bias, scan, dataset) -> None:
    from beholder.bias.report import render_bias_section

    for name, table in bias.tables().items():
        store.write_table(name, table)
    html = render_bias_section(
        bias,
        properties=scan.properties,
        labels=dataset.labels,
        paths=dataset.images["path"].tolist(),
    )
    (store.run_dir / "bias_section.html").write_text(html, encoding="utf-8")
    (store.run_dir / "augmentations.py").write_text(bias.pipeline, encoding="utf-8")


def _ingest(source, config: AuditConfig) -> Dataset:
    return load_dataset(
        source,
        layout=config.layout,
        split=config.split,
        path_column=config.path_column,
        label_column=config.label_column,
        split_column=config.split_column,
        id_column=config.id_column,
    )


def _check_usable(dataset: Dataset, source) -> None:
    if dataset.n_images == 0:
        counts = dataset.ledger_summary()
        reasons = ", ".join(
            f"{count} {reason}" for reason, count in counts["flagged_by_reason"].items()
        )
        raise DatasetError(
            f"{source}: none of the {counts['given']} files could be used "
            f"({reasons}). Check that the folder contains images inside class "
            "folders."
        )
    if len(dataset.classes) < 2:
        raise DatasetError(
            f"{source}: only one class ({dataset.classes[0]!r}) has images; "
            "an audit needs at least two classes."
        )


def _load_backbone(config: AuditConfig):
    """Load the backbone once per audit; the embed and bias stages share it."""
    from beholder.embed import load_backbone

    return load_backbone(
        config.backbone, weights=config.weights, allow_download=config.allow_download
    )


def _embed(dataset: Dataset, backbone, config: AuditConfig, progress: Progress):
    from beholder.embed import embed_images
    from beholder.embed.cache import default_cache_dir

    cache_dir = default_cache_dir() if config.cache_dir is None else config.cache_dir
    result = embed_images(
        dataset.images["path"].tolist(),
        backbone,
        batch_size=config.batch_size,
        num_workers=config.num_workers,
        cache_dir=cache_dir or None,
        progress=progress,
    )
    by_path = dict(zip(dataset.images["path"], dataset.images["relpath"]))
    failures = {by_path[path]: reason for path, reason in result.failures.items()}
    dataset = dataset.flag(failures, stage="decode")
    dataset.images["content_hash"] = result.content_hashes
    return dataset, result.vectors, result.content_hashes


def _predict(dataset, embeddings, config, progress):
    labels = dataset.labels
    if config.predictions:
        from beholder.predict.external import load_predictions

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            probabilities = load_predictions(
                config.predictions,
                dataset.classes,
                dataset.n_images,
                images=dataset.images,
                labels=labels,
                reference_accuracy=_probe_accuracy(embeddings, labels, config),
                from_logits=config.from_logits,
            )
        notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        for note in notes:
            logger.warning("%s", note)
        accuracy = float((probabilities.argmax(axis=1) == labels).mean())
        return probabilities, {
            "source": str(Path(config.predictions).expanduser().resolve()),
            "accuracy": accuracy,
            "notes": notes,
        }
    from beholder.embed.cache import default_cache_dir
    from beholder.predict import cross_val_probabilities

    cache_dir = default_cache_dir() if config.cache_dir is None else config.cache_dir
    result = cross_val_probabilities(
        embeddings,
        labels,
        n_classes=len(dataset.classes),
        n_folds=config.n_folds,
        seed=config.seed,
        cache_dir=cache_dir or None,
        groups=dataset.images["content_hash"].tolist(),
        progress=progress,
    )
    notes = [_name_classes(note, dataset.classes) for note in result.notes]
    return result.probabilities, {
        "source": f"{config.n_folds}-fold cross-validated logistic regression",
        "accuracy": result.accuracy,
        "notes": notes,
        "folds": result.folds,
    }


def _probe_accuracy(embeddings, labels, config) -> float | None:
    """Return the linear probe's cross-validated accuracy, for comparison."""
    from beholder.predict import cross_val_probabilities

    try:
        result = cross_val_probabilities(
            embeddings,
            labels,
            n_folds=config.n_folds,
            seed=config.seed,
            cache_dir=_cache_dir(config),
        )
    except ValueError:
        return None
    return result.accuracy


def _name_classes(note: str, classes: list[str]) -> str:
    for index, name in enumerate(classes):
        note = note.replace(f"class index {index} ", f"class {name!r} ")
    return note


def _find(probabilities, labels, embeddings, classes, content_ids):
    from beholder.findings import (
        class_label_quality,
        confusion_matrix,
        find_confused_pairs,
        find_label_issues,
    )

    issues = find_label_issues(
        probabilities, labels, embeddings=embeddings, content_ids=content_ids
    )
    joint = np.asarray(issues.attrs["joint"])
    quality = class_label_quality(
        probabilities,
        labels,
        classes,
        joint=joint,
        is_label_issue=issues["is_label_issue"].to_numpy(),
    )
    matrix = confusion_matrix(probabilities, labels, len(classes))
    pairs = find_confused_pairs(matrix, classes, joint=joint)
    return {
        "label_issues": issues,
        "confusion": matrix,
        "class_pairs": pairs,
        "class_quality": quality,
        "joint": joint,
    }


def _summarise(dataset, probabilities, labels, findings, probe_info) -> dict:
    issues = findings["label_issues"]
    pairs = findings["class_pairs"]
    return {
        "n_images": dataset.n_images,
        "n_classes": len(dataset.classes),
        "ledger": dataset.ledger_summary(),
        "accuracy": probe_info["accuracy"],
        "prediction_source": probe_info["source"],
        "notes": list(dataset.notes) + list(probe_info["notes"]),
        "class_counts": dataset.class_summary().to_dict("records"),
        "n_label_issues": int(issues["is_label_issue"].sum()),
        "top_pairs": pairs.head(5)[["class_a", "class_b", "overlap"]].to_dict(
            "records"
        ),
    }


def _store(store, dataset, embeddings, hashes, probabilities, findings):
    classes = dataset.classes
    images = dataset.images.copy()
    images["content_hash"] = hashes
    images["label_index"] = dataset.labels
    predicted = probabilities.argmax(axis=1)
    images["predicted"] = [classes[i] for i in predicted]
    images["confidence"] = probabilities.max(axis=1)

    issues = findings["label_issues"].copy()
    issues.insert(0, "image_id", images["image_id"].to_numpy())
    issues["suggested"] = [classes[i] for i in issues["suggested_label"]]

    store.write_table("images", images)
    store.write_table("ledger", dataset.ledger)
    store.write_table("classes", _class_table(dataset))
    store.write_table("label_issues", issues)
    store.write_table("class_pairs", findings["class_pairs"])
    store.write_table("class_quality", findings["class_quality"])
    store.write_array("joint", findings["joint"])
    store.write_array("embeddings", embeddings.astype(np.float32))
    store.write_array("probabilities", probabilities.astype(np.float32))
    store.write_array("confusion", findings["confusion"])


def _class_table(dataset: Dataset) -> pd.DataFrame:
    """Return one row per declared class: index, name and file counts."""
    summary = dataset.class_summary().rename(columns={"label": "name"})
    return summary[["class_index", "name", "n_given", "n_read", "n_flagged"]]


def _notes_for_images(image_notes: pd.DataFrame, dataset: Dataset) -> pd.DataFrame:
    """Keep the decode notes of the images that were used, with their image_id."""
    ids = dataset.images[["image_id", "relpath"]]
    return ids.merge(image_notes, on="relpath", how="left")


def _library_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    names = ("torch", "timm", "scikit-learn", "numpy", "pandas", "pillow", "faiss-cpu")
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def _public_config(config: AuditConfig) -> dict:
    """Return the configuration for run.json, with any database password masked."""
    values = asdict(config)
    if config.database_url:
        values["database_url"] = _hide_password(config.database_url)
    return values


def _hide_password(url: str) -> str:
    """Return a database URL with its password replaced by ``***``."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _meta(source, config, dataset, summary, timings) -> dict:
    return {
        "beholder_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": str(Path(source).expanduser().resolve()),
        "layout": dataset.layout,
        "classes": dataset.classes,
        "config": _public_config(config),
        "summary": summary,
        "timings_s": timings,
        "python": platform.python_version(),
        "versions": _library_versions(),
        "machine": platform.machine(),
    }

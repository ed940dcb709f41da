"""The bias stage: associations, error slices, probes and advice in one call."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from beholder.bias.associations import (
    DEFAULT_MIN_EFFECT,
    check_labels,
    compute_associations,
    compute_predictability,
)
from beholder.bias.probes import (
    FLIP_COLUMNS,
    FLIP_MATRIX_COLUMNS,
    PROBE_IMAGE_COLUMNS,
    ProbeRun,
    flip_matrices,
    run_probes,
    summarize_probes,
)
from beholder.bias.recommend import augmentation_pipeline, recommend_augmentations
from beholder.bias.shortcuts import find_shortcuts
from beholder.bias.slices import find_error_slices

logger = logging.getLogger(__name__)


@dataclass
class BiasResult:
    """Everything the bias stage found, as tables for the run store.

    Every DataFrame is empty, with its columns, when its step did not run
    (probes need images, a backbone and a probe or embeddings).
    """

    associations: pd.DataFrame  # one row per (class, property)
    predictability: pd.DataFrame  # one row per property
    slices: pd.DataFrame  # one row per tested error slice
    probe_images: pd.DataFrame  # one row per (probed image, probe)
    probe_flips: pd.DataFrame  # one row per (class, probe)
    flip_matrices: pd.DataFrame  # long form: probe, class, predicted, counts
    shortcuts: pd.DataFrame  # one row per (class, factor) with evidence
    recommendations: pd.DataFrame  # one row per factor, ranked
    pipeline: str  # the recommended transforms.v2 pipeline, as source text
    classes: list[str]
    seed: int
    parameters: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)  # seconds per step
    notes: list[str] = field(default_factory=list)
    probe_run: ProbeRun | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the result tables keyed by suggested run-store table names."""
        return {
            "bias_associations": self.associations,
            "bias_predictability": self.predictability,
            "bias_slices": self.slices,
            "bias_probe_images": self.probe_images,
            "bias_probe_flips": self.probe_flips,
            "bias_flip_matrices": self.flip_matrices,
            "bias_shortcuts": self.shortcuts,
            "bias_recommendations": self.recommendations,
        }


def analyze_bias(
    properties: pd.DataFrame,
    probabilities,
    labels,
    classes,
    *,
    images=None,
    embeddings=None,
    backbone=None,
    probe=None,
    n_probe_per_class: int = 10,
    probes=None,
    alpha: float = 0.05,
    min_effect: float = DEFAULT_MIN_EFFECT,
    correction: str = "fdr_bh",
    n_bootstrap: int = 200,
    n_bins: int = 4,
    min_slice_count: int = 20,
    seed: int = 0,
    cache_dir=None,
    progress=None,
) -> BiasResult:
    """Find shortcuts the model may take, show where it fails, and advise augmentations.

    Parameters
    ----------
    properties : DataFrame of shape (n_images, n_columns)
        Per-image measurements in image order; every numeric or boolean
        column is a property (identifier columns are skipped).
    probabilities : ndarray of shape (n_images, n_classes)
        Out-of-sample class probabilities, for the error slices.
    labels : array-like of int, shape (n_images,)
        Class indices.
    classes : sequence of str
        Class names by index.
    images : sequence of str, optional
        Image paths in image order. Probes run only when given.
    embeddings : ndarray of shape (n_images, dim), optional
        Backbone embeddings; used to fit the probe model when ``probe`` is
        None.
    backbone : Backbone, optional
        The backbone that produced ``embeddings``; the default backbone is
        loaded when probes run without one.
    probe : fitted classifier, optional
        Maps embeddings to class indices (``predict_proba``, ``classes_``).
    n_probe_per_class : int, default 10
        Images per class that the probes change; the probes cost
        ``n_classes * n_probe_per_class * (n_probes + 1)`` forward passes.
        0 skips the probes.
    probes : sequence of Probe or names, optional
        Defaults to all of :data:`beholder.bias.transforms.DEFAULT_PROBES`.
    alpha, min_effect, correction, n_bootstrap
        See :func:`~beholder.bias.associations.compute_associations`.
    n_bins, min_slice_count
        See :func:`~beholder.bias.slices.find_error_slices`.
    seed : int, default 0
        Seeds the bootstrap, the decision trees, the probe sample and the
        probe model.
    cache_dir : path, optional
        Embedding cache folder for the probes' features; see
        :func:`~beholder.bias.probes.run_probes`.

    Returns
    -------
    BiasResult
    """
    classes = [str(name) for name in classes]
    labels = check_labels(labels, classes, len(properties))
    run_probe_step = images is not None and n_probe_per_class > 0
    if run_probe_step:
        _check_probe_inputs(images, labels, embeddings, probe)
    timings, notes = {}, []

    start = time.perf_counter()
    associations = compute_associations(
        properties,
        labels,
        classes,
        alpha=alpha,
        min_effect=min_effect,
        correction=correction,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    predictability = compute_predictability(properties, labels, classes, seed=seed)
    timings["associations"] = time.perf_counter() - start

    start = time.perf_counter()
    slices = find_error_slices(
        properties,
        probabilities,
        labels,
        classes,
        n_bins=n_bins,
        min_count=min_slice_count,
        alpha=alpha,
        correction=correction,
    )
    timings["slices"] = time.perf_counter() - start

    probe_run = None
    probe_images = _empty(PROBE_IMAGE_COLUMNS)
    probe_flips = _empty(FLIP_COLUMNS)
    matrices = _empty(FLIP_MATRIX_COLUMNS)
    if run_probe_step:
        start = time.perf_counter()
        if backbone is None:
            from beholder.embed import load_backbone

            backbone = load_backbone()
        if probe is None:
            from beholder.predict.probe import fit_probe

            probe = fit_probe(np.asarray(embeddings, np.float32), labels, seed=seed)
        probe_run = run_probes(
            list(images),
            labels,
            len(classes),
            backbone,
            probe,
            n_per_class=n_probe_per_class,
            probes=probes,
            seed=seed,
            cache_dir=cache_dir,
            progress=progress,
        )
        timings["probes"] = time.perf_counter() - start
        probe_images = probe_run.images
        probe_flips = summarize_probes(
            probe_run, classes, alpha=alpha, correction=correction
        )
        matrices = flip_matrices(probe_run, classes)
        if probe_run.failures:
            notes.append(
                f"{len(probe_run.failures)} sampled images could not be decoded "
                "and were left out of the probes"
            )
    elif images is None:
        notes.append("probes skipped: no image paths given")
    else:
        notes.append("probes skipped: n_probe_per_class is 0")

    shortcuts = find_shortcuts(associations, probe_flips if probe_run else None)
    input_size = backbone.input_size if backbone is not None else 224
    recommendations = recommend_augmentations(
        shortcuts, input_size=input_size, properties=properties, labels=labels
    )
    # Without probes every recommendation rests on associations alone, so the
    # pipeline takes them all. With probes it takes those a probe confirmed.
    min_priority = "medium" if probe_run is not None else "low"
    pipeline = _pipeline(recommendations, backbone, input_size, min_priority)
    logger.info(
        "bias: %d flagged associations, %d shortcut candidates, %d recommendations",
        int(associations["is_flagged"].sum()) if len(associations) else 0,
        len(shortcuts),
        len(recommendations),
    )
    return BiasResult(
        associations=associations,
        predictability=predictability,
        slices=slices,
        probe_images=probe_images,
        probe_flips=probe_flips,
        flip_matrices=matrices,
        shortcuts=shortcuts,
        recommendations=recommendations,
        pipeline=pipeline,
        classes=classes,
        seed=seed,
        parameters={
            "alpha": alpha,
            "min_effect": min_effect,
            "correction": correction,
            "n_bootstrap": n_bootstrap,
            "n_bins": n_bins,
            "min_slice_count": min_slice_count,
            "n_probe_per_class": n_probe_per_class,
            "probes": [p.name for p in probe_run.probes] if probe_run else [],
        },
        timings=timings,
        notes=notes,
        probe_run=probe_run,
    )


def _check_probe_inputs(images, labels, embeddings, probe) -> None:
    if len(images) != len(labels):
        raise ValueError(
            f"images has {len(images)} paths but labels has {len(labels)} entries."
        )
    if probe is None and embeddings is None:
        raise ValueError(
            "Probes need a fitted probe model or the embeddings to fit one: "
            "pass probe= or embeddings=, or images=None to skip the probes."
        )
    if embeddings is not None and len(embeddings) != len(labels):
        raise ValueError(
            f"embeddings has {len(embeddings)} rows but labels has {len(labels)} "
            "entries."
        )


def _pipeline(recommendations, backbone, input_size, min_priority) -> str:
    if backbone is None:
        return augmentation_pipeline(
            recommendations, input_size=input_size, min_priority=min_priority
        )
    return augmentation_pipeline(
        recommendations,
        input_size=backbone.input_size,
        crop_pct=backbone.crop_pct,
        mean=backbone.mean,
        std=backbone.std,
        min_priority=min_priority,
    )


def _empty(columns) -> pd.DataFrame:
    return pd.DataFrame(columns=columns)

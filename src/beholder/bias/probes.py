"""Counterfactual probes: change a sample of images and compare the predictions.

The model is the backbone followed by a probe (a classifier on its
embeddings) fitted on all images. Each sampled image is decoded once, run
through the model as it is and once per probe transform, and the two
predictions are compared. When a class's images change prediction under a
probe much more often than other classes' images, the model relies on what
the probe changes to recognise that class. When many images of other
classes flip into a class, the model puts images with the changed property
there.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from PIL import Image

from beholder.bias.stats import adjust_pvalues, fisher_greater, wilson_interval
from beholder.bias.transforms import Probe, probes_by_name
from beholder.decode import open_rgb
from beholder.errors import ImageDecodeError

logger = logging.getLogger(__name__)

PROBE_IMAGE_COLUMNS = [
    "image_id",
    "label",
    "probe",
    "pred_before",
    "pred_after",
    "p_label_before",
    "p_label_after",
    "flipped",
]


@dataclass
class ProbeRun:
    """Predictions before and after each probe, for the sampled images.

    ``images`` has one row per (sampled image, probe) with the columns of
    ``PROBE_IMAGE_COLUMNS``; ``pred_*`` and ``label`` are class indices.
    """

    images: pd.DataFrame
    image_ids: np.ndarray  # (n_sampled,) image ids that decoded, in row order
    probabilities_before: np.ndarray  # (n_sampled, n_classes)
    probabilities_after: np.ndarray  # (n_sampled, n_probes, n_classes)
    probes: tuple[Probe, ...]
    seconds: float
    n_forward: int
    failures: dict[int, str] = field(default_factory=dict)

    @property
    def images_per_second(self) -> float:
        """Forward passes (originals and transformed copies) per second."""
        return self.n_forward / self.seconds if self.seconds > 0 else float("nan")


def select_probe_sample(labels, *, n_per_class: int, seed: int = 0) -> np.ndarray:
    """Draw up to ``n_per_class`` image indices per class without replacement.

    The indices come back sorted, so the probes read files in dataset order.
    """
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be at least 1, got {n_per_class}.")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        take = min(n_per_class, len(members))
        chosen.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=int)


def run_probes(
    paths,
    labels,
    n_classes: int,
    backbone,
    probe_model,
    *,
    n_per_class: int = 10,
    probes=None,
    batch_size: int = 48,
    seed: int = 0,
    cache_dir=None,
    progress=None,
) -> ProbeRun:
    """Predict a per-class sample of images before and after each probe.

    Parameters
    ----------
    paths : sequence of str, length n_images
        Image files in image order.
    labels : array-like of int, shape (n_images,)
    n_classes : int
    backbone : beholder.embed.Backbone
    probe_model : fitted scikit-learn classifier
        Maps the backbone's embeddings to class indices, with
        ``predict_proba`` and ``classes_``, such as
        :func:`beholder.predict.probe.fit_probe` on all embeddings.
    n_per_class : int, default 10
        Images sampled per class. The cost is
        ``n_classes * n_per_class * (len(probes) + 1)`` forward passes.
    probes : sequence of Probe or of probe names, optional
        Defaults to :data:`beholder.bias.transforms.DEFAULT_PROBES`.
    seed : int, default 0
        Seeds the sample.
    cache_dir : path, optional
        Embedding cache folder. Features of each probed variant are stored
        there by file content, backbone and probe, so a rerun on the same
        files skips decoding and the forward passes.

    Returns
    -------
    ProbeRun
    """
    import torch

    from beholder.embed.embedder import build_transform

    probes = _resolve_probes(probes)
    labels = np.asarray(labels)
    if len(paths) != len(labels):
        raise ValueError(
            f"paths has {len(paths)} entries but labels has {len(labels)}."
        )
    sample = select_probe_sample(labels, n_per_class=n_per_class, seed=seed)
    transform = build_transform(backbone)
    # The eval transform first resizes the shorter side to this size (timm
    # floors input_size / crop_pct). Resizing once here, before the probes,
    # lets every probe and the eval transform work on the small image, which
    # halved the preprocessing time on sun8's 320x240 JPEGs. The backbone
    # still gets the same picture.
    resize = math.floor(backbone.input_size / backbone.crop_pct)
    if progress is not None:
        progress.stage("counterfactual probes", len(sample))

    start = time.perf_counter()
    cache = _open_cache(cache_dir, backbone)
    variant_keys = ["original"] + [f"{p.name}|{p.description}" for p in probes]
    features = _FeatureBatcher(backbone, batch_size, torch)
    decoded_ids, failures, cached_rows, computed = [], {}, {}, {}
    for image_id in sample:
        keys = _variant_keys(cache, paths[image_id], variant_keys)
        hits = cache.get_many(keys) if cache else {}
        if keys and len(hits) == len(keys):
            cached_rows[len(decoded_ids)] = [hits[k] for k in keys]
            decoded_ids.append(int(image_id))
        else:
            try:
                image = shrink_shorter_side(
                    open_rgb(paths[image_id], draft_size=resize), resize
                )
            except ImageDecodeError as error:
                failures[int(image_id)] = error.reason
                logger.warning("probe skipped image %d: %s", image_id, error.reason)
            else:
                computed[len(decoded_ids)] = keys
                decoded_ids.append(int(image_id))
                features.add(transform(image))
                for probe in probes:
                    features.add(transform(probe.apply(image)))
        if progress is not None:
            progress.advance()
    n_variants = len(probes) + 1
    vectors = _assemble(features.finish(), cached_rows, computed, n_variants, cache)
    if cache:
        cache.close()
    seconds = time.perf_counter() - start

    probabilities = _predict(probe_model, vectors, n_classes)
    probabilities = probabilities.reshape(len(decoded_ids), n_variants, n_classes)
    image_ids = np.asarray(decoded_ids, dtype=np.int64)
    table = _probe_table(image_ids, labels[image_ids], probabilities, probes)
    logger.info(
        "probed %d images x %d variants in %.1f s (%.1f images/s)",
        len(decoded_ids),
        n_variants,
        seconds,
        len(vectors) / max(seconds, 1e-9),
    )
    return ProbeRun(
        images=table,
        image_ids=image_ids,
        probabilities_before=probabilities[:, 0],
        probabilities_after=probabilities[:, 1:],
        probes=probes,
        seconds=seconds,
        n_forward=len(vectors),
        failures=failures,
    )


def _open_cache(cache_dir, backbone):
    if cache_dir is None:
        return None
    from beholder.embed.cache import EmbeddingCache

    return EmbeddingCache(cache_dir, f"{backbone.cache_key}-probes")


def _variant_keys(cache, path: str, variant_keys: list[str]) -> list[str]:
    """Cache keys of one image's variants: its content hash and the probe."""
    if cache is None:
        return []
    from beholder.embed.cache import hash_file

    try:
        digest = hash_file(path)
    except OSError:
        return []
    return [f"{digest}|{key}" for key in variant_keys]


def _assemble(fresh, cached_rows, computed, n_variants, cache) -> np.ndarray:
    """Put cached and freshly computed variant features in sample order."""
    n_rows = len(cached_rows) + len(computed)
    if n_rows == 0:
        return fresh
    dim = fresh.shape[1] if len(fresh) else len(next(iter(cached_rows.values()))[0])
    vectors = np.zeros((n_rows * n_variants, dim), dtype=np.float32)
    for row, cached in cached_rows.items():
        vectors[row * n_variants : (row + 1) * n_variants] = np.stack(cached)
    fresh_items = {}
    for position, (row, keys) in enumerate(sorted(computed.items())):
        block = fresh[position * n_variants : (position + 1) * n_variants]
        vectors[row * n_variants : (row + 1) * n_variants] = block
        fresh_items.update(zip(keys, block))
    if cache and fresh_items:
        cache.put_many(fresh_items)
    return vectors


def shrink_shorter_side(image: Image.Image, size: int) -> Image.Image:
    """Resize ``image`` (bicubic) so its shorter side is ``size``; never enlarge."""
    width, height = image.size
    shorter = min(width, height)
    if shorter <= size:
        return image
    scale = size / shorter
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(new_size, Image.Resampling.BICUBIC)


def _resolve_probes(probes) -> tuple[Probe, ...]:
    if probes is None:
        return probes_by_name(None)
    names = [p for p in probes if isinstance(p, str)]
    if names and len(names) == len(probes):
        return probes_by_name(names)
    if all(isinstance(p, Probe) for p in probes):
        return tuple(probes)
    raise ValueError("probes must be a sequence of Probe objects or of probe names.")


class _FeatureBatcher:
    """Collect preprocessed tensors and run the backbone once per full batch."""

    def __init__(self, backbone, batch_size: int, torch):
        self.model = backbone.model
        self.batch_size = batch_size
        self.torch = torch
        self.pending = []
        self.outputs = []
        self.model.to(memory_format=torch.channels_last)

    def add(self, tensor) -> None:
        self.pending.append(tensor)
        if len(self.pending) >= self.batch_size:
            self._flush()

    def finish(self) -> np.ndarray:
        self._flush()
        if not self.outputs:
            return np.zeros(
                (0, int(getattr(self.model, "num_features", 0))), np.float32
            )
        return np.concatenate(self.outputs)

    def _flush(self) -> None:
        if not self.pending:
            return
        torch = self.torch
        batch = torch.stack(self.pending).contiguous(memory_format=torch.channels_last)
        self.pending = []
        with torch.inference_mode():
            self.outputs.append(self.model(batch).float().numpy())


def _predict(probe_model, vectors: np.ndarray, n_classes: int) -> np.ndarray:
    """Return probabilities of shape (n, n_classes), zero for classes never fitted."""
    result = np.zeros((len(vectors), n_classes))
    if len(vectors):
        result[:, np.asarray(probe_model.classes_)] = probe_model.predict_proba(vectors)
    return result


def _probe_table(image_ids, labels, probabilities, probes) -> pd.DataFrame:
    before = probabilities[:, 0]
    pred_before = before.argmax(axis=1)
    rows = range(len(image_ids))
    frames = []
    for number, probe in enumerate(probes, start=1):
        after = probabilities[:, number]
        pred_after = after.argmax(axis=1)
        frames.append(
            pd.DataFrame(
                {
                    "image_id": image_ids,
                    "label": labels,
                    "probe": probe.name,
                    "pred_before": pred_before,
                    "pred_after": pred_after,
                    "p_label_before": before[rows, labels],
                    "p_label_after": after[rows, labels],
                    "flipped": pred_after != pred_before,
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=PROBE_IMAGE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[PROBE_IMAGE_COLUMNS]


FLIP_COLUMNS = [
    "class",
    "class_index",
    "probe",
    "factor",
    "n",
    "n_flipped",
    "flip_rate",
    "flip_low",
    "flip_high",
    "rest_flip_rate",
    "p_value",
    "p_adjusted",
    "is_sensitive",
    "top_target",
    "top_target_count",
    "label_prob_drop",
    "n_into",
    "expected_into",
    "into_p_value",
    "into_p_adjusted",
    "is_attracting",
]


def summarize_probes(
    run: ProbeRun,
    classes,
    *,
    alpha: float = 0.05,
    correction: str = "fdr_bh",
    min_into: int = 3,
) -> pd.DataFrame:
    """Per class and probe: how often predictions change, and where they go.

    Two one-sided tests per row, adjusted together over all rows:

    - *sensitive*: the class's images flip more often than the other
      classes' images under the same probe (Fisher exact test);
    - *attracting*: at least ``min_into`` images of other classes flip into
      the class, more than expected. Each image that moves lands in class
      ``c`` with chance ``0.5 * p[c] / (1 - p[predicted]) + 0.5 / (K - 1)``:
      half where its unchanged prediction put the remaining probability,
      half uniform, because a probe fitted on all images is overconfident
      and leaves nearly no mass on most classes. The count is tested
      against a Poisson distribution with the summed chance as mean (an
      approximation of the exact Poisson-binomial).

    Returns
    -------
    DataFrame
        One row per (class, probe) with the columns of ``FLIP_COLUMNS``.
    """
    from scipy.stats import poisson

    rows = []
    for probe in run.probes:
        part = run.images[run.images["probe"] == probe.name].reset_index(drop=True)
        remaining = run.probabilities_before.copy()
        remaining[np.arange(len(part)), part["pred_before"].to_numpy()] = 0
        remaining /= np.clip(remaining.sum(axis=1, keepdims=True), 1e-12, None)
        chance = 0.5 * remaining + 0.5 / max(len(classes) - 1, 1)
        for index, class_name in enumerate(classes):
            if not (part["label"] == index).any():
                continue
            row = _flip_row(part, chance, index, min_into, poisson)
            row.update(
                {"class": class_name, "probe": probe.name, "factor": probe.factor}
            )
            rows.append(row)

    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=FLIP_COLUMNS)
    table["flip_low"], table["flip_high"] = wilson_interval(
        table["n_flipped"], table["n"]
    )
    both = np.concatenate([table["p_value"], table["into_p_value"]])
    adjusted = adjust_pvalues(both, method=correction)
    table["p_adjusted"] = adjusted[: len(table)]
    table["into_p_adjusted"] = adjusted[len(table) :]
    table["is_sensitive"] = table["p_adjusted"] < alpha
    table["is_attracting"] = table["into_p_adjusted"] < alpha
    table["top_target"] = [
        classes[i] if i >= 0 else None for i in table.pop("top_target_index")
    ]
    return table[FLIP_COLUMNS]


def _flip_row(
    part: pd.DataFrame, chance: np.ndarray, index: int, min_into: int, poisson
) -> dict:
    """Counts and tests of one class under one probe; ``part`` is that probe's rows."""
    flipped = part["flipped"].to_numpy()
    label = part["label"].to_numpy()
    pred_before = part["pred_before"].to_numpy()
    pred_after = part["pred_after"].to_numpy()
    inside = label == index

    n, n_flipped = int(inside.sum()), int(flipped[inside].sum())
    rest_n, rest_flipped = int((~inside).sum()), int(flipped[~inside].sum())
    targets = pred_after[inside & flipped]
    if len(targets):
        values, counts = np.unique(targets, return_counts=True)
        top, top_count = int(values[counts.argmax()]), int(counts.max())
    else:
        top, top_count = -1, 0

    movers = flipped & (label != index) & (pred_before != index)
    n_into = int((movers & (pred_after == index)).sum())
    expected = float(chance[movers, index].sum())
    into_p = float(poisson.sf(n_into - 1, expected)) if n_into >= min_into else 1.0
    drop = part.loc[inside, "p_label_before"] - part.loc[inside, "p_label_after"]
    return {
        "class_index": index,
        "n": n,
        "n_flipped": n_flipped,
        "flip_rate": n_flipped / n,
        "rest_flip_rate": rest_flipped / rest_n if rest_n else np.nan,
        "p_value": fisher_greater(n_flipped, n, rest_flipped, rest_n)
        if rest_n
        else np.nan,
        "top_target_index": top,
        "top_target_count": top_count,
        "label_prob_drop": float(drop.mean()),
        "n_into": n_into,
        "expected_into": expected,
        "into_p_value": into_p,
    }


FLIP_MATRIX_COLUMNS = ["probe", "class", "predicted", "n_images", "n_flipped"]


def flip_matrices(run: ProbeRun, classes) -> pd.DataFrame:
    """Count, per probe, the images of each class by their prediction after it.

    Returns
    -------
    DataFrame
        Long form with columns ``probe``, ``class`` (the label),
        ``predicted`` (after the probe), ``n_images`` and ``n_flipped`` (of
        those, how many had a different prediction before). Pairs with no
        image are left out.
    """
    table = run.images
    if table.empty:
        return pd.DataFrame(columns=FLIP_MATRIX_COLUMNS)
    grouped = (
        table.groupby(["probe", "label", "pred_after"], sort=False)
        .agg(n_images=("flipped", "size"), n_flipped=("flipped", "sum"))
        .reset_index()
    )
    names = np.asarray(classes, dtype=object)
    order = {probe.name: i for i, probe in enumerate(run.probes)}
    grouped["order"] = grouped["probe"].map(order)
    grouped = grouped.sort_values(["order", "label", "pred_after"])
    return pd.DataFrame(
        {
            "probe": grouped["probe"].to_numpy(),
            "class": names[grouped["label"].to_numpy()],
            "predicted": names[grouped["pred_after"].to_numpy()],
            "n_images": grouped["n_images"].to_numpy(),
            "n_flipped": grouped["n_flipped"].to_numpy().astype(int),
        }
    )

"""Benchmark label-error detection against cleanlab on injected label noise.

For each dataset, noise type, noise rate and seed, the script flips a known
set of labels, computes out-of-sample probabilities with the project's
cross-validated probe on the noisy labels, and scores every method on the
same probabilities:

- AUROC and average precision (AP) of the ranking score against "flipped by
  us" (the original labels have errors of their own, which count as clean
  here);
- precision, recall and F1 of the flagged set.

Noise types:

- ``uniform``: a share ``rate`` of all images gets a different label drawn
  uniformly from the other classes.
- ``pair``: a share ``rate`` of each class is relabelled as the class it is
  most often predicted as in a cross-validated confusion matrix of the
  original labels (for scene15 this sends Bedroom to LivingRoom).

Methods: beholder's ensemble with its defaults, the ensemble with the
setting an earlier tuning rule chose (``k=50``, weight 0.1, combined
score), confident learning alone, the kNN consensus alone, and cleanlab.
cleanlab (AGPL) is a benchmark peer only and is imported here, never in
``src/``. Its ranking is ``cleanlab.rank.get_label_quality_scores`` with its
default method and its flagged set is ``cleanlab.filter.find_label_issues``
with its defaults, both given the same probabilities as beholder.

Usage::

    nice python benchmarks/label_noise.py                 # seeds 0-2, report
    nice python benchmarks/label_noise.py --tune --datasets sun8 --seeds 100 101 102

Inputs are embeddings ``DIR/<dataset>.npy`` with row metadata
``DIR/<dataset>.parquet`` (columns ``label``, ``content_hash``).
Probabilities are cached under ``OUT/cache`` by dataset, noise, rate and
seed, so a rerun with other methods skips the probe.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from beholder.findings import (
    compute_knn_consensus,
    compute_label_quality,
    confusion_matrix,
    find_label_issues,
)
from beholder.findings.ensemble import combine_probabilities
from beholder.predict import cross_val_probabilities

logger = logging.getLogger("label_noise")

RESULTS_DIR = Path(__file__).parent / "results"
NOISE_TYPES = ("uniform", "pair")
METHODS = (
    "beholder ensemble",
    "beholder ensemble k=50 w=0.1",
    "beholder confident_learning",
    "beholder knn",
    "cleanlab",
)


def load_dataset(data_dir: Path, name: str):
    """Return embeddings (n, dim), labels (n,), class names and content ids."""
    embeddings = np.load(data_dir / f"{name}.npy")
    rows = pd.read_parquet(data_dir / f"{name}.parquet")
    classes = sorted(rows["label"].unique())
    labels = rows["label"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    return embeddings, labels.astype(np.int64), classes, rows["content_hash"].to_numpy()


def pair_targets(probabilities, labels, n_classes):
    """Map each class to the class its images are most often predicted as."""
    matrix = confusion_matrix(probabilities, labels, n_classes).astype(float)
    np.fill_diagonal(matrix, -1.0)
    return matrix.argmax(axis=1)


def inject_noise(labels, n_classes, *, noise, rate, seed, targets=None):
    """Return noisy labels and the mask of flipped images."""
    rng = np.random.default_rng(seed)
    noisy = labels.copy()
    if noise == "uniform":
        flipped = rng.choice(len(labels), size=round(rate * len(labels)), replace=False)
        shift = rng.integers(1, n_classes, size=len(flipped))
        noisy[flipped] = (labels[flipped] + shift) % n_classes
    else:
        for cls in range(n_classes):
            members = np.flatnonzero(labels == cls)
            chosen = rng.choice(members, size=round(rate * len(members)), replace=False)
            noisy[chosen] = targets[cls]
    return noisy, noisy != labels


def cached_probabilities(cache_dir, key, embeddings, labels, n_classes, seed):
    path = cache_dir / f"{key}.npy"
    if path.exists():
        return np.load(path)
    result = cross_val_probabilities(embeddings, labels, n_classes=n_classes, seed=seed)
    np.save(path, result.probabilities.astype(np.float32))
    return result.probabilities


def evaluate(is_error, score, flagged):
    """Return the ranking and flagged-set metrics of one method on one run."""
    n_flagged = int(flagged.sum())
    true_positives = int((flagged & is_error).sum())
    precision = true_positives / n_flagged if n_flagged else 0.0
    recall = true_positives / int(is_error.sum())
    f1 = 2 * precision * recall / (precision + recall) if true_positives else 0.0
    return {
        "auroc": roc_auc_score(is_error, score),
        "ap": average_precision_score(is_error, score),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "n_flagged": n_flagged,
    }


def run_methods(probabilities, noisy, embeddings, content_ids):
    """Yield (method, score, flagged, seconds) for every compared method."""
    variants = {
        "beholder ensemble": {"method": "ensemble"},
        "beholder ensemble k=50 w=0.1": {
            "method": "ensemble",
            "k": 50,
            "ensemble_weight": 0.1,
            "score": "combined",
        },
        "beholder confident_learning": {"method": "confident_learning"},
        "beholder knn": {"method": "knn"},
    }
    for name, settings in variants.items():
        start = time.perf_counter()
        frame = find_label_issues(
            probabilities,
            noisy,
            embeddings=embeddings,
            content_ids=content_ids,
            **settings,
        )
        seconds = time.perf_counter() - start
        yield (
            name,
            frame["label_issue_score"].to_numpy(),
            frame["is_label_issue"].to_numpy(),
            seconds,
        )

    from cleanlab.filter import find_label_issues as cleanlab_find_label_issues
    from cleanlab.rank import get_label_quality_scores

    start = time.perf_counter()
    flagged = cleanlab_find_label_issues(noisy, probabilities, n_jobs=1)
    quality = get_label_quality_scores(noisy, probabilities)
    seconds = time.perf_counter() - start
    yield "cleanlab", 1.0 - quality, flagged, seconds


def iterate_runs(args):
    """Yield one dict per (dataset, noise, rate, seed) with everything a method needs."""
    cache_dir = args.out / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name in args.datasets:
        embeddings, labels, classes, content_ids = load_dataset(args.data_dir, name)
        n_classes = len(classes)
        clean = cached_probabilities(
            cache_dir, f"{name}-clean-0", embeddings, labels, n_classes, 0
        )
        targets = pair_targets(clean, labels, n_classes)
        pairs = {classes[a]: classes[b] for a, b in enumerate(targets)}
        logger.info("%s pair-flip targets: %s", name, pairs)
        for noise, rate, seed in itertools.product(args.noise, args.rates, args.seeds):
            noisy, is_error = inject_noise(
                labels, n_classes, noise=noise, rate=rate, seed=seed, targets=targets
            )
            key = f"{name}-{noise}-{rate:g}-{seed}"
            start = time.perf_counter()
            probabilities = cached_probabilities(
                cache_dir, key, embeddings, noisy, n_classes, seed
            )
            logger.info("%s: probabilities in %.1f s", key, time.perf_counter() - start)
            yield {
                "dataset": name,
                "noise": noise,
                "rate": rate,
                "seed": seed,
                "probabilities": probabilities,
                "noisy": noisy,
                "is_error": is_error,
                "embeddings": embeddings,
                "content_ids": content_ids,
                "pairs": pairs,
            }


def benchmark(args):
    records = []
    pairs_by_dataset = {}
    for run in iterate_runs(args):
        pairs_by_dataset[run["dataset"]] = run["pairs"]
        methods = run_methods(
            run["probabilities"], run["noisy"], run["embeddings"], run["content_ids"]
        )
        for method, score, flagged, seconds in methods:
            metrics = evaluate(run["is_error"], score, flagged)
            records.append(
                {
                    "dataset": run["dataset"],
                    "noise": run["noise"],
                    "rate": run["rate"],
                    "seed": run["seed"],
                    "method": method,
                    "n_errors": int(run["is_error"].sum()),
                    "seconds": seconds,
                    **metrics,
                }
            )
        logger.info(
            "%s %s %g seed %d: AP %s",
            run["dataset"],
            run["noise"],
            run["rate"],
            run["seed"],
            ", ".join(f"{r['method']}={r['ap']:.3f}" for r in records[-len(METHODS) :]),
        )
    return pd.DataFrame(records), pairs_by_dataset


def tune(args):
    """Grid-search the ensemble's k, weight and score; print mean AP per setting.

    The chosen setting is the one whose worst gain in AP over the probe's
    self-confidence ranking (cleanlab's default ranking of the same
    probabilities), across noise types and rates, is largest.
    """
    weights = (0.0, 0.1, 0.15, 0.2, 0.25, 0.5, 1.0)
    ks = (10, 20, 30, 50)
    scores = ("self_confidence", "normalized_margin", "combined")
    records = []
    for run in iterate_runs(args):
        for k in ks:
            consensus = compute_knn_consensus(
                run["embeddings"], run["noisy"], k=k, content_ids=run["content_ids"]
            )
            for weight, score in itertools.product(weights, scores):
                mixed = combine_probabilities(
                    run["probabilities"], consensus.label_distribution, weight=weight
                )
                quality = compute_label_quality(mixed, run["noisy"], method=score)
                records.append(
                    {
                        "noise": run["noise"],
                        "rate": run["rate"],
                        "seed": run["seed"],
                        "setting": f"k={k} weight={weight:g} score={score}",
                        "ap": average_precision_score(run["is_error"], 1 - quality),
                    }
                )
    frame = pd.DataFrame(records)
    frame.to_csv(args.out / "tune.csv", index=False)
    per_level = frame.groupby(["setting", "noise", "rate"])["ap"].mean().unstack([1, 2])
    reference = per_level.loc[f"k={ks[0]} weight=1 score=self_confidence"]
    summary = pd.DataFrame(
        {
            "mean_ap": per_level.mean(axis=1),
            "worst_gain": per_level.sub(reference, axis=1).min(axis=1),
        }
    )
    print(summary.sort_values("worst_gain", ascending=False).head(20).to_string())
    best = summary["worst_gain"].idxmax()
    print("chosen:", best)
    chosen = pd.DataFrame({"chosen": per_level.loc[best], "reference": reference})
    print(chosen.to_string())


def markdown_table(frame, metric):
    """Return a markdown table of mean (std) ``metric`` per level and method."""
    grouped = frame.groupby(["dataset", "noise", "rate", "method"])[metric]
    summary = grouped.agg(["mean", "std"]).reset_index()
    summary["cell"] = [
        f"{m:.3f} ({s:.3f})" for m, s in zip(summary["mean"], summary["std"])
    ]
    table = summary.pivot_table(
        index=["dataset", "noise", "rate"], columns="method", values="cell", aggfunc="first"
    )
    table = table[list(METHODS)].reset_index()
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "---|" * len(table.columns)
    lines = [header, rule]
    for row in table.itertuples(index=False):
        cells = [str(v) if not isinstance(v, float) else f"{v:g}" for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/beholder-embeddings"))
    parser.add_argument("--datasets", nargs="+", default=["scene15", "sun8"])
    parser.add_argument("--noise", nargs="+", default=list(NOISE_TYPES), choices=NOISE_TYPES)
    parser.add_argument("--rates", nargs="+", type=float, default=[0.05, 0.1, 0.2, 0.4])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--tune", action="store_true", help="grid-search the ensemble")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)

    if args.tune:
        tune(args)
        return

    frame, pairs = benchmark(args)
    frame.to_csv(args.out / "label_noise.csv", index=False)
    tables = {metric: markdown_table(frame, metric) for metric in ("ap", "auroc", "f1")}
    meta = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "seeds": args.seeds,
        "pairs": pairs,
    }
    (args.out / "label_noise.json").write_text(json.dumps(meta, indent=2))
    text = "\n\n".join(f"### {metric.upper()}\n\n{table}" for metric, table in tables.items())
    (args.out / "label_noise.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

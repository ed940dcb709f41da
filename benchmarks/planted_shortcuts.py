"""Planted shortcuts: does the bias analysis find lighting, colour and scale cues?

The script copies sun8 to a folder outside the repository and plants one
shortcut in each of three classes:

- ``campus`` is darkened: gamma 2.2 on values in 0..1 (a dim, underexposed look);
- ``kitchen`` is tinted teal: a 30% blend with RGB (0, 128, 128);
- ``auditorium`` is always small: shrunk to 50% of each side, centred on a
  dark-gray (32, 32, 32) canvas of the original size.

Every image of the copy, planted or not, is re-encoded as JPEG quality 90, so
that re-encoding itself is no class cue. The planted copy and the unmodified
sun8 then go through the same steps: properties (``beholder.properties`` plus
``content_fraction``), embeddings with the default backbone, 5-fold
out-of-sample probabilities, and :func:`beholder.bias.analyze_bias` with the
counterfactual probes.

A plant counts as found when (1) the property ranked first for its class
measures the planted factor, and (2) a recommendation for that class names
the matching augmentation (brightness jitter; hue jitter or random grayscale;
random resized crop or zoom-out). On the unmodified data the same checks are
false alarms. A null false-alarm rate comes from the associations of the
unmodified data with permuted labels.

Usage::

    python benchmarks/planted_shortcuts.py [--work /tmp/beholder-planted]
        [--also SCENE15_FOLDER]

``--also`` runs the same analysis on another unmodified dataset, for its
findings and the probes' cost.

The unmodified embeddings are read from ``--embeddings`` (``sun8.npy`` and
``sun8.parquet``) when present, else computed through the embedding cache.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from beholder.bias import analyze_bias, compute_associations
from beholder.properties.framing import compute_content_fractions
from beholder.decode import open_rgb
from beholder.embed import embed_images, load_backbone
from beholder.embed.cache import default_cache_dir
from beholder.ingest import load_dataset
from beholder.predict.probe import cross_val_probabilities
from beholder.properties.table import compute_properties

PLANTS = {
    "campus": "brightness",
    "kitchen": "colour",
    "auditorium": "scale",
}
# Text that a recommendation must contain to count as the matching augmentation.
MATCHING = {
    "brightness": ("ColorJitter(brightness=",),
    "colour": ("hue=", "RandomGrayscale"),
    "scale": ("RandomResizedCrop", "RandomZoomOut"),
}
TEAL = np.array([0, 128, 128], dtype=np.float32)
CANVAS = (32, 32, 32)

logger = logging.getLogger("planted_shortcuts")


def darken(image: Image.Image) -> Image.Image:
    values = np.asarray(image, dtype=np.float32) / 255
    return Image.fromarray(np.rint(255 * values**2.2).astype(np.uint8))


def tint(image: Image.Image) -> Image.Image:
    values = 0.7 * np.asarray(image, dtype=np.float32) + 0.3 * TEAL
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))


def shrink_on_canvas(image: Image.Image) -> Image.Image:
    width, height = image.size
    small = image.resize((width // 2, height // 2), Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", image.size, CANVAS)
    canvas.paste(small, ((width - small.width) // 2, (height - small.height) // 2))
    return canvas


PLANTERS = {"campus": darken, "kitchen": tint, "auditorium": shrink_on_canvas}


def build_planted_copy(source: Path, target: Path) -> None:
    """Write the planted copy of ``source`` to ``target`` (skipped when complete)."""
    marker = target.with_name(target.name + ".complete")
    if marker.exists():
        return
    dataset = load_dataset(source)
    for row in dataset.images.itertuples():
        image = open_rgb(row.path)
        planter = PLANTERS.get(row.label)
        if planter is not None:
            image = planter(image)
        out = (target / row.relpath).with_suffix(".jpg")
        out.parent.mkdir(parents=True, exist_ok=True)
        image.save(out, format="JPEG", quality=90)
    marker.write_text("ok\n")


def measure(paths: list[str]) -> pd.DataFrame:
    properties = compute_properties(paths, n_jobs=2)
    properties["content_fraction"] = compute_content_fractions(paths)
    return properties


def load_or_embed(dataset, name: str, backbone, embeddings_dir: Path | None, cache):
    """Read ``embeddings_dir/NAME.npy`` when its parquet lists the same paths."""
    if embeddings_dir is not None:
        vectors = embeddings_dir / f"{name}.npy"
        meta = embeddings_dir / f"{name}.parquet"
        if vectors.exists() and meta.exists():
            rows = pd.read_parquet(meta)
            if list(rows["path"]) == list(dataset.images["path"]):
                return np.load(vectors)
            logger.warning("%s lists other paths; embedding again", meta)
    paths = list(dataset.images["path"])
    return embed_images(paths, backbone, cache_dir=cache).vectors


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def analyse(name, dataset, embeddings, backbone, n_probe_per_class, seed):
    paths = list(dataset.images["path"])
    labels, classes = dataset.labels, dataset.classes
    start = time.perf_counter()
    properties = measure(paths)
    seconds_properties = time.perf_counter() - start
    cv = cross_val_probabilities(embeddings, labels, n_classes=len(classes), seed=seed)
    load_before = load_average()
    result = analyze_bias(
        properties,
        cv.probabilities,
        labels,
        classes,
        images=paths,
        embeddings=embeddings,
        backbone=backbone,
        n_probe_per_class=n_probe_per_class,
        seed=seed,
    )
    run = result.probe_run
    return {
        "name": name,
        "n_images": len(paths),
        "result": result,
        "properties": properties,
        "accuracy": cv.accuracy,
        "seconds_properties": seconds_properties,
        "probe_seconds": run.seconds,
        "probe_forward_passes": run.n_forward,
        "probe_images_per_second": run.images_per_second,
        "load_before_probes": load_before,
        "load_after_probes": load_average(),
        "timings": result.timings,
    }


def check_plants(result) -> list[dict]:
    """For each planted class: top property, planted factor's rank, evidence, advice."""
    table = result.associations
    rows = []
    for class_name, factor in PLANTS.items():
        own = table[table["class"] == class_name].sort_values("rank_in_class")
        top = own.iloc[0]
        of_factor = own[own["factor"] == factor]
        shortcut = result.shortcuts[
            (result.shortcuts["class"] == class_name)
            & (result.shortcuts["factor"] == factor)
        ]
        advice = result.recommendations[result.recommendations["factor"] == factor]
        advice = advice[[class_name in c.split(", ") for c in advice["classes"]]]
        matching = any(
            needle in transform
            for transform in advice["transform"]
            for needle in MATCHING[factor]
        )
        rows.append(
            {
                "class": class_name,
                "planted": factor,
                "top_property": top["property"],
                "top_factor": top["factor"],
                "top_delta": round(float(top["cliffs_delta"]), 3),
                "top_flagged": bool(top["is_flagged"]),
                "planted_factor_rank": int(of_factor["rank_in_class"].min())
                if len(of_factor)
                else None,
                "ranked_first": top["factor"] == factor,
                "shortcut_evidence": shortcut["evidence"].iloc[0]
                if len(shortcut)
                else None,
                "shortcut_summary": shortcut["summary"].iloc[0]
                if len(shortcut)
                else None,
                "advice": "; ".join(advice["transform"]) if len(advice) else None,
                "advice_priority": advice["priority"].iloc[0] if len(advice) else None,
                "advice_matches": matching,
            }
        )
    return rows


def null_false_alarms(properties, labels, classes, n_permutations, seed):
    """Flagged associations when labels carry no information (permuted)."""
    rng = np.random.default_rng(seed)
    flagged, significant, any_flagged, n_tests = 0, 0, 0, 0
    for _ in range(n_permutations):
        table = compute_associations(
            properties, rng.permutation(labels), classes, n_bootstrap=0
        )
        flagged += int(table["is_flagged"].sum())
        significant += int(table["is_significant"].sum())
        any_flagged += bool(table["is_flagged"].any())
        n_tests += len(table)
    return {
        "permutations": n_permutations,
        "tests": n_tests,
        "flagged_rate": flagged / n_tests,
        "significant_rate": significant / n_tests,
        "permutations_with_any_flag": any_flagged,
    }


def machine() -> dict:
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpu.splitlines()
            if line.startswith("Model name")
        ),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "date": time.strftime("%Y-%m-%d"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/sun8"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/beholder-planted"))
    parser.add_argument(
        "--embeddings", type=Path, default=Path("/tmp/beholder-embeddings")
    )
    parser.add_argument("--n-probe-per-class", type=int, default=10)
    parser.add_argument("--n-permutations", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--also",
        type=Path,
        action="append",
        default=[],
        help="another unmodified dataset folder to analyse and time (repeatable)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    planted_root = args.work / "sun8-planted"
    start = time.perf_counter()
    build_planted_copy(args.data, planted_root)
    logger.info("planted copy ready in %.0f s", time.perf_counter() - start)

    backbone = load_backbone()
    original = load_dataset(args.data)
    planted = load_dataset(planted_root)
    start = time.perf_counter()
    planted_vectors = embed_images(
        list(planted.images["path"]), backbone, cache_dir=args.work / "cache"
    ).vectors
    embed_seconds = time.perf_counter() - start
    original_vectors = load_or_embed(
        original, args.data.name, backbone, args.embeddings, default_cache_dir()
    )

    report = {"machine": machine(), "embed_seconds_planted": embed_seconds}
    probe_options = (backbone, args.n_probe_per_class, args.seed)
    run = analyse("planted", planted, planted_vectors, *probe_options)
    report["planted"] = summarise("planted", run, args.work)
    run = analyse("unmodified", original, original_vectors, *probe_options)
    properties = run["properties"]
    report["unmodified"] = summarise("unmodified", run, args.work)
    report["null"] = null_false_alarms(
        properties, original.labels, original.classes, args.n_permutations, args.seed
    )
    for folder in args.also:
        dataset = load_dataset(folder)
        vectors = load_or_embed(
            dataset, folder.name, backbone, args.embeddings, default_cache_dir()
        )
        run = analyse(folder.name, dataset, vectors, *probe_options)
        report[folder.name] = summarise(folder.name, run, args.work, plants=False)

    found = [
        row["ranked_first"] and row["advice_matches"]
        for row in report["planted"]["plants"]
    ]
    alarms = [
        row["shortcut_evidence"] is not None and row["advice_matches"]
        for row in report["unmodified"]["plants"]
    ]
    report["summary"] = {
        "plants_found": f"{sum(found)}/{len(found)}",
        "same_alarms_on_unmodified": f"{sum(alarms)}/{len(alarms)}",
    }
    out = args.work / "results.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report, indent=2, default=str))


def summarise(name: str, run: dict, work: Path, *, plants: bool = True) -> dict:
    """Reduce one analysis to JSON-ready findings and write its tables as CSV."""
    result = run.pop("result")
    run.pop("properties")
    if plants:
        run["plants"] = check_plants(result)
    run["recommendations"] = result.recommendations[
        ["rank", "factor", "transform", "priority", "classes", "evidence", "parameters"]
    ].to_dict("records")
    run["pipeline"] = result.pipeline
    run["probe_shortcuts"] = result.shortcuts[result.shortcuts["is_probe"]][
        ["class", "factor", "evidence", "summary"]
    ].to_dict("records")
    run["top_property_per_class"] = result.associations[
        result.associations["rank_in_class"] == 1
    ][["class", "property", "cliffs_delta", "is_flagged"]].to_dict("records")
    significant = result.slices[result.slices["is_significant"]]
    run["error_slices"] = significant["description"].tolist()
    for table, frame in result.tables().items():
        frame.to_csv(work / f"{name}-{table}.csv", index=False)
    return run


if __name__ == "__main__":
    main()

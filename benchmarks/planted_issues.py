"""Plant known issues in copies of real photographs and score beholder and CleanVision.

The script copies colour photographs from the sun8 set into a temporary
folder (never into the repository), damages most copies in one known way,
and records which check should flag each file:

==================  ==========================================================
plant               how the copy is made
==================  ==========================================================
dark                pixel values times 0.06 to 0.2
overexposed         pixel values times 2.2 to 3.5, clipped at 255
blurry              Gaussian blur, radius 1.2% to 2% of the shorter side
low_information     contrast cut to 4% to 10% around the mean
grayscale           converted to luminance, saved as an RGB JPEG
odd_aspect_ratio    a centre strip cropped to width:height 3.5:1 to 5:1, or
                    the inverse
odd_size            resized so that the longer side is 12% to 20%, or 300% to
                    400%, of the median longer side of the source photographs
exact_duplicate     the original kept, plus its decoded pixels saved as PNG
near_reencode       the original kept, plus a JPEG re-encode at quality 25-50
near_resize         the original kept, plus a copy resized to 50% to 75%
clean               the original file, unchanged
==================  ==========================================================

Both tools then read the same files. For each check the script prints
precision and recall against the planted truth. Natural issues in the
source photographs (a dim but real photo, a sky with no texture) count as
false positives for both tools alike, so precision is a lower bound.

Usage::

    python benchmarks/planted_issues.py --seeds 1 2 3 --json results.json

Each seed picks other photographs and strengths. The thresholds in
``beholder.properties.checks`` were chosen with seed 0, so report other
seeds.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageEnhance, ImageFilter

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"

PROPERTY_PLANTS = [
    "dark",
    "overexposed",
    "blurry",
    "low_information",
    "grayscale",
    "odd_aspect_ratio",
    "odd_size",
]
DUPLICATE_PLANTS = ["exact_duplicate", "near_reencode", "near_resize"]
# Checks scored, and the plants that count as positives for each.
CHECK_TRUTH = {
    "dark": {"dark"},
    "overexposed": {"overexposed"},
    "blurry": {"blurry"},
    "low_information": {"low_information"},
    "grayscale": {"grayscale"},
    "odd_aspect_ratio": {"odd_aspect_ratio"},
    "odd_size": {"odd_size"},
    "exact_duplicate": {"exact_duplicate"},
    "near_duplicate": {"near_reencode", "near_resize"},
}
# CleanVision's issue type for each check ("light" is its overexposure check).
CLEANVISION_ISSUES = {
    "dark": "dark",
    "overexposed": "light",
    "blurry": "blurry",
    "low_information": "low_information",
    "grayscale": "grayscale",
    "odd_aspect_ratio": "odd_aspect_ratio",
    "odd_size": "odd_size",
    "exact_duplicate": "exact_duplicates",
    "near_duplicate": "near_duplicates",
}


def make_planted_dataset(
    out: Path, *, data_dir: Path, per_issue: int, n_clean: int, seed: int
) -> pd.DataFrame:
    """Write the planted dataset under ``out`` as class folders; return the truth.

    The truth table has one row per file, with four columns. ``plant`` is
    the name of the plant, ``"clean"``, or ``"original"`` for the kept half
    of a planted duplicate pair. ``source`` is the relpath in sun8, and
    ``pair`` the relpath of the other file of a duplicate pair (else empty).
    """
    rng = np.random.default_rng(seed)
    sources = _colour_sources(data_dir / "sun8")
    needed = per_issue * (len(PROPERTY_PLANTS) + len(DUPLICATE_PLANTS)) + n_clean
    if needed > len(sources):
        raise SystemExit(f"need {needed} source photographs, sun8 has {len(sources)}")
    chosen = [sources[i] for i in rng.permutation(len(sources))[:needed]]
    typical_side = float(np.median([max(Image.open(path).size) for path in sources]))
    planters = {
        **PLANTERS,
        "odd_size": functools.partial(_odd_size, typical_side=typical_side),
    }

    rows = []
    queue = iter(chosen)
    for plant in PROPERTY_PLANTS:
        for k in range(per_issue):
            source = next(queue)
            image = Image.open(source).convert("RGB")
            planted = planters[plant](image, rng)
            relpath = f"{source.parent.name}/{plant}_{k:03d}.jpg"
            _save_jpeg(planted, out / relpath, quality=92)
            rows.append(_row(relpath, plant, source, data_dir))
    for plant in DUPLICATE_PLANTS:
        for k in range(per_issue):
            source = next(queue)
            original = f"{source.parent.name}/{plant}_{k:03d}_original.jpg"
            (out / original).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, out / original)
            copy = _write_duplicate(
                plant, source, out, f"{source.parent.name}/{plant}_{k:03d}_copy", rng
            )
            rows.append(_row(original, "original", source, data_dir, pair=copy))
            rows.append(_row(copy, plant, source, data_dir, pair=original))
    for k in range(n_clean):
        source = next(queue)
        relpath = f"{source.parent.name}/clean_{k:03d}.jpg"
        shutil.copyfile(source, out / relpath)
        rows.append(_row(relpath, "clean", source, data_dir))
    return pd.DataFrame(rows)


# sun8 photographs that have one of the checked issues before any change, as
# judged by a person looking at every photograph that beholder or CleanVision
# flags in the unmodified sun8 (duplicates aside). They are left out as
# sources, because every copy of them would carry that issue too. The smooth
# skies and dunes that either tool flags as blurry were judged in focus and
# stay.
NATURAL_ISSUES = {
    "desert/sun_bdcttfhebcktjrep.jpg": "overexposed: white sky, washed out",
    "desert/sun_aymovaimiwqnungg.jpg": "odd size: 126x106, the median is 320x240",
    "airport/sun_adtgbjkmsxruvbwk.jpg": "odd aspect ratio: 320x111 panorama",
    "airport/sun_afvhqmbmqkgpkjbn.jpg": "odd aspect ratio: 320x111 panorama",
    "airport/sun_bfgrmqgevtycecmf.jpg": "odd aspect ratio: 320x86 panorama",
    "auditorium/sun_apfoydppofyeaovq.jpg": "odd aspect ratio: 162x320 strip",
    "campus/sun_bkhphgyjsqnnjjfn.jpg": "odd aspect ratio: 320x105 panorama",
}


def _colour_sources(folder: Path) -> list[Path]:
    """Photographs in ``folder`` that are unmistakably colour, unique and clean.

    A photograph counts as colour when at least 5% of its pixels have a
    channel spread above 24 levels, which keeps the grayscale truth exact.
    sun8 contains a few dozen duplicate photographs. A photograph whose
    difference hash (a hash independent of beholder's) is within 12 bits of
    another's is left out, so the only duplicates are planted ones. The
    photographs in :data:`NATURAL_ISSUES` are left out too.
    """
    paths, hashes = [], []
    for path in sorted(folder.rglob("*.jpg")):
        if path.relative_to(folder).as_posix() in NATURAL_ISSUES:
            continue
        image = Image.open(path).convert("RGB")
        pixels = np.asarray(image, dtype=np.int16)
        spread = pixels.max(axis=2) - pixels.min(axis=2)
        if (spread > 24).mean() >= 0.05:
            paths.append(path)
            hashes.append(_difference_hash(image))
    bits = np.array(hashes)
    unique = []
    for i, row in enumerate(bits):
        distances = (bits != row).sum(axis=1)
        distances[i] = 64
        unique.append(distances.min() > 12)
    return [path for path, keep in zip(paths, unique) if keep]


def _difference_hash(image: Image.Image) -> np.ndarray:
    """Compare each pixel of a 9x8 gray thumbnail with its right neighbour: 64 bits."""
    small = np.asarray(image.convert("L").resize((9, 8), Image.Resampling.LANCZOS))
    return (small[:, 1:] > small[:, :-1]).ravel()


def _row(relpath, plant, source, data_dir, pair=""):
    return {
        "relpath": relpath,
        "plant": plant,
        "source": source.relative_to(data_dir).as_posix(),
        "pair": pair,
    }


def _save_jpeg(image: Image.Image, path: Path, *, quality: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="JPEG", quality=quality)


def _write_duplicate(plant, source: Path, out: Path, stem: str, rng) -> str:
    image = Image.open(source).convert("RGB")
    if plant == "exact_duplicate":
        relpath = stem + ".png"
        image.save(out / relpath, format="PNG")
    elif plant == "near_reencode":
        relpath = stem + ".jpg"
        _save_jpeg(image, out / relpath, quality=int(rng.integers(25, 51)))
    else:
        scale = rng.uniform(0.5, 0.75)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        relpath = stem + ".jpg"
        _save_jpeg(
            image.resize(size, Image.Resampling.LANCZOS), out / relpath, quality=90
        )
    return relpath


def _dark(image, rng):
    return Image.eval(image, _scale_lut(rng.uniform(0.06, 0.2)))


def _overexposed(image, rng):
    return Image.eval(image, _scale_lut(rng.uniform(2.2, 3.5)))


def _scale_lut(gain: float):
    return lambda value: min(255, round(value * gain))


def _blurry(image, rng):
    radius = rng.uniform(0.012, 0.02) * min(image.size)
    return image.filter(ImageFilter.GaussianBlur(radius))


def _low_information(image, rng):
    return ImageEnhance.Contrast(image).enhance(rng.uniform(0.04, 0.10))


def _grayscale(image, rng):
    return image.convert("L").convert("RGB")


def _odd_aspect_ratio(image, rng):
    ratio = rng.uniform(3.5, 5.0)
    width, height = image.size
    if rng.random() < 0.5:
        strip = max(1, round(width / ratio))
        top = (height - min(strip, height)) // 2
        return image.crop((0, top, width, top + min(strip, height)))
    strip = max(1, round(height / ratio))
    left = (width - min(strip, width)) // 2
    return image.crop((left, 0, left + min(strip, width), height))


def _odd_size(image, rng, *, typical_side: float):
    """Resize so that the longer side is 12-20% or 300-400% of ``typical_side``.

    Both tools judge size against the dataset's typical image, so the plant
    is sized against it too, not against its own source (a small square
    source tripled would stay close to the typical size).
    """
    if rng.random() < 0.75:
        factor = rng.uniform(0.12, 0.2)
    else:
        factor = rng.uniform(3.0, 4.0)
    scale = factor * typical_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


PLANTERS = {
    "dark": _dark,
    "overexposed": _overexposed,
    "blurry": _blurry,
    "low_information": _low_information,
    "grayscale": _grayscale,
    "odd_aspect_ratio": _odd_aspect_ratio,
}


def truth_table(planted: pd.DataFrame) -> pd.DataFrame:
    """One boolean column per check: should the check flag this file?"""
    truth = pd.DataFrame({"relpath": planted["relpath"]})
    pair_plant = dict(zip(planted["pair"], planted["plant"]))
    for check, plants in CHECK_TRUTH.items():
        own = planted["plant"].isin(plants)
        # The kept original of a duplicate pair is a duplicate too.
        partner = planted["relpath"].map(pair_plant).isin(plants)
        truth[check] = own | (partner & (planted["plant"] == "original"))
    return truth


def run_beholder(root: Path, n_jobs: int | None) -> tuple[pd.DataFrame, float]:
    """Flags per check from beholder's model-free scan, indexed by relpath."""
    from beholder.ingest import load_dataset
    from beholder.properties import scan_dataset

    start = time.perf_counter()
    dataset = load_dataset(root)
    result = scan_dataset(dataset, n_jobs=n_jobs)
    elapsed = time.perf_counter() - start
    flags = pd.DataFrame({"relpath": dataset.images["relpath"]})
    for check in CHECK_TRUTH:
        flags[check] = (
            result.issues[f"is_{check}"].fillna(False).astype(bool).to_numpy()
        )
    return flags.set_index("relpath"), elapsed


def run_cleanvision(root: Path, relpaths: list[str], n_jobs: int | None):
    """Flags per check from CleanVision's default run, indexed by relpath."""
    from cleanvision import Imagelab

    paths = [str(root / relpath) for relpath in relpaths]
    start = time.perf_counter()
    lab = Imagelab(filepaths=paths, verbose=False)
    lab.find_issues(n_jobs=n_jobs, verbose=False)
    elapsed = time.perf_counter() - start
    issues = lab.issues.reindex(paths)
    flags = pd.DataFrame({"relpath": relpaths})
    for check, name in CLEANVISION_ISSUES.items():
        column = f"is_{name}_issue"
        flags[check] = issues[column].fillna(False).astype(bool).to_numpy()
    return flags.set_index("relpath"), elapsed


def score(flags: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Precision, recall and counts per check."""
    truth = truth.set_index("relpath").loc[flags.index]
    rows = []
    for check in CHECK_TRUTH:
        flagged, positive = flags[check].to_numpy(), truth[check].to_numpy()
        tp = int((flagged & positive).sum())
        fp = int((flagged & ~positive).sum())
        fn = int((~flagged & positive).sum())
        rows.append(
            {
                "check": check,
                "positives": int(positive.sum()),
                "flagged": int(flagged.sum()),
                "precision": tp / (tp + fp) if tp + fp else float("nan"),
                "recall": tp / (tp + fn) if tp + fn else float("nan"),
                "tp": tp,
                "fp": fp,
                "fn": fn,
            }
        )
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="folder holding sun8/"
    )
    parser.add_argument("--per-issue", type=int, default=40, help="copies per plant")
    parser.add_argument("--clean", type=int, default=200, help="unchanged copies")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[1], help="one planted set per seed"
    )
    parser.add_argument(
        "--n-jobs", type=int, default=None, help="worker processes for both tools"
    )
    parser.add_argument(
        "--keep", type=Path, help="write the planted files here (one seed only)"
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--skip-cleanvision", action="store_true")
    args = parser.parse_args(argv)

    if not (args.data / "sun8").is_dir():
        print(f"sun8 not found under {args.data}; pass --data", file=sys.stderr)
        return 2
    if args.keep and len(args.seeds) > 1:
        print("--keep works with a single seed", file=sys.stderr)
        return 2
    runs = [run_seed(args, seed) for seed in args.seeds]
    for run in runs:
        _print_results(run)
    if len(runs) > 1:
        _print_results(pool_runs(runs))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))
    return 0


def run_seed(args, seed: int) -> dict:
    """Plant one dataset, run both tools on it and score them."""
    with tempfile.TemporaryDirectory(prefix="beholder-planted-") as scratch:
        root = args.keep or Path(scratch)
        if root.exists() and any(root.iterdir()):
            raise SystemExit(f"{root} is not empty; give an empty or new folder")
        planted = make_planted_dataset(
            root,
            data_dir=args.data,
            per_issue=args.per_issue,
            n_clean=args.clean,
            seed=seed,
        )
        truth = truth_table(planted)
        if args.keep:
            planted.to_csv(root / "planted.csv", index=False)

        results = {"seeds": [seed], "n_files": len(planted)}
        flags, seconds = run_beholder(root, args.n_jobs)
        results["beholder"] = score(flags, truth).to_dict("records")
        results["beholder_seconds"] = seconds
        if not args.skip_cleanvision:
            relpaths = flags.index.tolist()
            cv_flags, cv_seconds = run_cleanvision(root, relpaths, args.n_jobs)
            results["cleanvision"] = score(cv_flags, truth).to_dict("records")
            results["cleanvision_seconds"] = cv_seconds
    return results


def pool_runs(runs: list[dict]) -> dict:
    """Add up true and false positives over seeds and recompute the rates."""
    pooled = {"seeds": [s for run in runs for s in run["seeds"]]}
    pooled["n_files"] = sum(run["n_files"] for run in runs)
    for tool in ("beholder", "cleanvision"):
        if tool not in runs[0]:
            continue
        frames = [pd.DataFrame(run[tool]).set_index("check") for run in runs]
        counts = sum(f[["positives", "flagged", "tp", "fp", "fn"]] for f in frames)
        counts["precision"] = counts["tp"] / (counts["tp"] + counts["fp"])
        counts["recall"] = counts["tp"] / (counts["tp"] + counts["fn"])
        pooled[tool] = counts.reset_index().to_dict("records")
    return pooled


def _print_results(results: dict) -> None:
    seeds = ", ".join(map(str, results["seeds"]))
    print(f"\nplanted-issue benchmark, seeds {seeds}, {results['n_files']} files")
    beholder = pd.DataFrame(results["beholder"]).set_index("check")
    table = beholder[["positives"]].copy()
    table["beholder P"] = beholder["precision"]
    table["beholder R"] = beholder["recall"]
    if "cleanvision" in results:
        cleanvision = pd.DataFrame(results["cleanvision"]).set_index("check")
        table["CleanVision P"] = cleanvision["precision"]
        table["CleanVision R"] = cleanvision["recall"]
    print(table.to_markdown(floatfmt=".2f"))


if __name__ == "__main__":
    sys.exit(main())

"""Synthetic run folders with the tables of a real audit, for tests and benchmarks.

The images, when written, are scikit-learn's bundled 8x8 handwritten digits
scaled up, so a person (and a screenshot) can see which label is right.
Each class shows one digit. Given labels are the true class except for a
share ``error_rate`` of images, and the "model" predicts the true class
except for a share ``model_error_rate``, so the label-issue queue contains
mostly real label errors.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from beholder import __version__
from beholder.store import RunStore

DIGIT_NAMES = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)
DEFAULT_CLASSES = ("three", "five", "eight", "nine")


def write_synthetic_run(
    run_dir: str | Path,
    *,
    n_images: int = 60,
    classes=DEFAULT_CLASSES,
    with_images: bool = True,
    error_rate: float = 0.15,
    model_error_rate: float = 0.1,
    splits: bool = False,
    odd_file_name: str | None = None,
    image_size: int = 96,
    seed: int = 0,
    database_url: str | None = None,
) -> Path:
    """Write a run folder whose tables look like those of ``beholder audit``.

    Parameters
    ----------
    run_dir : path
        Folder to write; images go to ``run_dir/data`` when ``with_images``.
    n_images : int
        Number of images; every class gets about the same number.
    classes : sequence of str
        Class names in any characters; a name from ``DIGIT_NAMES`` shows
        that digit, any other name the digit of its index.
    with_images : bool
        Write PNG files; without them, paths point to files that do not
        exist, which is enough for posting decisions.
    odd_file_name : str, optional
        File name of image 0, to test escaping of names in pages.
    database_url : str, optional
        Database for the tables; default the run's SQLite file.

    Returns
    -------
    Path
        The run folder.
    """
    classes = [str(name) for name in classes]
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise ValueError(f"classes must be at least two distinct names, got {classes}.")
    if n_images < len(classes):
        raise ValueError(
            f"n_images must be at least the number of classes ({len(classes)}), "
            f"got {n_images}."
        )
    rng = np.random.default_rng(seed)
    n_classes = len(classes)
    truth = np.arange(n_images) % n_classes
    given = _corrupt(truth, error_rate, n_classes, rng)
    predicted = _corrupt(truth, model_error_rate, n_classes, rng)
    probabilities = _probabilities(predicted, n_classes, rng)

    store = RunStore(run_dir, database_url=database_url)
    data_dir = store.run_dir / "data"
    names = [f"{i:06d}.png" for i in range(n_images)]
    if odd_file_name:
        names[0] = odd_file_name
    folders = [_folder_name(classes[label]) for label in given]
    relpaths = [f"{folder}/{name}" for folder, name in zip(folders, names)]
    if with_images:
        hashes = _write_digits(data_dir, relpaths, truth, classes, image_size, rng)
    else:
        hashes = [f"{i:032x}" for i in range(n_images)]

    images = pd.DataFrame(
        {
            "image_id": np.arange(n_images),
            "path": [str(data_dir / relpath) for relpath in relpaths],
            "relpath": relpaths,
            "label": [classes[i] for i in given],
            "split": _splits(n_images, rng) if splits else None,
            "content_hash": hashes,
            "label_index": given,
            "predicted": [classes[i] for i in predicted],
            "confidence": probabilities.max(axis=1),
        }
    )
    issues = _label_issues(probabilities, given, truth, classes)
    store.write_table("images", images)
    store.write_table(
        "classes", pd.DataFrame({"class_index": range(n_classes), "name": classes})
    )
    store.write_table("label_issues", issues)
    store.write_table("class_pairs", _class_pairs(given, predicted, classes))
    store.write_array("probabilities", probabilities.astype(np.float32))
    store.write_meta(
        {
            "beholder_version": __version__,
            "source": str(data_dir),
            "layout": "synthetic",
            "classes": classes,
            "config": {"seed": seed},
            "summary": {"n_images": n_images, "n_classes": n_classes},
        }
    )
    store.close()
    return store.run_dir


def _corrupt(truth, rate, n_classes, rng):
    labels = truth.copy()
    flip = rng.random(len(truth)) < rate
    shift = rng.integers(1, n_classes, size=len(truth))
    labels[flip] = (truth[flip] + shift[flip]) % n_classes
    return labels


def _probabilities(predicted, n_classes, rng):
    scores = rng.gamma(1.0, 1.0, size=(len(predicted), n_classes))
    scores[np.arange(len(predicted)), predicted] += rng.uniform(2, 12, len(predicted))
    return scores / scores.sum(axis=1, keepdims=True)


def _label_issues(probabilities, given, truth, classes) -> pd.DataFrame:
    n_images = len(given)
    rows = np.arange(n_images)
    self_confidence = probabilities[rows, given]
    others = probabilities.copy()
    others[rows, given] = -1.0
    suggested = others.argmax(axis=1)
    margin = self_confidence - others.max(axis=1)

    score = 1.0 - self_confidence
    order = np.argsort(-score, kind="stable")
    rank = np.empty(n_images, dtype=np.int64)
    rank[order] = np.arange(1, n_images + 1)

    neighbours = []
    # Images of the same true class that carry another label stand in for
    # the embedding neighbours that disagree with an image's label.
    by_truth = {c: np.flatnonzero(truth == c) for c in range(len(classes))}
    for i in range(n_images):
        same = by_truth[truth[i]]
        near = same[(given[same] != given[i]) & (same != i)][:5]
        neighbours.append([int(j) for j in near])

    return pd.DataFrame(
        {
            "image_id": rows,
            "label_issue_score": score,
            "is_label_issue": probabilities.argmax(axis=1) != given,
            "suggested_label": suggested,
            "self_confidence": self_confidence,
            "normalized_margin": margin,
            "rank": rank,
            "suggested": [classes[i] for i in suggested],
            "disagreeing_neighbours": neighbours,
        }
    )


def _class_pairs(given, predicted, classes) -> pd.DataFrame:
    n_classes = len(classes)
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (given, predicted), 1)
    totals = np.maximum(counts.sum(axis=1), 1)
    rows = []
    for a in range(n_classes):
        for b in range(a + 1, n_classes):
            rate_ab, rate_ba = counts[a, b] / totals[a], counts[b, a] / totals[b]
            rows.append(
                {
                    "class_a": classes[a],
                    "class_b": classes[b],
                    "n_a_as_b": int(counts[a, b]),
                    "n_b_as_a": int(counts[b, a]),
                    "rate_a_as_b": rate_ab,
                    "rate_b_as_a": rate_ba,
                    "overlap": max(rate_ab, rate_ba),
                }
            )
    pairs = pd.DataFrame(rows).sort_values("overlap", ascending=False, kind="stable")
    return pairs[(pairs["n_a_as_b"] + pairs["n_b_as_a"]) > 0].reset_index(drop=True)


def _splits(n_images, rng):
    return np.where(rng.random(n_images) < 0.8, "train", "val")


def _folder_name(label: str) -> str:
    return label.replace("/", "_").replace("\\", "_").replace("\0", "_") or "_"


def _write_digits(data_dir, relpaths, truth, classes, size, rng) -> list[str]:
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    by_digit = {d: np.flatnonzero(digits.target == d) for d in range(10)}
    hashes = []
    for relpath, true_class in zip(relpaths, truth):
        name = classes[true_class]
        digit = DIGIT_NAMES.index(name) if name in DIGIT_NAMES else true_class % 10
        pixels = digits.images[rng.choice(by_digit[digit])]
        gray = (255 - pixels * (255 / 16)).astype(np.uint8)
        image = Image.fromarray(gray).resize((size, size), Image.BICUBIC)
        path = data_dir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        image.convert("RGB").save(path)
        hashes.append(hashlib.md5(path.read_bytes()).hexdigest())
    return hashes

"""Generated images with known properties, and datasets built from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from tests.conftest import write_image


def scene(seed: int, width: int = 160, height: int = 120) -> np.ndarray:
    """An RGB picture with coloured rectangles, edges and mild noise, like a photo."""
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), dtype=np.float64)
    image += rng.uniform(60, 180, size=3)
    for _ in range(12):
        top, left = rng.integers(0, height), rng.integers(0, width)
        bottom = min(height, top + rng.integers(8, height // 2 + 9))
        right = min(width, left + rng.integers(8, width // 2 + 9))
        image[top:bottom, left:right] = rng.uniform(0, 255, size=3)
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def blurred(array: np.ndarray, radius: float) -> np.ndarray:
    return np.asarray(Image.fromarray(array).filter(ImageFilter.GaussianBlur(radius)))


def save(path: Path, array: np.ndarray, **options) -> str:
    return str(write_image(path, array, **options))


@pytest.fixture
def split_dataset(tmp_path):
    """Split folders with a planted exact duplicate, a near duplicate across
    splits, and an exact duplicate with another label."""
    root = tmp_path / "data"
    # Fixed seeds: Python's hash() of strings changes between processes, and
    # some of its seeds drew two scenes within the near-duplicate radius.
    for s, split in enumerate(("train", "test")):
        for k, label in enumerate(("cats", "dogs")):
            for i in range(6):
                seed = 100 * s + 10 * k + i
                save(root / split / label / f"{i}.jpg", scene(seed), quality=92)
    original = scene(424242)
    save(root / "train" / "cats" / "original.jpg", original, quality=92)
    decoded = np.asarray(Image.open(root / "train" / "cats" / "original.jpg"))
    save(root / "train" / "cats" / "copy.png", decoded)
    save(root / "test" / "dogs" / "relabelled.png", decoded)
    smaller = Image.fromarray(decoded).resize((120, 90), Image.Resampling.LANCZOS)
    save(root / "test" / "cats" / "smaller.jpg", np.asarray(smaller), quality=80)
    return root

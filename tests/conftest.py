"""Fixtures shared by every test package: generated image folders and real data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """Return the real-data folder: $BEHOLDER_DATA_DIR, else ../shared/data."""
    configured = os.environ.get("BEHOLDER_DATA_DIR")
    return Path(configured) if configured else REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The real datasets; the test is skipped when they are not on this machine."""
    folder = shared_data_dir()
    if not (folder / "scene15").is_dir():
        pytest.skip(
            f"real data not found at {folder}; set BEHOLDER_DATA_DIR to the folder "
            "holding scene15/ and sun8/"
        )
    return folder


def write_image(path: Path, array: np.ndarray, **save_options) -> Path:
    """Save a uint8 array (H, W) or (H, W, 3) as an image, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path, **save_options)
    return path


def class_image(class_index: int, variant: int, size: int = 48) -> np.ndarray:
    """An RGB image whose colour and stripes depend on its class, plus noise."""
    rng = np.random.default_rng(1000 * class_index + variant)
    hue = np.array([(class_index * 97) % 256, (class_index * 53) % 256, 128])
    image = np.tile(hue, (size, size, 1)).astype(np.float64)
    period = 4 + 3 * class_index
    stripes = (np.arange(size) // period) % 2 == 0
    image[:, stripes] *= 0.5
    image += rng.normal(0, 12, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture
def make_class_folders(tmp_path):
    """Return a function that writes ``root/CLASS/i.png`` for generated classes."""

    def make(n_classes: int = 3, per_class: int = 12, *, root: Path | None = None):
        root = root or tmp_path / "data"
        for c in range(n_classes):
            for i in range(per_class):
                write_image(root / f"class_{c}" / f"{i:03d}.png", class_image(c, i))
        return root

    return make


@pytest.fixture
def tiny_backbone_file(tmp_path_factory) -> Path:
    """A checkpoint of a small randomly initialised timm model, for fast tests."""
    import timm
    import torch

    folder = tmp_path_factory.mktemp("backbone")
    torch.manual_seed(0)
    model = timm.create_model("resnet10t", pretrained=False, num_classes=0)
    path = folder / "tiny.pth"
    torch.save({"arch": "resnet10t", "state_dict": model.state_dict()}, path)
    return path


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Keep every test's embedding cache in its own temporary folder."""
    monkeypatch.setenv("BEHOLDER_CACHE_DIR", str(tmp_path / "cache"))

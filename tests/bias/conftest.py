import numpy as np
import pandas as pd
import pytest


def make_properties(n_images: int, n_classes: int, seed: int, n_noise: int = 6):
    """Labels and a table of noise properties, with one column to plant into."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, size=n_images)
    table = {f"noise_{k}": rng.normal(size=n_images) for k in range(n_noise)}
    table["brightness"] = rng.uniform(0.2, 0.8, size=n_images)
    table["image_id"] = np.arange(n_images)
    return pd.DataFrame(table), labels


@pytest.fixture
def planted():
    """600 images, 4 classes; class 2 is darker (brightness x 0.5)."""
    properties, labels = make_properties(600, 4, seed=3)
    properties.loc[labels == 2, "brightness"] *= 0.5
    return properties, labels, ["a", "b", "c", "d"]


@pytest.fixture(scope="session")
def tiny_backbone():
    """timm's test_resnet with random weights at 64 px: fast, and deterministic."""
    import timm
    import torch

    from beholder.embed.backbones import Backbone

    torch.manual_seed(0)
    model = timm.create_model("test_resnet", pretrained=False, num_classes=0).eval()
    return Backbone(
        model=model,
        name="test_resnet",
        input_size=64,
        crop_pct=1.0,
        interpolation="bilinear",
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        weights_id="random-seed-0",
    )


def textured_image(mean_level: float, seed: int, size: int = 72):
    """A gray-brown texture whose mean luminance is about ``mean_level``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    texture = rng.normal(0, 25, size=(size // 8, size // 8, 3))
    texture = np.kron(texture, np.ones((8, 8, 1))) + rng.normal(0, 8, (size, size, 3))
    tint = np.array([1.05, 1.0, 0.9])
    pixels = np.clip(mean_level * tint + texture, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


@pytest.fixture(scope="session")
def brightness_dataset(tmp_path_factory):
    """Two classes that differ only in brightness: 'dark' (50) and 'bright' (200)."""
    root = tmp_path_factory.mktemp("brightness")
    paths, labels = [], []
    for label, (name, level) in enumerate((("bright", 200), ("dark", 50))):
        for k in range(12):
            path = root / name / f"{k}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            textured_image(level, seed=100 * label + k).save(path)
            paths.append(str(path))
            labels.append(label)
    return paths, np.array(labels), ["bright", "dark"]


@pytest.fixture(scope="session")
def brightness_embeddings(brightness_dataset, tiny_backbone):
    from beholder.embed import embed_images

    paths = brightness_dataset[0]
    return embed_images(paths, tiny_backbone, cache_dir=None).vectors


@pytest.fixture(scope="session")
def brightness_properties(brightness_dataset):
    """Mean luminance (0..1) and a noise column, measured from the files."""
    from PIL import Image

    paths = brightness_dataset[0]
    rng = np.random.default_rng(0)
    luminance = [
        np.asarray(Image.open(p).convert("L"), float).mean() / 255 for p in paths
    ]
    return pd.DataFrame({"brightness": luminance, "noise": rng.normal(size=len(paths))})

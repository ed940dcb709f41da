"""Write scikit-learn's handwritten digits as PNG class folders for a demo audit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_digits(folder: str | Path, *, size: int = 64) -> int:
    """Write the 1,797 8x8 digits, upscaled to ``size`` pixels, as ``folder/D/i.png``.

    The digit classes are the strings ``"0"`` to ``"9"``. Existing files are
    overwritten, so the call is idempotent. Returns the number of images.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder = Path(folder)
    for index, (pixels, target) in enumerate(zip(digits.images, digits.target)):
        # The 8x8 images hold 0..16; invert to dark ink on white paper.
        gray = (255 - pixels * (255 / 16)).astype(np.uint8)
        image = Image.fromarray(gray, mode="L").resize((size, size), Image.NEAREST)
        target_dir = folder / str(target)
        target_dir.mkdir(parents=True, exist_ok=True)
        image.save(target_dir / f"{index:04d}.png")
    return len(digits.target)

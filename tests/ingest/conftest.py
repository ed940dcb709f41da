"""Fixtures that write good and hostile image files for the ingest tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from beholder.decode import open_rgb
from beholder.errors import ImageDecodeError

BAD_KINDS = ("empty", "truncated", "text", "random")


class Files:
    """Writers for small image files; every method creates missing parent folders."""

    def image(
        self, path: Path, *, fmt: str = "PNG", size=(8, 8), seed: int = 0
    ) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed)
        width, height = size
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path, format=fmt)
        return path

    def bad(self, path: Path, kind: str) -> Path:
        """Write a file that cannot be decoded: one of :data:`BAD_KINDS`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "empty":
            path.write_bytes(b"")
        elif kind == "truncated":
            buffer = io.BytesIO()
            Image.fromarray(
                np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)
            ).save(buffer, "JPEG")
            path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        elif kind == "text":
            path.write_text("not an image\n")
        elif kind == "random":
            path.write_bytes(np.random.default_rng(4).bytes(300))
        else:
            raise ValueError(f"unknown bad file kind {kind!r}; use one of {BAD_KINDS}")
        return path


@pytest.fixture
def files() -> Files:
    return Files()


def decode_failures(dataset) -> dict[str, str]:
    """Decode every image as the audit does and return ``{relpath: reason}``."""
    failures = {}
    for path, relpath in zip(dataset.images["path"], dataset.images["relpath"]):
        try:
            open_rgb(path, draft_size=16)
        except ImageDecodeError as error:
            failures[relpath] = error.reason
    return failures


@pytest.fixture
def decode_all():
    return decode_failures

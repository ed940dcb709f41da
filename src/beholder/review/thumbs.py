"""Server-side JPEG thumbnails, cached on disk and in memory.

A review step shows one image and a few small ones, so images are sent at
most ``max(ALLOWED_SIZES)`` pixels on their longer side. Thumbnails are
keyed by the image's content hash and cached in ``RUN_DIR/thumbs``; when
that folder cannot be written, only the in-memory cache is used.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from beholder.decode import open_rgb

logger = logging.getLogger(__name__)

ALLOWED_SIZES = (96, 192, 384)
JPEG_QUALITY = 85
MEMORY_ITEMS = 512


class ThumbnailCache:
    """Make and cache JPEG thumbnails.

    Parameters
    ----------
    folder : path or None
        Disk cache folder; None keeps thumbnails in memory only.
    memory_items : int
        Number of thumbnails kept in the in-memory LRU cache.
    """

    def __init__(self, folder: str | Path | None, *, memory_items: int = MEMORY_ITEMS):
        self.folder = Path(folder) if folder is not None else None
        self.memory_items = memory_items
        self._memory: OrderedDict[tuple, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path, *, key: str, size: int) -> bytes:
        """Return the JPEG thumbnail of ``path`` at most ``size`` pixels wide and high.

        ``key`` identifies the file's content (its hash) in the caches.

        Raises
        ------
        ValueError
            For a size not in ``ALLOWED_SIZES``.
        beholder.errors.ImageDecodeError
            When the file is missing or cannot be decoded.
        """
        if size not in ALLOWED_SIZES:
            raise ValueError(f"size must be one of {ALLOWED_SIZES}, got {size}.")
        memory_key = (key, size)
        with self._lock:
            cached = self._memory.get(memory_key)
            if cached is not None:
                self._memory.move_to_end(memory_key)
                return cached
        data = self._read_disk(key, size)
        if data is None:
            data = make_thumbnail(path, size)
            self._write_disk(key, size, data)
        with self._lock:
            self._memory[memory_key] = data
            while len(self._memory) > self.memory_items:
                self._memory.popitem(last=False)
        return data

    def _disk_path(self, key: str, size: int) -> Path | None:
        if self.folder is None:
            return None
        safe = "".join(c for c in key if c.isalnum() or c in "-_") or "unnamed"
        return self.folder / str(size) / safe[:2] / f"{safe}.jpg"

    def _read_disk(self, key: str, size: int) -> bytes | None:
        path = self._disk_path(key, size)
        if path is None:
            return None
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            logger.warning("cannot read cached thumbnail %s: %s", path, error)
            return None

    def _write_disk(self, key: str, size: int, data: bytes) -> None:
        path = self._disk_path(key, size)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write a temporary file and rename it, so a reader never sees a
            # half-written thumbnail, even when two requests race.
            handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except OSError as error:
            logger.warning(
                "thumbnail disk cache %s is not writable (%s); caching in memory only",
                self.folder,
                error,
            )
            self.folder = None


def make_thumbnail(path: Path, size: int) -> bytes:
    """Decode ``path`` and return it as a JPEG at most ``size`` pixels on each side."""
    image = open_rgb(path, draft_size=size)
    image.thumbnail((size, size))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()

"""A persistent store of image embeddings keyed by file content and backbone.

One SQLite file per backbone cache key under the cache folder, which is
``$BEHOLDER_CACHE_DIR`` or ``~/.cache/beholder``. A second audit of the same
files therefore skips the forward pass entirely.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import numpy as np


def default_cache_dir() -> Path:
    """Return ``$BEHOLDER_CACHE_DIR``, else ``~/.cache/beholder``."""
    configured = os.environ.get("BEHOLDER_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "beholder"


def hash_file(path: str | Path) -> str:
    """Return the BLAKE2b digest (128 bits, hex) of a file's bytes."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class EmbeddingCache:
    """Embeddings of one backbone, stored by content hash."""

    def __init__(self, folder: str | Path, backbone_key: str):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"embeddings-{backbone_key}.sqlite"
        self._connection = sqlite3.connect(self.path)
        self._connection.execute(
            "CREATE TABLE IF NOT EXISTS vectors "
            "(content_hash TEXT PRIMARY KEY, dim INTEGER, vector BLOB)"
        )

    def get_many(self, hashes: list[str]) -> dict[str, np.ndarray]:
        """Return the cached vectors for those of ``hashes`` that are stored."""
        found = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._connection.execute(
                f"SELECT content_hash, vector FROM vectors WHERE content_hash IN ({marks})",
                chunk,
            )
            for key, blob in rows:
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        """Store vectors by content hash, replacing any stored before."""
        rows = [
            (key, int(v.size), np.asarray(v, np.float32).tobytes())
            for key, v in items.items()
        ]
        with self._connection:
            self._connection.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows
            )

    def close(self) -> None:
        self._connection.close()

"""A 64-bit perceptual hash: the signs of low DCT frequencies around their median.

The hash follows the usual DCT hash (pHash, as described in Zauner's 2010
thesis "Implementation and Benchmarking of Perceptual Image Hash
Functions"): take a 32x32 luminance thumbnail, compute its 2-D DCT-II, keep
the 8x8 lowest frequencies and set one bit per coefficient that is above
their median. Resizing, mild blur and recompression change few bits, so the
Hamming distance between two hashes measures how different two images look.

Hashes are handled as faiss binary codes: ``(n, 8)`` uint8 arrays, most
significant byte first, which is also the order of the 16 hex digits.
"""

from __future__ import annotations

import numpy as np

HASH_BITS = 64
_KEEP = 8


def _dct_matrix(n: int, keep: int) -> np.ndarray:
    """Rows 0..keep-1 of the unnormalised DCT-II matrix of size n."""
    k = np.arange(keep)[:, None]
    x = np.arange(n)[None, :]
    return np.cos(np.pi * (2 * x + 1) * k / (2 * n)).astype(np.float32)


def dct_hash_codes(thumbnails: np.ndarray) -> np.ndarray:
    """Hash luminance thumbnails, shape ``(n, side, side)``, to ``(n, 8)`` codes."""
    thumbnails = np.asarray(thumbnails, dtype=np.float32)
    n, side = thumbnails.shape[0], thumbnails.shape[-1]
    dct = _dct_matrix(side, _KEEP)
    coefficients = (dct @ thumbnails @ dct.T).reshape(n, _KEEP * _KEEP)
    medians = np.median(coefficients, axis=1, keepdims=True)
    return np.packbits(coefficients > medians, axis=1)


def codes_to_hex(codes: np.ndarray) -> list[str]:
    """Format ``(n, 8)`` codes as 16 hex digits each."""
    return [bytes(row).hex() for row in np.asarray(codes, dtype=np.uint8)]


def hex_to_codes(hashes) -> np.ndarray:
    """Parse hex hashes back to ``(n, 8)`` uint8 codes."""
    rows = [bytes.fromhex(value) for value in hashes]
    return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), 8).copy()


def hamming_distances(codes_a: np.ndarray, codes_b: np.ndarray) -> np.ndarray:
    """Bitwise Hamming distance between rows of two ``(n, 8)`` code arrays."""
    differing = np.bitwise_xor(codes_a, codes_b)
    return np.unpackbits(differing, axis=1).sum(axis=1)

"""A 64-bit perceptual hash: the signs of low DCT frequencies around their median.

The hash follows the usual DCT hash (pHash, as described in Zauner's 2010
thesis "Implementation and Benchmarking of Perceptual Image Hash
Functions"): take the 8x8 lowest frequencies of the 2-D DCT-II of the
luminance image and set one bit per coefficient that is above their median.
pHash first shrinks the image to 32x32; here the DCT is taken of the
luminance image at the working size directly, which gives the same low
frequencies without the extra resize. Resizing, mild blur and recompression
change few bits, so the Hamming distance between two hashes measures how
different two images look. Because exactly 32 of the 64 coefficients lie
above the median (ties aside), distances are nearly always even.

Hashes are handled as faiss binary codes: ``(n, 8)`` uint8 arrays, most
significant byte first, which is also the order of the 16 hex digits.
"""

from __future__ import annotations

import functools

import numpy as np

HASH_BITS = 64
_KEEP = 8


@functools.lru_cache(maxsize=64)
def _dct_matrix(n: int) -> np.ndarray:
    """Rows 0..7 of the unnormalised DCT-II matrix of size n, shape ``(8, n)``."""
    k = np.arange(_KEEP)[:, None]
    x = np.arange(n)[None, :]
    return np.cos(np.pi * (2 * x + 1) * k / (2 * n)).astype(np.float32)


def low_frequencies(gray: np.ndarray) -> np.ndarray:
    """Return the 8x8 lowest 2-D DCT-II coefficients over the last two axes.

    A 2-D array gives 64 values; a stack of shape ``(k, height, width)``
    gives shape ``(k, 64)``.
    """
    height, width = gray.shape[-2:]
    coefficients = _dct_matrix(height) @ gray @ _dct_matrix(width).T
    return coefficients.reshape(*gray.shape[:-2], _KEEP * _KEEP)


def codes_from_frequencies(coefficients: np.ndarray) -> np.ndarray:
    """Hash rows of 64 low-frequency coefficients to ``(n, 8)`` uint8 codes."""
    coefficients = np.asarray(coefficients, dtype=np.float32).reshape(-1, _KEEP * _KEEP)
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

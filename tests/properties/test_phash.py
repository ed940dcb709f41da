import numpy as np
from PIL import Image

from beholder.properties.phash import (
    codes_from_frequencies,
    codes_to_hex,
    hamming_distances,
    hex_to_codes,
    low_frequencies,
)
from tests.properties.conftest import scene


def hash_of(array, size=(100, 75)):
    gray = Image.fromarray(array).convert("L").resize(size, Image.Resampling.BOX)
    return codes_from_frequencies(low_frequencies(np.asarray(gray, dtype=np.float32)))


def test_hex_round_trip():
    codes = np.random.default_rng(0).integers(0, 256, size=(5, 8), dtype=np.uint8)
    assert np.array_equal(hex_to_codes(codes_to_hex(codes)), codes)


def test_similar_images_hash_close_and_different_far():
    base = scene(1, 256, 192)
    brighter = np.clip(base.astype(int) + 20, 0, 255).astype(np.uint8)
    other = scene(2, 256, 192)
    close = hamming_distances(hash_of(base), hash_of(brighter))[0]
    far = hamming_distances(hash_of(base), hash_of(other))[0]
    assert close <= 4
    assert far >= 16


def test_hash_barely_depends_on_working_size():
    base = scene(3, 320, 240)
    distance = hamming_distances(hash_of(base, (100, 75)), hash_of(base, (160, 120)))[0]
    assert distance <= 4


def test_hash_has_half_its_bits_set():
    codes = np.vstack([hash_of(scene(s)) for s in range(5)])
    assert (np.unpackbits(codes, axis=1).sum(axis=1) == 32).all()

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from beholder.properties.hash_groups import (
    MAX_GROUP_FOR_ALL_PAIRS,
    find_hash_candidates,
    find_hash_neighbours,
)


def _codes_near(base: np.ndarray, n: int, max_flips: int, seed: int) -> np.ndarray:
    """``n`` distinct codes, each ``base`` with up to ``max_flips`` bits flipped."""
    rng = np.random.default_rng(seed)
    codes = set()
    while len(codes) < n:
        bits = np.unpackbits(base)
        bits[rng.choice(64, size=rng.integers(1, max_flips + 1), replace=False)] ^= 1
        codes.add(np.packbits(bits).tobytes())
    return np.frombuffer(b"".join(sorted(codes)), dtype=np.uint8).reshape(n, 8)


def test_many_close_codes_give_linear_pairs():
    codes = _codes_near(np.zeros(8, dtype=np.uint8), 300, max_flips=3, seed=0)

    candidates = find_hash_candidates(codes, 6, max_neighbours=10)

    pairs = candidates.pairs
    assert len(pairs) <= 10 * len(codes)
    assert (pairs[:, 0] < pairs[:, 1]).all()
    graph = coo_matrix(
        (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(300, 300)
    )
    n_components, _ = connected_components(graph, directed=False)
    assert n_components == 1


def test_neighbour_cap_keeps_closest():
    codes = np.zeros((4, 8), dtype=np.uint8)
    codes[1, 7] = 0b1  # 1 bit from code 0
    codes[2, 7] = 0b11  # 2 bits
    codes[3, 7] = 0b111  # 3 bits

    pairs = {tuple(p) for p in find_hash_neighbours(codes, 6, max_neighbours=1)}

    # Each code keeps its closest, ties going to the lower index: 0 keeps 1,
    # 1 keeps 0, 2 keeps 1 and 3 keeps 2.
    assert pairs == {(0, 1), (1, 2), (2, 3)}


@pytest.mark.parametrize(
    "n_copies", [MAX_GROUP_FOR_ALL_PAIRS, MAX_GROUP_FOR_ALL_PAIRS + 1]
)
def test_identical_codes_up_to_limit_list_every_pair(n_copies):
    codes = np.zeros((n_copies, 8), dtype=np.uint8)

    candidates = find_hash_candidates(codes, 6)

    if n_copies <= MAX_GROUP_FOR_ALL_PAIRS:
        assert len(candidates.pairs) == n_copies * (n_copies - 1) // 2
        assert candidates.stars == []
    else:
        assert len(candidates.pairs) == 0
        assert [len(star) for star in candidates.stars] == [n_copies]

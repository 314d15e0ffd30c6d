"""Relative sparse indices with filler zeros (the paper's Figure 2) and fixed-width packing: exact round trips."""

import numpy as np
import pytest

from dlfrontier.compression.sparse import from_relative, pack_uint, to_relative, unpack_uint
from dlfrontier.errors import DataError


def test_paper_figure_2_example():
    # 3-bit indices: non-zeros at 1, 4, 15; the gap 11 > 8 needs a filler at 12
    gaps, filler = to_relative(np.array([1, 4, 15]), 3)
    assert gaps.tolist() == [1, 2, 7, 2]
    assert filler.tolist() == [False, False, True, False]
    assert from_relative(gaps, 16).tolist() == [1, 4, 12, 15]


@pytest.mark.parametrize("bits", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("density", [0.0, 0.01, 0.3, 1.0])
def test_round_trip_random_masks(bits, density):
    rng = np.random.default_rng(bits)
    numel = 5000
    positions = np.flatnonzero(rng.random(numel) < density)
    gaps, filler = to_relative(positions, bits)
    assert gaps.min(initial=0) >= 0 and gaps.max(initial=0) < 2**bits
    decoded = from_relative(gaps, numel)
    np.testing.assert_array_equal(decoded[~filler], positions)
    assert len(set(decoded[filler]) & set(positions)) == 0


def test_gap_much_larger_than_the_index_width():
    gaps, filler = to_relative(np.array([999]), 1)  # 1-bit gaps: one entry per 2 positions
    assert filler.sum() == 499 and gaps.tolist()[-1] == 1
    assert from_relative(gaps, 1000)[-1] == 999


def test_bad_input():
    with pytest.raises(ValueError, match="increasing"):
        to_relative(np.array([3, 3]), 4)
    with pytest.raises(ValueError, match="index_bits"):
        to_relative(np.array([1]), 0)
    with pytest.raises(ValueError, match="index_bits"):
        to_relative(np.array([1]), 17)
    with pytest.raises(DataError, match="outside"):
        from_relative(np.array([5, 5]), 10)


@pytest.mark.parametrize("width", [0, 1, 3, 5, 8, 13, 32])
def test_pack_round_trip(width):
    values = np.random.default_rng(width).integers(0, 2**width, size=101) if width else np.zeros(101, dtype=np.int64)
    data = pack_uint(values, width)
    assert len(data) == (101 * width + 7) // 8
    np.testing.assert_array_equal(unpack_uint(data, width, 101), values)


def test_pack_errors():
    with pytest.raises(ValueError, match="fit"):
        pack_uint(np.array([8]), 3)
    with pytest.raises(DataError, match="truncated"):
        unpack_uint(b"\x00", 5, 4)

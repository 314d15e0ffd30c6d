"""Relative sparse indices with filler zeros, and fixed-width bit packing.

Han, Mao and Dally, "Deep Compression", ICLR 2016, https://arxiv.org/abs/1510.00149 (Section 2, Figure 2):
a pruned layer is stored in compressed sparse form keeping, for each non-zero, the *difference* of its
position to the previous one in ``index_bits`` bits. When a difference exceeds ``2**index_bits`` a filler
entry (a zero weight) is inserted ``2**index_bits`` positions after the previous entry.

Convention: the flattened tensor is scanned in row-major order starting just before position 0; an entry
at distance ``d >= 1`` from the previous one is stored as the gap ``d - 1`` in ``[0, 2**index_bits)``.
"""

from __future__ import annotations

import numpy as np

from dlfrontier.errors import DataError

MAX_INDEX_BITS = 16


def check_index_bits(index_bits: int) -> None:
    """Raise ``ValueError`` unless ``1 <= index_bits <= MAX_INDEX_BITS``."""
    if not isinstance(index_bits, (int, np.integer)) or not 1 <= int(index_bits) <= MAX_INDEX_BITS:
        raise ValueError(f"index_bits must be an integer in [1, {MAX_INDEX_BITS}], got {index_bits!r}")


def to_relative(positions: np.ndarray, index_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Relative indices of sorted non-zero ``positions``, with filler entries where a gap overflows.

    Args:
        positions: ``[M]`` strictly increasing flat positions of the non-zeros.
        index_bits: width of a stored gap.

    Returns:
        ``(gaps, filler)``: ``[E]`` gaps in ``[0, 2**index_bits)`` and ``[E]`` bool, True for filler entries
        (``E = M + number of fillers``).

    Example:
        With 3 bits (span 8), non-zeros at 1, 4 and 15 give gaps ``[1, 2, 7, 2]`` where the third entry,
        at position 12, is a filler (the paper's Figure 2).
    """
    check_index_bits(index_bits)
    positions = np.asarray(positions, dtype=np.int64)
    span = 1 << int(index_bits)
    dist = np.diff(positions, prepend=-1)  # [M] distance to the previous entry, >= 1
    if (dist < 1).any():
        raise ValueError("positions must be strictly increasing and non-negative")
    fillers = (dist - 1) // span  # [M] fillers needed before each non-zero
    reps = fillers + 1
    total = int(reps.sum())
    last = np.cumsum(reps) - 1  # [M] entry index of each real non-zero
    gaps = np.full(total, span - 1, dtype=np.int64)
    gaps[last] = dist - 1 - fillers * span
    filler = np.ones(total, dtype=bool)
    filler[last] = False
    return gaps, filler


def from_relative(gaps: np.ndarray, numel: int) -> np.ndarray:
    """Absolute flat positions of the entries stored as ``gaps`` (fillers included).

    Raises:
        DataError: when a position falls outside a tensor of ``numel`` elements.
    """
    gaps = np.asarray(gaps, dtype=np.int64)
    positions = np.cumsum(gaps + 1) - 1
    if len(positions) and (positions[-1] >= numel or gaps.min() < 0):
        raise DataError(f"sparse indices point outside the tensor of {numel} elements; the file is corrupt")
    return positions


def pack_uint(values: np.ndarray, width: int) -> bytes:
    """Pack non-negative integers in ``width`` bits each, MSB first, zero-padded to whole bytes."""
    values = np.asarray(values, dtype=np.int64)
    if not 0 <= width <= 32:
        raise ValueError(f"width must be in [0, 32], got {width}")
    if len(values) and (values.min() < 0 or values.max() >= (1 << width)):
        raise ValueError(f"values do not fit in {width} bits")
    if width == 0 or len(values) == 0:
        return b""
    shifts = np.arange(width - 1, -1, -1, dtype=np.int64)
    bits = ((values[:, None] >> shifts) & 1).astype(np.uint8)  # [N, width]
    return np.packbits(bits.reshape(-1)).tobytes()


def unpack_uint(data: bytes, width: int, count: int) -> np.ndarray:
    """Inverse of :func:`pack_uint`: ``count`` integers of ``width`` bits.

    Raises:
        DataError: when ``data`` holds fewer than ``count * width`` bits.
    """
    if width == 0 or count == 0:
        return np.zeros(count, dtype=np.int64)
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    if len(bits) < count * width:
        raise DataError("packed integer stream is truncated")
    weights = 1 << np.arange(width - 1, -1, -1, dtype=np.int64)
    return bits[: count * width].reshape(count, width).astype(np.int64) @ weights


def packed_nbytes(count: int, width: int) -> int:
    """Bytes taken by ``count`` integers of ``width`` bits packed with :func:`pack_uint`."""
    return (count * width + 7) // 8

"""Canonical Huffman coding of small integer alphabets, the last stage of Deep Compression.

Han, Mao and Dally, "Deep Compression: Compressing Deep Neural Networks with Pruning, Trained Quantization
and Huffman Coding", ICLR 2016, https://arxiv.org/abs/1510.00149 (Section 4: the cluster indices and the
relative sparse indices are biased distributions; Huffman coding them saves 20-30% of the storage).

Only the code length of each symbol is stored (a canonical code is rebuilt from the lengths), so the table
of an alphabet of ``k`` symbols costs ``k`` bytes.
"""

from __future__ import annotations

import heapq

import numpy as np

from dlfrontier.errors import DataError

# Windows of up to this many bits are decoded by one table look-up; longer codes (only from adversarial
# frequency distributions) fall back to bit-by-bit canonical decoding.
_TABLE_BITS = 16


def huffman_code_lengths(counts: np.ndarray) -> np.ndarray:
    """Optimal prefix-code lengths for symbol ``counts``.

    Args:
        counts: ``[A]`` non-negative occurrence counts of the alphabet's symbols.

    Returns:
        ``[A]`` int64 code lengths: 0 for unused symbols; 1 when a single symbol is used (a prefix code
        needs at least one bit per symbol to count them). Ties are broken by symbol id, so the result is
        deterministic. With counts below 2**32 no code is longer than 47 bits (Fibonacci bound).
    """
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim != 1 or (counts < 0).any():
        raise ValueError("counts must be a 1-D array of non-negative integers")
    lengths = np.zeros(len(counts), dtype=np.int64)
    used = [int(s) for s in np.flatnonzero(counts)]
    if len(used) == 1:
        lengths[used[0]] = 1
    if len(used) <= 1:
        return lengths
    # Heap items: (weight, tie, symbols in the subtree). Merging two subtrees deepens all their symbols.
    heap: list[tuple[int, int, list[int]]] = [(int(counts[s]), s, [s]) for s in used]
    heapq.heapify(heap)
    tie = len(counts)
    while len(heap) > 1:
        w1, _, s1 = heapq.heappop(heap)
        w2, _, s2 = heapq.heappop(heap)
        for s in s1 + s2:
            lengths[s] += 1
        heapq.heappush(heap, (w1 + w2, tie, s1 + s2))
        tie += 1
    return lengths


def canonical_codes(lengths: np.ndarray) -> np.ndarray:
    """The canonical code of each symbol given its code length (symbols ordered by (length, id)).

    Args:
        lengths: ``[A]`` code lengths, 0 for unused symbols.

    Returns:
        ``[A]`` int64 codes (the low ``lengths[s]`` bits of ``codes[s]``, most significant bit first).

    Raises:
        DataError: when the lengths violate Kraft's inequality (no prefix code has them).
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    codes = np.zeros(len(lengths), dtype=np.int64)
    if len(lengths) and lengths.max(initial=0) > 62:
        raise DataError(f"Huffman code length {int(lengths.max())} exceeds 62 bits; the table is corrupt")
    order = sorted((int(lengths[s]), s) for s in np.flatnonzero(lengths))
    code, prev = 0, 0
    for length, s in order:
        code <<= length - prev
        if code >> length:
            raise DataError("Huffman code lengths violate Kraft's inequality; the table is corrupt")
        codes[s] = code
        code += 1
        prev = length
    return codes


def huffman_encode(symbols: np.ndarray, lengths: np.ndarray) -> tuple[bytes, int]:
    """Encode ``symbols`` with the canonical code of ``lengths``.

    Args:
        symbols: ``[N]`` symbol ids, each with a non-zero code length.
        lengths: ``[A]`` code lengths (e.g. from :func:`huffman_code_lengths`).

    Returns:
        ``(payload, nbits)``: the bit stream packed MSB first (zero-padded to whole bytes) and its length.
    """
    symbols = np.asarray(symbols, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(symbols) == 0:
        return b"", 0
    if symbols.min() < 0 or symbols.max() >= len(lengths) or (lengths[symbols] == 0).any():
        raise ValueError("a symbol has no code (outside the alphabet or with code length 0)")
    codes = canonical_codes(lengths)
    sym_len = lengths[symbols]  # [N]
    nbits = int(sym_len.sum())
    starts = np.cumsum(sym_len) - sym_len  # [N] bit offset of each code
    within = np.arange(nbits, dtype=np.int64) - np.repeat(starts, sym_len)  # [nbits] position inside its code
    shift = np.repeat(sym_len, sym_len) - 1 - within
    bits = (np.repeat(codes[symbols], sym_len) >> shift) & 1  # [nbits]
    return np.packbits(bits.astype(np.uint8)).tobytes(), nbits


def huffman_decode(payload: bytes, lengths: np.ndarray, count: int, nbits: int | None = None) -> np.ndarray:
    """Decode ``count`` symbols from ``payload`` written by :func:`huffman_encode` with the same ``lengths``.

    Args:
        payload: the packed bit stream.
        lengths: ``[A]`` code lengths.
        count: number of symbols to decode.
        nbits: the stream's length in bits, when known; the decoder checks it used exactly that many.

    Returns:
        ``[count]`` int64 symbols.

    Raises:
        DataError: when the stream ends early, holds an invalid code, or its length does not match.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if count == 0:
        if nbits:
            raise DataError("Huffman stream holds bits but no symbols")
        return np.zeros(0, dtype=np.int64)
    codes = canonical_codes(lengths)
    max_len = int(lengths.max(initial=0))
    if max_len == 0:
        raise DataError("Huffman table is empty but symbols were expected")
    bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8))
    available = len(bits) if nbits is None else nbits
    if nbits is not None and nbits > len(bits):
        raise DataError("Huffman stream is truncated")
    if max_len <= _TABLE_BITS:
        out, pos = _decode_table(bits, lengths, codes, max_len, count, available)
    else:
        out, pos = _decode_bitwise(bits, lengths, max_len, count, available)
    # Only the zero padding of the last byte may follow the symbols.
    if (nbits is not None and pos != nbits) or (nbits is None and len(bits) - pos >= 8):
        raise DataError("Huffman stream is longer than its symbols")
    return out


def _decode_table(
    bits: np.ndarray, lengths: np.ndarray, codes: np.ndarray, max_len: int, count: int, available: int
) -> tuple[np.ndarray, int]:
    """One table look-up per symbol over ``max_len``-bit windows."""
    sym_tab = np.full(1 << max_len, -1, dtype=np.int64)
    len_tab = np.zeros(1 << max_len, dtype=np.int64)
    for s in np.flatnonzero(lengths):
        pad = max_len - int(lengths[s])
        lo = int(codes[s]) << pad
        sym_tab[lo : lo + (1 << pad)] = s
        len_tab[lo : lo + (1 << pad)] = lengths[s]
    padded = np.concatenate([bits[:available], np.zeros(max_len, dtype=np.uint8)]).astype(np.int64)
    weights = 1 << np.arange(max_len - 1, -1, -1, dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(padded, max_len)[: available + 1] @ weights  # [available+1]
    win = windows.tolist()
    sym_l, len_l = sym_tab.tolist(), len_tab.tolist()
    out = [0] * count
    pos = 0
    for i in range(count):
        if pos >= available:
            raise DataError("Huffman stream is truncated")
        w = win[pos]
        if len_l[w] == 0:
            raise DataError("Huffman stream holds an invalid code")
        out[i] = sym_l[w]
        pos += len_l[w]
    if pos > available:
        raise DataError("Huffman stream is truncated")
    return np.asarray(out, dtype=np.int64), pos


def _decode_bitwise(
    bits: np.ndarray, lengths: np.ndarray, max_len: int, count: int, available: int
) -> tuple[np.ndarray, int]:
    """Canonical decoding one bit at a time (first code and symbol offset per length)."""
    per_len = [0] * (max_len + 1)
    for length in lengths[lengths > 0]:
        per_len[int(length)] += 1
    ordered = [s for _, s in sorted((int(lengths[s]), int(s)) for s in np.flatnonzero(lengths))]
    b = bits[:available].tolist()
    out = [0] * count
    pos = 0
    for i in range(count):
        code = first = index = 0
        for length in range(1, max_len + 1):
            if pos >= available:
                raise DataError("Huffman stream is truncated")
            code |= b[pos]
            pos += 1
            if code - first < per_len[length]:
                out[i] = ordered[index + code - first]
                break
            index += per_len[length]
            first = (first + per_len[length]) << 1
            code <<= 1
        else:
            raise DataError("Huffman stream holds an invalid code")
    return np.asarray(out, dtype=np.int64), pos

"""Huffman code lengths against hand-computed trees; exact round trips on random and adversarial streams."""

import numpy as np
import pytest

from dlfrontier.compression.huffman import canonical_codes, huffman_code_lengths, huffman_decode, huffman_encode
from dlfrontier.errors import DataError


def test_code_lengths_match_the_textbook_tree():
    # CLRS 16.3: f:5 e:9 c:12 b:13 d:16 a:45 -> a:1, b,c,d:3, e,f:4
    counts = np.array([45, 13, 12, 16, 9, 5])
    assert huffman_code_lengths(counts).tolist() == [1, 3, 3, 3, 4, 4]


def test_degenerate_alphabets():
    assert huffman_code_lengths(np.array([0, 0, 0])).tolist() == [0, 0, 0]
    assert huffman_code_lengths(np.array([0, 7, 0])).tolist() == [0, 1, 0]
    assert huffman_code_lengths(np.array([3, 3])).tolist() == [1, 1]


def test_canonical_codes_are_prefix_free_and_ordered():
    lengths = np.array([2, 1, 3, 3])
    codes = canonical_codes(lengths)
    # canonical order by (length, symbol): 1->'0', 0->'10', 2->'110', 3->'111'
    assert codes.tolist() == [0b10, 0b0, 0b110, 0b111]
    with pytest.raises(DataError, match="Kraft"):
        canonical_codes(np.array([1, 1, 1]))


@pytest.mark.parametrize("alphabet", [1, 2, 3, 17, 32, 257])
def test_round_trip_random(alphabet):
    rng = np.random.default_rng(alphabet)
    symbols = rng.geometric(0.2, size=3000) % alphabet
    lengths = huffman_code_lengths(np.bincount(symbols, minlength=alphabet))
    payload, nbits = huffman_encode(symbols, lengths)
    assert len(payload) == (nbits + 7) // 8
    np.testing.assert_array_equal(huffman_decode(payload, lengths, len(symbols), nbits), symbols)
    # optimal: within one bit of the entropy per symbol
    p = np.bincount(symbols) / len(symbols)
    p = p[p > 0]
    entropy = float(-(p * np.log2(p)).sum())
    assert entropy - 1e-9 <= nbits / len(symbols) <= max(entropy, 0.0) + 1.0


def test_round_trip_long_codes_use_bitwise_decoder():
    fib = [1, 1]
    while len(fib) < 24:
        fib.append(fib[-1] + fib[-2])
    counts = np.array(fib)
    lengths = huffman_code_lengths(counts)
    assert lengths.max() == 23  # longer than the 16-bit lookup table
    symbols = np.random.default_rng(0).permutation(np.repeat(np.arange(len(counts)), counts))
    payload, nbits = huffman_encode(symbols, lengths)
    np.testing.assert_array_equal(huffman_decode(payload, lengths, len(symbols), nbits), symbols)


def test_empty_stream():
    payload, nbits = huffman_encode(np.zeros(0, dtype=np.int64), np.array([1, 1]))
    assert payload == b"" and nbits == 0
    assert huffman_decode(b"", np.array([1, 1]), 0, 0).tolist() == []


def test_bad_streams_raise():
    lengths = np.array([1, 2, 2])
    payload, nbits = huffman_encode(np.array([0, 1, 2, 2, 1]), lengths)
    with pytest.raises(DataError, match="truncated"):
        huffman_decode(payload[:0], lengths, 5)
    with pytest.raises(DataError):
        huffman_decode(payload, lengths, 6, nbits)
    with pytest.raises(DataError, match="longer"):
        huffman_decode(payload, lengths, 4, nbits)
    with pytest.raises(ValueError, match="no code"):
        huffman_encode(np.array([3]), lengths)
    # an incomplete code: '1' is not a codeword of the one-symbol table
    with pytest.raises(DataError, match="invalid"):
        huffman_decode(bytes([0b10000000]), np.array([1]), 2, 2)

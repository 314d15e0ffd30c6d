"""Fuzzing the `.dlfc` reader: a truncated, bit-flipped or crafted file is one DataError, never a crash or a hang.

Random bit flips are caught by the CRC-32; the crafted cases rewrite the checksum after the change, as an attacker
(or a buggy writer) would, so the parser itself meets every damaged field.
"""

import struct
import zlib

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from dlfrontier.compression import fileformat
from dlfrontier.compression.binary import binarize
from dlfrontier.compression.fileformat import compress, decompress, read_tensors
from dlfrontier.compression.prune import prune_to_density
from dlfrontier.compression.sharing import share_weights
from dlfrontier.errors import DLFrontierError

FUZZ = settings(max_examples=150, deadline=2000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 10), nn.ReLU(), nn.Linear(10, 6), nn.ReLU(), nn.Linear(6, 3))


def tiny_files() -> list[bytes]:
    """One file per encoding: dense, sparse, shared (Huffman and fixed width) and binary."""
    files = [compress(tiny_model())]
    m = tiny_model()
    prune_to_density(m, {"0": 0.3, "2": 0.5, "4": 0.6})
    files.append(compress(m, huffman=False, index_bits=2))
    share_weights(m, 2)
    files += [compress(m, huffman=True), compress(m, huffman=False, index_bits=3)]
    b = tiny_model()
    binarize(b)
    files.append(compress(b))
    return files


FILES = tiny_files()


def with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def read_or_refuse(data: bytes) -> None:
    """The only acceptable outcomes: a model, or a DLFrontierError (the CLI prints it as one line)."""
    try:
        decompress(data, model=tiny_model())
    except DLFrontierError as e:
        assert str(e) and "\n" not in str(e)


@pytest.fixture(autouse=True)
def small_weight_limit(monkeypatch):
    """A crafted header may claim billions of weights: the reader refuses above its limit (lowered here so a
    claim just under it does not allocate gigabytes in a test)."""
    monkeypatch.setattr(fileformat, "MAX_WEIGHTS", 10_000)


def test_the_files_round_trip():
    for data in FILES:
        read_tensors(data)
        decompress(data, model=tiny_model())


@FUZZ
@given(which=st.integers(0, len(FILES) - 1), cut=st.integers(0, 10**6))
def test_truncated_file(which, cut):
    data = FILES[which]
    read_or_refuse(data[: cut % len(data)])


@FUZZ
@given(which=st.integers(0, len(FILES) - 1), flips=st.lists(st.integers(0, 10**7), min_size=1, max_size=4))
def test_bit_flips_are_caught_by_the_checksum(which, flips):
    data = bytearray(FILES[which])
    for f in flips:
        data[(f // 8) % len(data)] ^= 1 << (f % 8)
    read_or_refuse(bytes(data))


@FUZZ
@given(which=st.integers(0, len(FILES) - 1), flips=st.lists(st.integers(0, 10**7), min_size=1, max_size=4))
def test_bit_flips_with_a_valid_checksum(which, flips):
    body = bytearray(FILES[which][:-4])
    for f in flips:
        pos = 4 + (f // 8) % (len(body) - 4)  # past the magic: every header field and payload byte
        body[pos] ^= 1 << (f % 8)
    read_or_refuse(with_crc(bytes(body)))


@FUZZ
@given(which=st.integers(0, len(FILES) - 1), at=st.integers(0, 10**6), junk=st.binary(min_size=1, max_size=12),
       cut=st.booleans())
def test_crafted_bytes_with_a_valid_checksum(which, at, junk, cut):
    body = FILES[which][:-4]
    pos = 4 + at % (len(body) - 4)
    body = body[:pos] + junk + (b"" if cut else body[pos + len(junk):])
    read_or_refuse(with_crc(body))


@FUZZ
@given(st.binary(max_size=64))
def test_arbitrary_bytes(data):
    read_or_refuse(data)
    read_or_refuse(with_crc(fileformat.MAGIC + data))


def test_a_shape_claiming_billions_of_weights_is_refused_at_once():
    """Found by the fuzzer: one flipped bit in a sparse tensor's shape made the reader allocate 1.6 GB (4 s)."""
    body = bytearray(FILES[2][:-4])
    body[22] ^= 0x02  # bit 25 of 0.weight's first dim: 10 -> 33,554,442 rows
    with pytest.raises(DLFrontierError, match="over 10,000 weights"):
        read_tensors(with_crc(bytes(body)))

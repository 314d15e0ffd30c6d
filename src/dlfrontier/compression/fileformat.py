"""The compressed model file: sparse relative indices, shared-weight codebooks, Huffman streams, 1-bit weights.

Han, Mao and Dally, "Deep Compression", ICLR 2016, https://arxiv.org/abs/1510.00149 (Sections 2-4): a
pruned, weight-shared layer is stored as relative sparse indices (with filler entries), a codebook of
float32 shared values and one cluster index per entry; both index streams are Huffman-coded. Binary layers
(BinaryConnect / XNOR-Net BWN) are stored as packed sign bits plus one float32 scale per filter.

The sizes reported by the experiments are ``len(compress(model))``: this file, headers and checksum
included. :func:`decompress` rebuilds a plain model whose weights are bit-for-bit the weights the
compressed in-memory model computes with, so both give identical predictions.

Layout (little-endian)::

    file    = "DLFC" version:u8 arch:str ntensors:u16 tensor* crc32:u32
    str     = len:u8 utf8
    tensor  = name:str encoding:u8 ndim:u8 dims:u32* body
    DENSE   body = float32[numel]
    SPARSE  body = index_bits:u8 entries:u32 gaps:stream float32[entries]        (fillers hold 0.0)
    SHARED  body = index_bits:u8 k-1:u16 float32[k] entries:u32 gaps:stream labels:stream  (label k = filler)
    BINARY  body = nscales:u32 float32[nscales] signbits[ceil(numel/8)]              (bit 1 = +scale)
    stream  = mode:u8 (FIXED: width:u8 packed[ceil(n*width/8)]
                       | HUFFMAN: alphabet:u32 lengths:u8[alphabet] nbits:u32 packed[ceil(nbits/8)])
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dlfrontier.compression.binary import BinaryWeight, binary_scales
from dlfrontier.compression.huffman import huffman_code_lengths, huffman_decode, huffman_encode
from dlfrontier.compression.layers import (
    compressible_layers,
    effective_weight,
    original_weight,
    strip_transforms,
    weight_transform,
)
from dlfrontier.compression.prune import Masked
from dlfrontier.compression.sharing import SharedWeight
from dlfrontier.compression.sparse import (
    check_index_bits,
    from_relative,
    pack_uint,
    packed_nbytes,
    to_relative,
    unpack_uint,
)
from dlfrontier.errors import ConfigError, DataError
from dlfrontier.models.lenet import LeNet5, LeNet300100
from dlfrontier.registry import Registry
from dlfrontier.tracking import atomic_write_bytes

MAGIC = b"DLFC"
VERSION = 1
DENSE, SPARSE, SHARED, BINARY = 0, 1, 2, 3
ENCODINGS = {DENSE: "dense", SPARSE: "sparse", SHARED: "shared", BINARY: "binary"}
FIXED, HUFFMAN = 0, 1
AUTO_INDEX_BITS = range(1, 13)
# The most weights one file may hold (all tensors together; 1 GiB as float32, VGG-16 has 138M): a sparse tensor's
# size is not bounded by the file's, so a damaged or crafted shape could otherwise claim terabytes.
MAX_WEIGHTS = 1 << 28

# Architectures :func:`decompress` can rebuild from the name stored in the file (else pass ``model=``).
ARCHITECTURES: Registry[Callable[[], nn.Module]] = Registry("architecture")
ARCHITECTURES.register("LeNet300100", LeNet300100)
ARCHITECTURES.register("LeNet5", LeNet5)


@dataclass(frozen=True)
class TensorInfo:
    """What one stored tensor costs (the paper's per-layer Table 2/3 columns, measured on the file)."""

    name: str
    encoding: str
    shape: tuple[int, ...]
    nbytes: int
    nonzero: int
    entries: int = 0
    fillers: int = 0
    index_bits: int = 0
    bits: int = 32
    detail: dict[str, int] = field(default_factory=dict)

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1


# ---------------------------------------------------------------------------------------------------------
# streams


def _encode_stream(symbols: np.ndarray, alphabet: int, huffman: bool) -> bytes:
    """One integer stream, fixed width or Huffman-coded (a one-symbol alphabet costs zero bits)."""
    if not huffman or alphabet <= 1 or len(symbols) == 0:
        width = max(0, (alphabet - 1).bit_length())
        return struct.pack("<BB", FIXED, width) + pack_uint(symbols, width)
    counts = np.bincount(symbols, minlength=alphabet)
    used = int(np.flatnonzero(counts).max()) + 1
    lengths = huffman_code_lengths(counts[:used])
    payload, nbits = huffman_encode(symbols, lengths)
    return struct.pack("<BI", HUFFMAN, used) + lengths.astype(np.uint8).tobytes() + struct.pack("<I", nbits) + payload


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise DataError("compressed model file is truncated")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def f32(self, n: int) -> np.ndarray:
        return np.frombuffer(self.take(4 * n), dtype="<f4").astype(np.float32)

    def string(self) -> str:
        (n,) = self.unpack("<B")
        try:
            return self.take(n).decode("utf-8")
        except UnicodeDecodeError:
            raise DataError("compressed model file holds an invalid name; the file is corrupt") from None

    def stream(self, count: int, alphabet: int) -> np.ndarray:
        (mode,) = self.unpack("<B")
        if mode == FIXED:
            (width,) = self.unpack("<B")
            if width > 32:
                raise DataError("compressed model file holds an invalid stream width; the file is corrupt")
            out = unpack_uint(self.take(packed_nbytes(count, width)), width, count)
        elif mode == HUFFMAN:
            (used,) = self.unpack("<I")
            if used > alphabet:
                raise DataError("Huffman table larger than its alphabet; the file is corrupt")
            lengths = np.frombuffer(self.take(used), dtype=np.uint8).astype(np.int64)
            (nbits,) = self.unpack("<I")
            out = huffman_decode(self.take((nbits + 7) // 8), lengths, count, nbits)
        else:
            raise DataError(f"unknown stream mode {mode}; the file is corrupt")
        if len(out) and out.max() >= alphabet:
            raise DataError("stream symbol outside its alphabet; the file is corrupt")
        return out


# ---------------------------------------------------------------------------------------------------------
# tensors


def _header(name: str, encoding: int, shape: tuple[int, ...]) -> bytes:
    raw = name.encode("utf-8")
    if len(raw) > 255:
        raise ConfigError(f"parameter name {name!r} is longer than 255 bytes")
    return struct.pack("<B", len(raw)) + raw + struct.pack("<BB", encoding, len(shape)) + struct.pack(
        f"<{len(shape)}I", *shape
    )


def _f32(a: np.ndarray | torch.Tensor) -> bytes:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().to(torch.float32).numpy()
    return np.ascontiguousarray(a, dtype="<f4").tobytes()


def _encode_sparse(name: str, w: np.ndarray, positions: np.ndarray, labels: np.ndarray | None,
                   codebook: np.ndarray | None, index_bits: int, huffman: bool) -> bytes:
    """SPARSE (``labels is None``: float32 values) or SHARED record of one weight tensor."""
    check_index_bits(index_bits)
    gaps, filler = to_relative(positions, index_bits)
    real = ~filler
    gap_stream = _encode_stream(gaps, 1 << index_bits, huffman)
    if labels is None:
        values = np.zeros(len(gaps), dtype=np.float32)
        values[real] = w.reshape(-1)[positions]
        body = struct.pack("<BI", index_bits, len(gaps)) + gap_stream + _f32(values)
        return _header(name, SPARSE, w.shape) + body
    assert codebook is not None
    k = len(codebook)
    symbols = np.full(len(gaps), k, dtype=np.int64)  # filler symbol = k
    symbols[real] = labels
    alphabet = k + 1 if filler.any() else k
    body = (
        struct.pack("<BH", index_bits, k - 1) + _f32(codebook) + struct.pack("<I", len(gaps)) + gap_stream
        + _encode_stream(symbols, alphabet, huffman)
    )
    return _header(name, SHARED, w.shape) + body


def _best_sparse(name: str, w: np.ndarray, positions: np.ndarray, labels: np.ndarray | None,
                 codebook: np.ndarray | None, index_bits: int | None, huffman: bool) -> bytes:
    if index_bits is not None:
        return _encode_sparse(name, w, positions, labels, codebook, index_bits, huffman)
    candidates = [_encode_sparse(name, w, positions, labels, codebook, b, huffman) for b in AUTO_INDEX_BITS]
    return min(candidates, key=len)


def _encode_weight(name: str, layer: nn.Module, huffman: bool, index_bits: int | None) -> bytes:
    t = weight_transform(layer)
    w = effective_weight(layer).cpu()
    if t is None:
        return _header(name, DENSE, tuple(w.shape)) + _f32(w)
    if isinstance(t, Masked):
        positions = np.flatnonzero(t.mask.cpu().numpy().reshape(-1))
        return _best_sparse(name, w.numpy(), positions, None, None, index_bits, huffman)
    if isinstance(t, SharedWeight):
        mask = t.mask.cpu().numpy().reshape(-1)
        positions = np.flatnonzero(mask)
        labels = t.labels.cpu().numpy().reshape(-1)[positions]
        codebook = t.centroids.detach().cpu().numpy().astype(np.float32)
        return _best_sparse(name, w.numpy(), positions, labels, codebook, index_bits, huffman)
    if isinstance(t, BinaryWeight):
        real = original_weight(layer).detach().cpu()
        scales = binary_scales(real, t.per).reshape(-1)
        signs = (real >= 0).numpy().reshape(-1).astype(np.uint8)
        return (
            _header(name, BINARY, tuple(w.shape)) + struct.pack("<I", scales.numel()) + _f32(scales)
            + np.packbits(signs).tobytes()
        )
    raise ConfigError(f"layer {name} has an unsupported weight transform {type(t).__name__}")


def _check_index_bits_arg(index_bits: int | Mapping[str, int] | None) -> None:
    if isinstance(index_bits, Mapping):
        for b in index_bits.values():
            check_index_bits(b)
    elif index_bits is not None:
        check_index_bits(index_bits)


def compress(
    model: nn.Module,
    *,
    huffman: bool = True,
    index_bits: int | Mapping[str, int] | None = None,
    arch: str | None = None,
) -> bytes:
    """Serialise ``model`` as a compressed file (bytes).

    Each Linear/Conv2d weight is stored according to its transform: plain -> float32, pruned
    (:class:`Masked`) -> relative indices + float32 values, weight-shared (:class:`SharedWeight`) ->
    relative indices + codebook + cluster indices, binary (:class:`BinaryWeight`) -> sign bits + scales.
    Biases are stored as float32.

    Args:
        model: the model; only nn.Linear and nn.Conv2d layers may hold parameters.
        huffman: Huffman-code the relative indices and cluster indices (else fixed-width fields).
        index_bits: width of a relative index (the paper: 8 for conv, 5 for fc); one value, a value per
            layer name, or ``None`` to pick per layer the width that gives the smallest file.
        arch: the architecture name stored for :func:`decompress` (default: the model's class name when
            it is in :data:`ARCHITECTURES`).

    Raises:
        ConfigError: for unsupported layers; ValueError: for an index width outside [1, 16].
    """
    _check_index_bits_arg(index_bits)
    layers = compressible_layers(model)
    if arch is None:
        arch = type(model).__name__ if type(model).__name__ in ARCHITECTURES else ""
    parts: list[bytes] = []
    for name, layer in layers:
        prefix = f"{name}." if name else ""
        bits = index_bits.get(name) if isinstance(index_bits, Mapping) else index_bits
        parts.append(_encode_weight(f"{prefix}weight", layer, huffman, bits))
        bias = layer.bias
        if isinstance(bias, torch.Tensor):
            parts.append(_header(f"{prefix}bias", DENSE, tuple(bias.shape)) + _f32(bias))
    arch_raw = arch.encode("utf-8")
    body = MAGIC + struct.pack("<BB", VERSION, len(arch_raw)) + arch_raw + struct.pack("<H", len(parts))
    body += b"".join(parts)
    return body + struct.pack("<I", zlib.crc32(body))


def read_tensors(data: bytes) -> tuple[str, list[tuple[TensorInfo, torch.Tensor]]]:
    """Parse a compressed file into its architecture name and ``(info, float32 tensor)`` per parameter.

    Raises:
        DataError: not a compressed model file, an unsupported version, truncated or corrupt.
    """
    if len(data) < len(MAGIC) + 8 or data[:4] != MAGIC:
        raise DataError("not a dlfrontier compressed model file (bad magic); was it written by compress()?")
    body, (crc,) = data[:-4], struct.unpack("<I", data[-4:])
    if zlib.crc32(body) != crc:
        raise DataError("compressed model file is corrupt or truncated (checksum mismatch)")
    r = _Reader(body)
    r.take(4)
    (version,) = r.unpack("<B")
    if version != VERSION:
        raise DataError(f"compressed model file version {version} is not supported (this dlfrontier reads {VERSION})")
    arch = r.string()
    (count,) = r.unpack("<H")
    out = []
    total = 0
    for _ in range(count):
        start = r.pos
        name = r.string()
        enc, ndim = r.unpack("<BB")
        shape = tuple(int(d) for d in r.unpack(f"<{ndim}I"))
        numel = math.prod(shape)  # exact: np.prod of uint32 dims can overflow
        total += numel
        if total > MAX_WEIGHTS:
            raise DataError(f"{name}: shape {shape} takes the file over {MAX_WEIGHTS:,} weights; the file is corrupt")
        info: dict[str, Any] = {}
        if enc == DENSE:
            flat = r.f32(numel)
        elif enc in (SPARSE, SHARED):
            flat, info = _read_sparse(r, enc, numel)
        elif enc == BINARY:
            (nscales,) = r.unpack("<I")
            if nscales == 0 or numel % nscales:
                raise DataError(f"{name}: {nscales} binary scales do not divide {numel} weights; the file is corrupt")
            scales = r.f32(nscales)
            signs = np.unpackbits(np.frombuffer(r.take((numel + 7) // 8), dtype=np.uint8))[:numel]
            # Same arithmetic as BinaryWeight.forward: scale * (+1 or -1) in float32.
            flat = (np.repeat(scales, numel // nscales) * np.where(signs == 1, 1.0, -1.0).astype(np.float32))
            info = {"bits": 1, "detail": {"scales": nscales}}
        else:
            raise DataError(f"{name}: unknown encoding {enc}; the file is corrupt")
        tensor = torch.from_numpy(np.ascontiguousarray(flat, dtype=np.float32).reshape(shape))
        nonzero = int((tensor != 0).sum())
        out.append((TensorInfo(name, ENCODINGS[enc], shape, r.pos - start, nonzero, **info), tensor))
    if r.pos != len(body):
        raise DataError("compressed model file has trailing bytes; the file is corrupt")
    return arch, out


def _read_sparse(r: _Reader, enc: int, numel: int) -> tuple[np.ndarray, dict[str, Any]]:
    (index_bits,) = r.unpack("<B")
    if not 1 <= index_bits <= 16:
        raise DataError(f"relative index width {index_bits} out of range; the file is corrupt")
    k = 0
    codebook = np.zeros(0, dtype=np.float32)
    if enc == SHARED:
        (k1,) = r.unpack("<H")
        k = k1 + 1
        codebook = r.f32(k)
    (entries,) = r.unpack("<I")
    if entries > numel:
        raise DataError("more sparse entries than weights; the file is corrupt")
    gaps = r.stream(entries, 1 << index_bits)
    positions = from_relative(gaps, numel)
    flat = np.zeros(numel, dtype=np.float32)
    if enc == SPARSE:
        flat[positions] = r.f32(entries)
        fillers = int((flat[positions] == 0).sum())
        return flat, {"entries": entries, "fillers": fillers, "index_bits": index_bits}
    labels = r.stream(entries, k + 1)
    real = labels < k
    flat[positions[real]] = codebook[labels[real]]
    info = {
        "entries": entries, "fillers": int((~real).sum()), "index_bits": index_bits,
        "bits": max(0, (k - 1).bit_length()), "detail": {"codebook": k},
    }
    return flat, info


def decompress(data: bytes, model: nn.Module | None = None) -> nn.Module:
    """Rebuild a plain float32 model from :func:`compress`'s bytes.

    Args:
        data: the file's bytes.
        model: the model to load into (its transforms are removed first); default: a fresh instance of the
            architecture named in the file.

    Raises:
        DataError: a corrupt/truncated file or one whose tensors do not match the model.
        ConfigError: the file names no known architecture and no ``model`` was given.
    """
    arch, tensors = read_tensors(data)
    if model is None:
        if not arch:
            raise ConfigError("the file names no registered architecture; pass decompress(data, model=YourModel())")
        model = ARCHITECTURES.get(arch)()
    strip_transforms(model)
    params = dict(model.named_parameters())
    stored = {info.name for info, _ in tensors}
    if stored != set(params):
        raise DataError(
            f"file tensors {sorted(stored)} do not match the model's parameters {sorted(params)}"
        )
    with torch.no_grad():
        for info, t in tensors:
            p = params[info.name]
            if tuple(p.shape) != info.shape:
                raise DataError(f"{info.name}: file shape {info.shape} != model shape {tuple(p.shape)}")
            p.copy_(t.to(p.dtype))
    return model


def save_compressed(model: nn.Module, path: str | os.PathLike[str], **options: Any) -> int:
    """Write ``compress(model, **options)`` to ``path`` atomically; returns the file size in bytes."""
    data = compress(model, **options)
    atomic_write_bytes(path, data)
    return len(data)


def load_compressed(path: str | os.PathLike[str], model: nn.Module | None = None) -> nn.Module:
    """Read a file written by :func:`save_compressed` (see :func:`decompress`)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"compressed model file {p} does not exist")
    return decompress(p.read_bytes(), model)


def size_breakdown(data: bytes) -> list[TensorInfo]:
    """Per-tensor sizes of a compressed file (their sum plus the header and checksum is ``len(data)``)."""
    return [info for info, _ in read_tensors(data)[1]]

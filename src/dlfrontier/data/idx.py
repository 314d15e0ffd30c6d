"""The IDX file format of MNIST-style data sets (optionally gzip-compressed), read and checked.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the data. MNIST uses type 0x08 (unsigned byte): magic 2049 for
label files (1 dimension) and 2051 for image files (3 dimensions).
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from dlfrontier.errors import DataError

_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise DataError(f"{path} is a damaged or truncated gzip file ({e}); replace it") from None
    return raw


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX (or IDX.gz) file into a NumPy array, checking magic number and size.

    Raises:
        DataError: the file is missing, truncated, has trailing bytes, or a bad magic number.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found")
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path} is too short to be an IDX file ({len(data)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code not in _DTYPES or ndim == 0:
        raise DataError(f"{path} has a bad IDX magic number 0x{data[:4].hex()}; is it an IDX file?")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path} is truncated inside its header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _DTYPES[dtype_code]
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise DataError(f"{path} is {what}: {len(data)} bytes, expected {expected} for shape {shape}")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def idx_magic(path: str | Path) -> int:
    """The magic number of an IDX file (2049 for labels, 2051 for images)."""
    data = _read_bytes(Path(path))
    return struct.unpack(">I", data[:4])[0] if len(data) >= 4 else -1

"""Loaders read the real IDX files (shape, dtype, label counts) and refuse damaged ones with a clear error."""

import gzip
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from dlfrontier import DataError
from dlfrontier.data import data_root, load_fashion_mnist, load_mnist
from dlfrontier.data.idx import read_idx

# Label counts of the canonical MNIST files (LeCun et al.); Fashion-MNIST is balanced by design.
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.parametrize(
    ("split", "n", "counts"), [("train", 60000, MNIST_TRAIN_COUNTS), ("test", 10000, MNIST_TEST_COUNTS)]
)
def test_mnist_real_files(split, n, counts):
    images, labels = load_mnist(split)
    assert images.shape == (n, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (n,) and labels.dtype == torch.int64
    assert torch.bincount(labels).tolist() == counts
    assert int(images.max()) == 255 and int(images.min()) == 0


@pytest.mark.parametrize(("split", "per_class"), [("train", 6000), ("test", 1000)])
def test_fashion_mnist_real_files(split, per_class):
    images, labels = load_fashion_mnist(split)
    assert images.shape == (per_class * 10, 28, 28) and images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == [per_class] * 10


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("DLFRONTIER_DATA", str(tmp_path))
    assert data_root() == tmp_path and data_root("/x") == Path("/x")
    monkeypatch.delenv("DLFRONTIER_DATA")
    assert data_root() == Path.home() / ".cache" / "dlfrontier"


def _write_idx(path: Path, arr: np.ndarray, magic_type: int = 0x08, compress: bool = True) -> None:
    header = struct.pack(">HBB", 0, magic_type, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def test_read_idx_roundtrip_plain_and_gzip(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a.gz", arr)
    _write_idx(tmp_path / "a", arr, compress=False)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), arr) and np.array_equal(read_idx(tmp_path / "a"), arr)


def test_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(DataError) as e:
        load_mnist("train", root=tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "mnist") in msg and "train-images-idx3-ubyte.gz" in msg and "DLFRONTIER_DATA" in msg


def _copy_mnist(dst: Path) -> Path:
    src = data_root() / "mnist"
    (dst / "mnist").mkdir(parents=True)
    for p in src.iterdir():
        shutil.copy(p, dst / "mnist" / p.name)
    return dst / "mnist"


def test_truncated_gzip_is_refused(tmp_path):
    folder = _copy_mnist(tmp_path)
    f = folder / "t10k-images-idx3-ubyte.gz"
    f.write_bytes(f.read_bytes()[:50000])
    with pytest.raises(DataError, match="damaged or truncated gzip"):
        load_mnist("test", root=tmp_path)


def test_truncated_content_is_refused(tmp_path):
    folder = _copy_mnist(tmp_path)
    f = folder / "t10k-labels-idx1-ubyte.gz"
    f.write_bytes(gzip.compress(gzip.decompress(f.read_bytes())[:-7]))
    with pytest.raises(DataError, match="truncated: 10001 bytes, expected 10008"):
        load_mnist("test", root=tmp_path)


def test_wrong_magic_is_refused(tmp_path):
    folder = _copy_mnist(tmp_path)
    # labels where images should be: the magic number tells them apart
    shutil.copy(folder / "t10k-labels-idx1-ubyte.gz", folder / "t10k-images-idx3-ubyte.gz")
    with pytest.raises(DataError, match="magic number 2049, expected 2051"):
        load_mnist("test", root=tmp_path)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x12\x34\x56\x78" + bytes(100)))
    with pytest.raises(DataError):
        load_mnist("test", root=tmp_path)


def test_wrong_shape_is_refused(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((10, 28, 28)))
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros((10,)))
    with pytest.raises(DataError, match=r"expected \(10000, 28, 28\)"):
        load_mnist("test", root=tmp_path)


def test_bad_split():
    with pytest.raises(ValueError, match="split 'val'"):
        load_mnist("val")

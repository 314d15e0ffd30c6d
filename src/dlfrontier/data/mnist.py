"""MNIST and Fashion-MNIST from the four standard IDX files under ``<data root>/<name>/``.

The files are the ones the data sets' authors publish (gzip or not)::

    <root>/mnist/train-images-idx3-ubyte.gz   <root>/mnist/train-labels-idx1-ubyte.gz
    <root>/mnist/t10k-images-idx3-ubyte.gz    <root>/mnist/t10k-labels-idx1-ubyte.gz

(the same names under ``<root>/fashion-mnist/``). Nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from dlfrontier.data.idx import idx_magic, read_idx
from dlfrontier.data.root import data_root
from dlfrontier.errors import DataError

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
SIZES = {"train": 60000, "test": 10000}


class ImageSet(NamedTuple):
    """Images and labels of one split.

    Shapes:
        images: ``[N, 28, 28]`` uint8; labels: ``[N]`` int64 in ``0..9``.
    """

    images: torch.Tensor
    labels: torch.Tensor


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def _paths(name: str, split: str, root: str | os.PathLike[str] | None) -> tuple[Path, Path]:
    """The images and labels files of ``split``; a :class:`DataError` naming the fix when either is missing."""
    if split not in FILES:
        raise ValueError(f"split {split!r}: choose 'train' or 'test'")
    folder = data_root(root) / name
    img_path, lbl_path = (_find(folder, stem) for stem in FILES[split])
    if img_path is None or lbl_path is None:
        wanted = ", ".join(f"{s}.gz" for s in FILES["train"] + FILES["test"])
        raise DataError(
            f"{name} {split} files not found in {folder}; put the four standard IDX files there "
            f"({wanted}) or set DLFRONTIER_DATA to the folder that holds '{name}/'"
        )
    return img_path, lbl_path


def require_idx_dataset(name: str, root: str | os.PathLike[str] | None = None) -> None:
    """Check, without reading them, that both splits of ``name`` (``mnist``, ``fashion-mnist``) are present.

    Raises:
        DataError: a file is missing (the message names the folder and the files to put there).
    """
    for split in FILES:
        _paths(name, split, root)


def _load(name: str, split: str, root: str | os.PathLike[str] | None) -> ImageSet:
    img_path, lbl_path = _paths(name, split, root)
    for p, magic in ((img_path, 2051), (lbl_path, 2049)):
        got = idx_magic(p)
        if got != magic:
            raise DataError(f"{p} has magic number {got}, expected {magic}; the file is not what its name says")
    images = read_idx(img_path)
    labels = read_idx(lbl_path)
    n = SIZES[split]
    if images.shape != (n, 28, 28) or labels.shape != (n,):
        raise DataError(
            f"{name} {split}: images {images.shape} / labels {labels.shape}, expected ({n}, 28, 28) / ({n},)"
        )
    if labels.max() > 9:
        raise DataError(f"{lbl_path} holds labels above 9; the file is damaged")
    return ImageSet(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)))


def load_mnist(split: str = "train", root: str | os.PathLike[str] | None = None) -> ImageSet:
    """MNIST ``split`` ('train' or 'test') from ``<root>/mnist/``; see the module docstring."""
    return _load("mnist", split, root)


def load_fashion_mnist(split: str = "train", root: str | os.PathLike[str] | None = None) -> ImageSet:
    """Fashion-MNIST ``split`` from ``<root>/fashion-mnist/``."""
    return _load("fashion-mnist", split, root)

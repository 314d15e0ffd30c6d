"""COCO captions for the full budgets: Karpathy's split JSON plus precomputed bottom-up region features.

Expected files (under the data root, :func:`dlfrontier.data.root.data_root`: ``$DLFRONTIER_DATA``, else
``~/.cache/dlfrontier``):

* ``coco/dataset_coco.json``: Karpathy & Fei-Fei's split file (``images[].split``, ``sentences[].tokens``,
  ``cocoid``; ``restval`` joins ``train``), read by :func:`dlfrontier.data.captions.load_karpathy_split`;
* ``coco/features/<cocoid>.npz`` (array ``feat`` ``[regions, dim]``) or ``<cocoid>.npy``: the bottom-up-attention
  features (Anderson et al. 2018) as self-critical.pytorch stores them (10-100 regions an image, 2048 wide), read
  by :func:`dlfrontier.data.captions.load_region_features`.

Preprocessing with the thresholds of Karpathy's / self-critical.pytorch's ``prepro_labels.py`` (which counts words
over all splits; here only the training split's tokens count): the vocabulary holds the words seen at least
:data:`MIN_COUNT` times (all other words -> ``UNK``), captions are truncated to
:data:`~dlfrontier.data.captions.MAX_LEN` = 16 words, and every image trains on 5 references (fewer are repeated
in turn, more are cut). The metrics score against all of an image's references, untruncated. Region sets of
different sizes are padded to the largest (at most ``max_regions``) with a mask (True = padding) that the
captioners' attention and mean pooling skip.

Everything is loaded into memory as ``[N, K, D]`` float32 (113,287 training images x 36 regions x 2048 is about
33 GB): the full budget needs a machine with that much memory or fewer regions (``max_regions``).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from dlfrontier.data import captions as cap
from dlfrontier.data.root import data_root
from dlfrontier.errors import DataError

MIN_COUNT = 5  # Karpathy's word-count threshold
JSON_NAME, FEATURES_NAME = "dataset_coco.json", "features"


def coco_paths(root: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """``(<data root>/coco/dataset_coco.json, <data root>/coco/features)``."""
    base = data_root(root) / "coco"
    return base / JSON_NAME, base / FEATURES_NAME


def require_coco(root: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """Check, without reading them, that the split file and the features folder exist; return their paths.

    Raises:
        DataError: one line naming the expected paths and where to get them.
    """
    json_path, feat_dir = coco_paths(root)
    missing = [str(p) for p, ok in ((json_path, json_path.is_file()), (feat_dir, feat_dir.is_dir())) if not ok]
    if missing:
        raise DataError(
            f"COCO captioning data missing: {' and '.join(missing)}; put Karpathy's split file {JSON_NAME} at "
            f"{json_path} and the bottom-up region features (<cocoid>.npz with array 'feat', or <cocoid>.npy, as "
            f"self-critical.pytorch's data/cocobu_att) in {feat_dir}, or set DLFRONTIER_DATA to the folder holding "
            "coco/"
        )
    return json_path, feat_dir


def build_vocab(sentences: Iterable[Sequence[str]], min_count: int = MIN_COUNT) -> tuple[str, ...]:
    """Specials, then the words seen at least ``min_count`` times (most frequent first, ties alphabetical)."""
    counts = Counter(w for s in sentences for w in s)
    kept = sorted((w for w, c in counts.items() if c >= min_count and w not in cap.SPECIALS),
                  key=lambda w: (-counts[w], w))
    return cap.SPECIALS + tuple(kept)


def encode_tokens(words: Sequence[str], index: dict[str, int]) -> list[int]:
    """``BOS w1 .. wn EOS`` of the first :data:`~dlfrontier.data.captions.MAX_LEN` words (unknown -> ``UNK``)."""
    return [cap.BOS, *(index.get(w, cap.UNK) for w in words[: cap.MAX_LEN]), cap.EOS]


def decode_with(vocab: Sequence[str], ids: Sequence[int]) -> str:
    """Like :func:`dlfrontier.data.captions.decode`, for any vocabulary."""
    words = []
    for i in ids:
        i = int(i)
        if i == cap.EOS:
            break
        if i in (cap.BOS, cap.PAD):
            continue
        words.append(vocab[i] if 0 <= i < len(vocab) else cap.SPECIALS[cap.UNK])
    return " ".join(words)


class CocoSplit(NamedTuple):
    """One split: ``feats [N, K, D]`` float32, ``mask [N, K]`` bool (True = padding), ``tokens [N, 5, 18]``,
    ``texts`` (all references of each image, space-joined) and the COCO ids."""

    feats: torch.Tensor
    mask: torch.Tensor
    tokens: torch.Tensor
    texts: tuple[tuple[str, ...], ...]
    cocoids: tuple[int, ...]

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.feats.shape[0])


def _split(images: Sequence[cap.KarpathyImage], feat_dir: Path, index: dict[str, int],
           max_regions: int) -> CocoSplit:
    feats = [cap.load_region_features(feat_dir, im.cocoid, max_regions=max_regions) for im in images]
    dims = {f.shape[1] for f in feats}
    if len(dims) > 1:
        raise DataError(f"region features in {feat_dir} have different widths {sorted(dims)}; expected one")
    k = max((f.shape[0] for f in feats), default=1)
    d = dims.pop() if dims else 1
    out = np.zeros((len(feats), k, d), dtype=np.float32)
    mask = np.ones((len(feats), k), dtype=bool)
    for i, f in enumerate(feats):
        if not len(f):
            raise DataError(f"region features of image {images[i].cocoid} in {feat_dir} hold no region")
        out[i, : len(f)] = f
        mask[i, : len(f)] = False
    tokens = np.zeros((len(images), cap.REFS_PER_IMAGE, cap.MAX_LEN + 2), dtype=np.int64)
    for i, im in enumerate(images):
        for j in range(cap.REFS_PER_IMAGE):
            ids = encode_tokens(im.sentences[j % len(im.sentences)], index)
            tokens[i, j, : len(ids)] = ids
    return CocoSplit(torch.from_numpy(out), torch.from_numpy(mask), torch.from_numpy(tokens),
                     tuple(im.texts for im in images), tuple(im.cocoid for im in images))


class CocoData(NamedTuple):
    vocab: tuple[str, ...]
    train: CocoSplit
    val: CocoSplit
    test: CocoSplit


def load_coco(train_images: int, val_images: int, test_images: int, *, max_regions: int,
              root: str | os.PathLike[str] | None = None) -> CocoData:
    """The first ``train_images`` / ``val_images`` / ``test_images`` images of each Karpathy split (all of a split
    when it has fewer), the vocabulary of the training images used, features padded and masked."""
    json_path, feat_dir = require_coco(root)
    splits = cap.load_karpathy_split(json_path)
    train, val, test = splits["train"][:train_images], splits["val"][:val_images], splits["test"][:test_images]
    if not (train and val and test):
        raise DataError(f"{json_path} has an empty train, val or test split ({len(train)}, {len(val)}, {len(test)})")
    vocab = build_vocab(s for im in train for s in im.sentences)
    index = {w: i for i, w in enumerate(vocab)}
    return CocoData(vocab, *(_split(s, feat_dir, index, max_regions) for s in (train, val, test)))


__all__ = ["MIN_COUNT", "CocoData", "CocoSplit", "build_vocab", "coco_paths", "decode_with", "encode_tokens",
           "load_coco", "require_coco"]

"""The nearest-neighbour caption baseline: no learning, only retrieval of a training caption.

Paper: Devlin, Gupta, Girshick, Mitchell, Zitnick, "Exploring nearest neighbor approaches for image captioning",
arXiv 2015, https://arxiv.org/abs/1505.04467. For a test image they take its k nearest training images (in a
CNN's feature space), pool their captions, and output the caption with the highest consensus (mean BLEU / CIDEr)
with the others; on COCO it scores close to the neural captioners of its time by the automatic metrics.

Ours is the no-learning version of that recipe: the distance is Euclidean on the pixels, downsampled by
``pool x pool`` average pooling (75x75 -> 25x25 by default, so that an object moved by a pixel or two stays close),
with ``k = 1`` by default: the nearest training image's *consensus reference*, the one of its five references
with the highest CIDEr-D against its other four (document frequencies from all training references; ties go to
the earlier reference). With ``k > 1`` the candidates are the references of all k neighbours, each scored against
the pooled references of those k images except itself, as in the paper. Ties in distance go to the lower
training index.

``python -m dlfrontier.multimodal.captioning.baselines --train 4000 --test 500 --seeds 0-2`` prints the test
split's CIDEr-D and BLEU-4 (test images from :func:`dlfrontier.data.captions.caption_splits`, the fixed test set).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from dlfrontier.data.captions import CaptionSet, caption_splits
from dlfrontier.multimodal.metrics import CiderD, bleu, cider_d


def pooled_pixels(images: torch.Tensor, *, pool: int = 3) -> torch.Tensor:
    """uint8 ``[N, 3, H, W]`` -> float64 ``[N, 3 * (H // pool) * (W // pool)]``: sums over ``pool x pool`` blocks.

    Block sums (average pooling times ``pool**2``) are integers, so every distance below is an integer computed
    exactly in float64 (all partial sums stay far below 2**53), whatever order the matrix product adds in.
    """
    x = images.double()
    if pool > 1:
        x = F.avg_pool2d(x, pool).mul_(pool * pool).round_()
    return x.flatten(1)


def nearest_neighbours(
    train_images: torch.Tensor, test_images: torch.Tensor, *, k: int = 1, pool: int = 3, batch: int = 256
) -> torch.Tensor:
    """Indices ``[T, k]`` of each test image's ``k`` nearest training images (pooled pixels, Euclidean).

    The squared distances are exact integers (see :func:`pooled_pixels`), so identical images tie exactly; a tie
    goes to the lower training index (a stable sort).
    """
    if k < 1 or k > len(train_images):
        raise ValueError(f"k={k}: need 1 <= k <= {len(train_images)} training images")
    train = pooled_pixels(train_images, pool=pool)
    train_sq = (train * train).sum(1)  # [N]
    out = []
    for i in range(0, len(test_images), batch):
        q = pooled_pixels(test_images[i : i + batch], pool=pool)
        d2 = (q * q).sum(1, keepdim=True) - 2 * q @ train.T + train_sq[None]  # [B, N]
        out.append(torch.sort(d2, dim=1, stable=True).indices[:, :k])
    return torch.cat(out) if out else torch.zeros(0, k, dtype=torch.long)


def consensus_caption(captions: Sequence[str], cider: CiderD) -> str:
    """The caption with the highest CIDEr-D against all the others (the first one on a tie)."""
    if len(captions) == 1:
        return captions[0]
    others = [[c for j, c in enumerate(captions) if j != i] for i in range(len(captions))]
    scores = cider.scores(list(captions), others)
    return captions[int(np.argmax(scores))]


def nearest_neighbour_captions(train: CaptionSet, test: CaptionSet, *, k: int = 1, pool: int = 3) -> list[str]:
    """The baseline's caption of every test image (see the module docstring)."""
    cider = CiderD(train.texts)
    neighbours = nearest_neighbours(train.images, test.images, k=k, pool=pool).tolist()
    consensus: dict[tuple[int, ...], str] = {}
    out = []
    for row in neighbours:
        key = tuple(row)
        if key not in consensus:
            consensus[key] = consensus_caption([c for j in key for c in train.texts[j]], cider)
        out.append(consensus[key])
    return out


def nearest_neighbour_baseline(train: CaptionSet, test: CaptionSet, *, k: int = 1, pool: int = 3) -> dict[str, float]:
    """CIDEr-D (document frequencies from the test references) and BLEU-4 of the baseline on ``test``."""
    captions = nearest_neighbour_captions(train, test, k=k, pool=pool)
    refs = [list(r) for r in test.texts]
    return {"cider_d": cider_d(captions, refs), "bleu4": bleu(captions, refs)[3]}


def _seeds(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main(argv: Sequence[str] | None = None) -> None:
    """Print the baseline's test CIDEr-D and BLEU-4 for each seed's training set."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--train", type=int, default=4000, help="training images")
    p.add_argument("--test", type=int, default=500, help="test images (the fixed test set)")
    p.add_argument("--seeds", default="0-2", help="training-set seeds, e.g. 0-2")
    p.add_argument("--k", type=int, default=1, help="nearest neighbours pooled")
    p.add_argument("--pool", type=int, default=3, help="average-pooling factor of the pixels")
    args = p.parse_args(argv)
    rows = []
    for seed in _seeds(args.seeds):
        train, _, test = caption_splits(args.train, 0, args.test, seed=seed)
        m = nearest_neighbour_baseline(train, test, k=args.k, pool=args.pool)
        rows.append((m["cider_d"], m["bleu4"]))
        print(
            f"seed {seed}: train {args.train} test {args.test} k {args.k}: "
            f"CIDEr-D {m['cider_d']:.4f}  BLEU-4 {m['bleu4']:.4f}"
        )
    mean = np.mean(rows, axis=0)
    print(f"mean over {len(rows)} seeds: CIDEr-D {mean[0]:.4f}  BLEU-4 {mean[1]:.4f}")


if __name__ == "__main__":
    main()


__all__ = [
    "consensus_caption",
    "nearest_neighbour_baseline",
    "nearest_neighbour_captions",
    "nearest_neighbours",
    "pooled_pixels",
]

"""Context-seg: a procedural segmentation set whose pixel labels need long-range context.

Built for the lecture's scene-parsing attention modules (Non-local, DANet, OCNet, CCNet, EMANet), which all argue
that a pixel's class often depends on things far away in the image. Design (see ``docs/attention.md``):

* Every image holds 2-4 grey rectangles ("objects"), drawn identically whatever their class: the same grey range,
  the same noise, equal in all three colour channels. Locally, an object pixel says "object", never which one.
* Somewhere else lies one small coloured square, the "key": pure red, green or blue (``num_classes`` colours).
  Its colour is the class of *every* object pixel of the image: label ``1 + colour``; the background and the
  key itself are label 0.
* The key is placed at random, away from the objects, so for most object pixels it lies outside any small
  receptive field and, often, outside the pixel's row and column too: a network must bring context from a far
  position (one criss-cross step sees only the row and column; two see the whole image).

A network without context can segment objects from background but must guess the object class (chance
``1/num_classes`` unless the key happens to be near); with image-wide context it can be exact.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class SegSet(NamedTuple):
    """Images and label maps.

    Shapes:
        images: ``[N, 3, H, W]`` float32; masks: ``[N, H, W]`` int64 in ``0..num_classes``.
    """

    images: torch.Tensor
    masks: torch.Tensor


def _overlaps(box: tuple[int, int, int, int], others: list[tuple[int, int, int, int]], gap: int) -> bool:
    y0, x0, y1, x1 = box
    return any(y0 < b[2] + gap and b[0] < y1 + gap and x0 < b[3] + gap and b[1] < x1 + gap for b in others)


def make_context_seg(
    n: int,
    *,
    seed: int,
    size: int = 32,
    num_classes: int = 3,
    objects: tuple[int, int] = (2, 4),
    object_size: tuple[int, int] = (4, 9),
    key_size: int = 5,
    noise: float = 0.1,
) -> SegSet:
    """Generate ``n`` images (deterministic in ``seed``).

    Args:
        n: number of images.
        seed: the generator's seed; the same seed gives the same set.
        size: image height and width.
        num_classes: number of object classes = key colours (at most 3: red, green, blue).
        objects: inclusive range of the number of objects per image.
        object_size: inclusive range of an object's side lengths.
        key_size: side of the coloured key square.
        noise: standard deviation of the Gaussian pixel noise (all channels, independently).

    Returns:
        A :class:`SegSet` with ``num_classes + 1`` labels (0 = background and key).
    """
    if not 1 <= num_classes <= 3:
        raise ValueError(f"num_classes must be 1, 2 or 3 (one colour channel each), got {num_classes}")
    if n < 0 or size < max(object_size[1], key_size) + 4:
        raise ValueError(f"need n >= 0 and size >= {max(object_size[1], key_size) + 4}, got n={n}, size={size}")
    rng = np.random.default_rng(seed)
    base = rng.normal(0.0, noise, size=(n, 3, size, size)).astype(np.float32)
    images = base.copy()
    masks = np.zeros((n, size, size), dtype=np.int64)
    for i in range(n):
        label = int(rng.integers(num_classes))
        boxes: list[tuple[int, int, int, int]] = []
        for _ in range(int(rng.integers(objects[0], objects[1] + 1))):
            hh, ww = rng.integers(object_size[0], object_size[1] + 1, size=2)
            y, x = rng.integers(0, size - hh + 1), rng.integers(0, size - ww + 1)
            boxes.append((int(y), int(x), int(y + hh), int(x + ww)))
            grey = np.float32(rng.uniform(0.5, 1.0))  # all channels alike; a later object covers an earlier one
            images[i, :, y : y + hh, x : x + ww] = base[i, :, y : y + hh, x : x + ww] + grey
            masks[i, y : y + hh, x : x + ww] = 1 + label
        for _ in range(1000):  # a free spot for the key, one pixel away from every object
            y, x = (int(v) for v in rng.integers(0, size - key_size + 1, size=2))
            key = (y, x, y + key_size, x + key_size)
            if not _overlaps(key, boxes, gap=1):
                break
        else:  # pragma: no cover - objects cover at most 4 * 81 of 1024 pixels
            raise RuntimeError("no room for the key")
        images[i, label, y : y + key_size, x : x + key_size] += 1.0
        masks[i, y : y + key_size, x : x + key_size] = 0
    return SegSet(torch.from_numpy(images), torch.from_numpy(masks))


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_labels: int) -> torch.Tensor:
    """``[L, L]`` counts, row = true label, column = predicted label."""
    idx = target.reshape(-1) * num_labels + pred.reshape(-1)
    return torch.bincount(idx, minlength=num_labels * num_labels).view(num_labels, num_labels)


def mean_iou(confusion: torch.Tensor) -> float:
    """Mean over labels of ``TP / (TP + FP + FN)``; labels absent from both prediction and truth are skipped."""
    tp = confusion.diag().double()
    union = confusion.sum(0).double() + confusion.sum(1).double() - tp
    present = union > 0
    return float((tp[present] / union[present]).mean()) if bool(present.any()) else float("nan")

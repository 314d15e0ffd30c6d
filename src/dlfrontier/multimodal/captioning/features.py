"""Region features for the generated captioning images: a bottom-up detector trained on the scene annotations.

Paper: Anderson et al., "Bottom-Up and Top-Down Attention for Image Captioning and Visual Question Answering",
CVPR 2018 (https://arxiv.org/abs/1707.07998), Section 3.1: captioners read the K regions a detector (Faster
R-CNN trained on Visual Genome objects and attributes) finds, each a pooled feature vector with its box.

Here the detector is the VQA models' CNN (:func:`dlfrontier.multimodal.vqa_base.conv_stem`: 4 stride-2 convs,
75 px -> a 5x5 grid of 15 px cells) with a 1x1 head that predicts per cell the colour of the object whose centre
lies in it (or "none"), its shape, its size and the centre's offset within the cell, trained on the generator's
scene annotations (the Visual Genome analogue; :func:`pretrain_detector`, as
:func:`dlfrontier.multimodal.bottom_up.pretrain_bottom_up` does for VQA). A region is one of the ``k`` cells the
detector is surest hold an object; its vector is the cell's CNN features, the head's class probabilities
(objectness and colour, shape, size: the detector's class and attribute scores) and the refined centre (row, col)
in [-1, 1] (the box), :func:`region_features`.

Why this and not a grid CNN trained end to end with the captioner (show-attend-tell): with 2 CPU cores, the
detector costs a few hundred small CNN steps once; afterwards the regions of every image are computed once and the
captioner trains and decodes on ``[N, k, D]`` tensors (k = 4), so a cross-entropy epoch over thousands of images
and five references, and SCST's sampling, take seconds instead of a CNN pass per step. The VQA session found the
same: from pixels every model stalled on a plateau within its quick budget, on the detector's features it did not
(docs/vqa.md). Relations ("left of", "above", "next to") need positions finer than a 15 px cell: the offset head
gives them (1-2 px error in VQA).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dlfrontier.multimodal.batchnorm import recalibrate_batchnorm
from dlfrontier.multimodal.vqa_base import conv_stem, grid_side

IGNORE = -100
NMS_RADIUS = 6.0  # px; two objects' centres are at least 10 px apart (9 px boxes, a white pixel between)
NONE_WEIGHT = 0.1  # weight of the "no object centre here" class in the colour cross-entropy


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[N, 3, S, S]`` -> float in [0, 1] (a float tensor is returned unchanged)."""
    return images.float() / 255.0 if images.dtype == torch.uint8 else images


class RegionDetector(nn.Module):
    """Grid CNN plus a 1x1 detection head (per cell: none-or-colour, shape, size logits and the centre's offset).

    Args:
        colours, shapes, sizes: attribute classes of the data set.
        channels: CNN width; conv_layers: stride-2 convs (4: a 5x5 grid at 75 px).
        image_size: input side (75).
    """

    def __init__(self, *, colours: int, shapes: int, sizes: int = 2, channels: int = 32, conv_layers: int = 4,
                 image_size: int = 75) -> None:
        super().__init__()
        self.colours, self.shapes, self.sizes, self.channels = colours, shapes, sizes, channels
        self.image_size = image_size
        self.grid = grid_side(image_size, conv_layers)  # the CNN's feature map is grid x grid cells
        self.cnn = conv_stem(channels=channels, layers=conv_layers)
        self.head = nn.Conv2d(channels, self.classes + 2, 1)

    @property
    def classes(self) -> int:
        """Class outputs per cell: none + colours, shapes, sizes."""
        return 1 + self.colours + self.shapes + self.sizes

    @property
    def feature_dim(self) -> int:
        """Width D of a region vector: CNN features, class probabilities, (row, col)."""
        return self.channels + self.classes + 2

    def split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Head output ``[B, classes + 2, g, g]`` -> colour (none first), shape, size logits and offsets."""
        c, s = 1 + self.colours, self.shapes
        return out[:, :c], out[:, c : c + s], out[:, c + s : c + s + self.sizes], out[:, self.classes :]

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, 3, S, S]`` float -> CNN features ``[B, C, g, g]`` and head output ``[B, classes + 2, g, g]``."""
        feats = self.cnn(images)
        return feats, self.head(feats)


def cell_targets(detector: RegionDetector, colours: torch.Tensor, shapes: torch.Tensor, sizes: torch.Tensor,
                 centres: torch.Tensor, grid: int) -> tuple[torch.Tensor, ...]:
    """Per-cell targets from scene annotations (``[N, M]`` attribute indices, -1 for absent objects; centres
    ``[N, M, 2]`` (row, col) px): colour ``[N, g, g]`` (0 none, else 1 + colour), shape and size (IGNORE where no
    centre lies) and the offset ``[N, 2, g, g]`` of the centre from the cell's centre in cell widths. Two centres
    in one cell keep the later object."""
    n, m = colours.shape
    size = detector.image_size / grid
    cell = (centres.float() / size).floor().long().clamp(0, grid - 1)  # [N, M, 2]
    delta = (centres.float() + 0.5) / size - cell.float() - 0.5
    colour = torch.zeros(n, grid, grid, dtype=torch.long)
    shape = torch.full((n, grid, grid), IGNORE, dtype=torch.long)
    big = torch.full((n, grid, grid), IGNORE, dtype=torch.long)
    offset = torch.zeros(n, 2, grid, grid)
    for k in range(m):
        rows = torch.nonzero(colours[:, k] >= 0).squeeze(1)
        r, c = cell[rows, k, 0], cell[rows, k, 1]
        colour[rows, r, c] = colours[rows, k] + 1
        shape[rows, r, c] = shapes[rows, k]
        big[rows, r, c] = sizes[rows, k]
        for axis in range(2):
            offset[rows, axis, r, c] = delta[rows, k, axis]
    return colour, shape, big, offset


def pretrain_detector(detector: RegionDetector, data: Any, *, steps: int = 300, batch: int = 32, lr: float = 3e-3,
                      seed: int = 0, bn_images: int = 1000, device: Any = "cpu") -> dict[str, float]:
    """Train ``detector`` on ``data``'s scene annotations (a :class:`~dlfrontier.data.captions.CaptionSet`:
    ``images``, ``colours``, ``shapes``, ``sizes``, ``centres``), re-estimate its BatchNorm statistics exactly and
    leave it frozen in eval mode.

    Returns ``detector/colour_accuracy``, ``detector/shape_accuracy``,
    ``detector/size_accuracy`` (cells holding a centre), ``detector/empty_accuracy`` (cells without a centre
    called empty) and ``detector/offset_error_px`` on the last 10% of
    ``data``, held out from the steps.
    """
    detector.to(device).train()
    with torch.no_grad():
        grid = detector.cnn(to_float(data.images[:1].to(device))).shape[-1]
    colour, shape, size, offset = cell_targets(detector, data.colours, data.shapes, data.sizes, data.centres, grid)
    n_fit = len(data) - len(data) // 10 if len(data) >= 10 else len(data)
    opt = torch.optim.Adam(detector.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    ce = nn.functional.cross_entropy
    # Most cells hold no centre: weighting "none" down keeps the head from predicting none everywhere
    weight = torch.ones(1 + detector.colours, device=device)
    weight[0] = NONE_WEIGHT

    def loss_of(idx: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        parts = detector.split(detector(to_float(data.images[idx].to(device)))[1])
        s, z = shape[idx].to(device), size[idx].to(device)
        has = s != IGNORE
        loss = ce(parts[0], colour[idx].to(device), weight=weight)
        if has.any():
            err = (parts[3] - offset[idx].to(device)).square().sum(1)
            loss = loss + ce(parts[1], s, ignore_index=IGNORE) + ce(parts[2], z, ignore_index=IGNORE) + err[has].mean()
        return loss, parts

    for _ in range(steps):
        loss, _ = loss_of(torch.randint(0, n_fit, (min(batch, n_fit),), generator=gen))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    recalibrate_batchnorm(detector.cnn, to_float(data.images[: min(bn_images, n_fit)].to(device)))
    freeze(detector)
    held = torch.arange(n_fit, len(data)) if n_fit < len(data) else torch.arange(len(data))
    with torch.no_grad():
        loss, parts = loss_of(held)
    s, z = shape[held].to(device), size[held].to(device)
    has = s != IGNORE
    dist = (parts[3] - offset[held].to(device)).square().sum(1).sqrt()[has] * (detector.image_size / grid)
    return {
        "detector/loss": float(loss),
        "detector/colour_accuracy": float((parts[0].argmax(1)[has] == colour[held].to(device)[has]).float().mean()),
        "detector/empty_accuracy": float((parts[0].argmax(1)[~has] == 0).float().mean()),
        "detector/shape_accuracy": float((parts[1].argmax(1)[has] == s[has]).float().mean()),
        "detector/size_accuracy": float((parts[2].argmax(1)[has] == z[has]).float().mean()),
        "detector/offset_error_px": float(dist.mean()),
    }


def freeze(detector: RegionDetector) -> None:
    """No gradients, BatchNorm in eval mode (the detector is fixed once pretrained)."""
    detector.requires_grad_(False)
    detector.eval()


def suppress_duplicates(score: torch.Tensor, centres: torch.Tensor, k: int, radius: float) -> torch.Tensor:
    """Greedy non-maximum suppression: ``k`` indices per row of ``score [B, n]``, best first, skipping a cell
    whose predicted centre (``centres [B, n, 2]``) lies within ``radius`` of one already taken (two cells that see
    the same object); when fewer than ``k`` survive, the best suppressed cells fill the rest."""
    score = score.clone()
    taken = []
    rows = torch.arange(score.shape[0], device=score.device)
    for _ in range(k):
        i = score.argmax(1)
        taken.append(i)
        near = (centres - centres[rows, i].unsqueeze(1)).norm(dim=-1) < radius
        score = torch.where(near, score - 2.0, score)  # below every unsuppressed cell (scores lie in [0, 1])
        score[rows, i] = float("-inf")
    return torch.stack(taken, 1)


@torch.no_grad()
def region_features(detector: RegionDetector, images: torch.Tensor, *, k: int = 4, batch: int = 250,
                    device: Any = "cpu", nms_radius: float = NMS_RADIUS) -> torch.Tensor:
    """The ``k`` regions per image the detector is surest hold an object, most certain first, duplicates (cells
    whose predicted centres lie within ``nms_radius`` px of a better one) suppressed.

    Shapes:
        images ``[N, 3, S, S]`` (uint8 or float) -> ``[N, k, D]`` (``D = detector.feature_dim``: CNN features,
        class probabilities (none + colours, shapes, sizes; each softmaxed), centre (row, col) in [-1, 1]).
    """
    was = detector.training
    detector.eval()
    out = []
    for i in range(0, len(images), batch):
        feats, head = detector(to_float(images[i : i + batch].to(device)))
        colour, shape, size, offset = detector.split(head)
        b, _, g, _ = feats.shape
        cells = torch.arange(g, dtype=feats.dtype, device=feats.device)
        scale = 2.0 / (g - 1) if g > 1 else 1.0
        rows = (cells.view(g, 1) + offset[:, 0]) * scale - 1
        cols = (cells.view(1, g) + offset[:, 1]) * scale - 1
        vec = torch.cat([feats, colour.softmax(1), shape.softmax(1), size.softmax(1),
                         torch.stack([rows, cols], 1)], 1).flatten(2).transpose(1, 2)  # [b, g*g, D]
        objectness = 1 - colour.softmax(1)[:, 0].flatten(1)
        centres = torch.stack([rows, cols], -1).flatten(1, 2) / scale  # [b, g*g, 2] in cell widths
        top = suppress_duplicates(objectness, centres, min(k, g * g), radius=nms_radius * g / detector.image_size)
        out.append(vec.gather(1, top.unsqueeze(-1).expand(b, top.shape[1], vec.shape[-1])).cpu())
    detector.train(was)
    return torch.cat(out) if out else torch.zeros(0, k, detector.feature_dim)


__all__ = ["RegionDetector", "cell_targets", "freeze", "pretrain_detector", "region_features", "to_float"]

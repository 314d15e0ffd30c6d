"""Weight sharing (trained quantization): per-layer k-means codebooks fine-tuned by summed gradients.

Han, Mao and Dally, "Deep Compression", ICLR 2016, https://arxiv.org/abs/1510.00149 (Section 3): the
surviving weights of a layer are clustered into ``2**bits`` shared values with linearly initialised
k-means; each weight then stores only its cluster index. During fine-tuning the gradient of a shared value
is the sum of the gradients of the weights in its cluster (Figure 3) - here autograd computes exactly that,
because the layer's weight is ``centroids[labels]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
from torch import nn

from dlfrontier.compression.kmeans import check_bits, kmeans_1d
from dlfrontier.compression.layers import compressible_layers, effective_weight, set_weight_transform
from dlfrontier.compression.prune import current_mask


class SharedWeight(nn.Module):
    """``weight -> where(mask, centroids[labels], 0)``; only ``centroids`` is trained.

    Args:
        centroids: ``[k]`` shared values.
        labels: int64 tensor of the weight's shape, the cluster of each weight (any value where masked).
        mask: bool tensor of the weight's shape, True for surviving connections.
    """

    labels: torch.Tensor
    mask: torch.Tensor

    def __init__(self, centroids: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> None:
        super().__init__()
        self.centroids = nn.Parameter(centroids.detach().to(torch.float32).clone())
        self.register_buffer("labels", labels.to(torch.int64).clone())
        self.register_buffer("mask", mask.to(torch.bool).clone())

    @property
    def bits(self) -> int:
        return max(0, (len(self.centroids) - 1).bit_length())

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        shared = self.centroids[self.labels]  # [*weight.shape]
        return torch.where(self.mask, shared, torch.zeros((), dtype=shared.dtype, device=shared.device))


def share_layer(
    layer: nn.Module, bits: int, *, init: Literal["linear", "density", "random"] = "linear"
) -> SharedWeight:
    """Cluster the surviving weights of ``layer`` into ``2**bits`` shared values and attach the transform."""
    check_bits(bits)
    w = effective_weight(layer)
    mask = current_mask(layer)
    centroids, labels_alive = kmeans_1d(w[mask].cpu().numpy(), 1 << int(bits), init=init)
    labels = torch.zeros(w.shape, dtype=torch.int64)
    labels[mask.cpu()] = torch.from_numpy(labels_alive)
    t = SharedWeight(torch.from_numpy(centroids), labels, mask.cpu()).to(w.device)
    set_weight_transform(layer, t, train_original=False)
    return t


def share_weights(
    model: nn.Module,
    bits: int | Mapping[str, int],
    *,
    init: Literal["linear", "density", "random"] = "linear",
) -> dict[str, SharedWeight]:
    """Weight-share every Linear/Conv2d layer (``bits`` per layer name, or one value for all).

    Raises:
        ValueError: when a bit width is outside [1, 16] or names an unknown layer.
    """
    layers = dict(compressible_layers(model))
    if not isinstance(bits, int):
        unknown = set(bits) - set(layers)
        if unknown:
            raise ValueError(f"unknown layers {sorted(unknown)}; the model has {list(layers)}")
    out = {}
    for name, layer in layers.items():
        b = bits if isinstance(bits, int) else bits.get(name)
        if b is None:
            continue
        out[name] = share_layer(layer, b, init=init)
    return out

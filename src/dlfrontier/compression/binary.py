"""Binary-weight networks: sign weights with a per-filter (or per-layer) scale, trained with the STE.

Courbariaux, Bengio and David, "BinaryConnect: Training Deep Neural Networks with binary weights during
propagations", NeurIPS 2015, https://arxiv.org/abs/1511.00363, and the scaled variant of Rastegari et al.,
"XNOR-Net: ImageNet Classification Using Binary Convolutional Neural Networks", ECCV 2016,
https://arxiv.org/abs/1603.05279 (Binary-Weight-Networks: ``W ~ alpha * sign(W)`` with ``alpha`` the mean
absolute weight of each filter). The forward pass uses the binary weight; the backward pass hands its
gradient straight to the real-valued weight (straight-through estimator), cancelled where ``|w| > 1``.
Activations stay in floating point. Stored as 1 bit per weight plus one float32 scale per filter.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from dlfrontier.compression.layers import compressible_layers, set_weight_transform

Granularity = Literal["filter", "layer"]


def binary_scales(weight: torch.Tensor, per: Granularity) -> torch.Tensor:
    """``alpha``: mean absolute weight per output filter (``[out, 1, ...]``) or of the layer (``[1, 1, ...]``)."""
    if per == "filter":
        dims = tuple(range(1, weight.dim()))
        return weight.abs().mean(dim=dims, keepdim=True)
    if per == "layer":
        return weight.abs().mean().reshape([1] * weight.dim())
    raise ValueError(f"per must be 'filter' or 'layer', got {per!r}")


def binarize_tensor(weight: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """``scales * sign(weight)`` with sign(0) = +1, so that every weight is exactly one of two values."""
    one = torch.ones((), dtype=weight.dtype, device=weight.device)
    return scales * torch.where(weight >= 0, one, -one)


class BinaryWeight(nn.Module):
    """``weight -> alpha * sign(weight)`` in the forward pass, identity gradient for ``|w| <= 1`` backward.

    Args:
        per: ``"filter"`` (one scale per output channel/unit) or ``"layer"``.
    """

    def __init__(self, per: Granularity = "filter") -> None:
        super().__init__()
        if per not in ("filter", "layer"):
            raise ValueError(f"per must be 'filter' or 'layer', got {per!r}")
        self.per: Granularity = per

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        wb = binarize_tensor(weight, binary_scales(weight, self.per)).detach()
        # Value: exactly wb (the added term is 0). Gradient: d/dw = 1 where |w| <= 1, else 0 (BinaryConnect).
        return wb + (weight - weight.detach()) * (weight.detach().abs() <= 1).to(weight.dtype)


def binarize(model: nn.Module, *, per: Granularity = "filter") -> nn.Module:
    """Attach :class:`BinaryWeight` to every Linear/Conv2d weight of ``model`` (in place) and return it."""
    for _, layer in compressible_layers(model):
        set_weight_transform(layer, BinaryWeight(per))
    return model

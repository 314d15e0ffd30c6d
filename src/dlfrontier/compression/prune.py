"""Magnitude pruning with layer-wise thresholds and masks that survive retraining.

Han, Pool, Tran and Dally, "Learning both Weights and Connections for Efficient Neural Networks", NeurIPS
2015, https://arxiv.org/abs/1506.02626, as used in Han, Mao and Dally, "Deep Compression", ICLR 2016,
https://arxiv.org/abs/1510.00149 (Section 2): a connection is removed when its magnitude is below the
layer's threshold, ``quality x std(layer weights)``; pruning and retraining alternate, and a pruned weight
stays zero for good (its mask is applied in every forward pass, so it receives no gradient).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from dlfrontier.compression.layers import (
    compressible_layers,
    effective_weight,
    original_weight,
    set_weight_transform,
    weight_transform,
)


class Masked(nn.Module):
    """``weight -> where(mask, weight, 0)``: the parametrization of a pruned layer.

    Args:
        mask: bool tensor of the weight's shape, True for surviving connections.
    """

    mask: torch.Tensor

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask.to(torch.bool).clone())

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return torch.where(self.mask, weight, torch.zeros((), dtype=weight.dtype, device=weight.device))


def current_mask(layer: nn.Module) -> torch.Tensor:
    """The surviving connections of ``layer`` (all True for a layer never pruned)."""
    t = weight_transform(layer)
    mask = getattr(t, "mask", None)
    if mask is not None:
        return mask.clone()
    return torch.ones_like(effective_weight(layer), dtype=torch.bool)


def layer_threshold(weight: torch.Tensor, mask: torch.Tensor, quality: float) -> float:
    """The paper's threshold ``quality x std`` of the layer's surviving weights."""
    alive = weight[mask]
    if alive.numel() < 2:
        return float("inf") if quality > 0 else 0.0
    return float(quality * alive.float().std())


def quality_for_density(weight: torch.Tensor, mask: torch.Tensor, density: float) -> float:
    """The quality parameter whose threshold keeps ``density`` of the layer's weights (of all of them).

    Lets a schedule be written as target densities (the paper's "weights remaining" column) while the
    pruning rule itself stays ``|w| > quality x std``.
    """
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density}")
    alive = weight[mask].abs().float()
    keep = max(1, round(density * weight.numel()))
    if keep >= alive.numel() or alive.numel() < 2:
        return 0.0
    # Threshold just below the keep-th largest magnitude keeps exactly the `keep` largest (ties aside).
    kth = torch.topk(alive, keep).values[-1]
    below = alive[alive < kth]
    cut = float((kth + below.max()) / 2) if below.numel() else 0.0
    return cut / float(weight[mask].float().std())


def prune_layer(layer: nn.Module, quality: float) -> torch.Tensor:
    """Remove the connections of ``layer`` with ``|w| <= quality x std``; returns the new mask.

    Already-pruned connections stay pruned; the surviving weights keep their values.
    """
    w = effective_weight(layer)
    mask = current_mask(layer)
    thr = layer_threshold(w, mask, quality)
    new_mask = mask & (w.abs() > thr)
    set_weight_transform(layer, Masked(new_mask))
    with torch.no_grad():  # keep the hidden weights of pruned connections at zero too
        original_weight(layer).mul_(new_mask)
    return new_mask


def prune(model: nn.Module, qualities: Mapping[str, float] | float) -> dict[str, torch.Tensor]:
    """Prune every Linear/Conv2d layer by its quality parameter (a float applies to all layers).

    Returns:
        ``{layer name: mask}``.
    """
    masks = {}
    for name, layer in compressible_layers(model):
        q = qualities if isinstance(qualities, (int, float)) else qualities.get(name)
        if q is None:
            continue
        masks[name] = prune_layer(layer, float(q))
    return masks


def prune_to_density(model: nn.Module, densities: Mapping[str, float]) -> dict[str, float]:
    """Prune each named layer so that ``densities[name]`` of its weights remain; returns the qualities used."""
    qualities = {}
    layers = dict(compressible_layers(model))
    unknown = set(densities) - set(layers)
    if unknown:
        raise ValueError(f"unknown layers {sorted(unknown)}; the model has {list(layers)}")
    for name, density in densities.items():
        layer = layers[name]
        qualities[name] = quality_for_density(effective_weight(layer), current_mask(layer), density)
        prune_layer(layer, qualities[name])
    return qualities


def densities(model: nn.Module) -> dict[str, float]:
    """Fraction of non-zero weights of each Linear/Conv2d layer."""
    return {name: float((effective_weight(layer) != 0).float().mean()) for name, layer in compressible_layers(model)}


def weight_count(model: nn.Module) -> tuple[int, int]:
    """``(non-zero weights, all weights)`` over the model's Linear/Conv2d weights."""
    nz = total = 0
    for _, layer in compressible_layers(model):
        w = effective_weight(layer)
        nz += int((w != 0).sum())
        total += w.numel()
    return nz, total

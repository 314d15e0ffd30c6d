"""Which layers a compression transform may touch, and how a transform is attached to a layer's weight.

Shared plumbing of the Deep Compression pipeline (Han, Mao and Dally, "Deep Compression", ICLR 2016,
https://arxiv.org/abs/1510.00149): pruning, weight sharing and binarisation are each a
``torch.nn.utils.parametrize`` parametrization of ``layer.weight``, so the model keeps its architecture and
forward code, the transformed weight is what the layer computes with, and training updates only what the
transform leaves free (surviving weights, shared centroids, real-valued shadow weights).
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn
from torch.nn.utils import parametrize

from dlfrontier.errors import ConfigError

SUPPORTED = (nn.Linear, nn.Conv2d)


def compressible_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The ``(name, layer)`` pairs of the model's Linear and Conv2d layers, in registration order.

    Raises:
        ConfigError: when another module type owns parameters (e.g. BatchNorm, Embedding): the compressed
            file format would not know how to store it.
    """
    layers: list[tuple[str, nn.Module]] = []
    for name, module in model.named_modules():
        if isinstance(module, SUPPORTED):
            layers.append((name, module))
        elif _is_parametrization(name):
            continue
        elif any(True for _ in module.parameters(recurse=False)) and not _inside_supported(model, name):
            raise ConfigError(
                f"unsupported layer {name or '<root>'} of type {type(module).__name__}: compression supports "
                "only nn.Linear and nn.Conv2d layers (fold or remove the others first)"
            )
    if not layers:
        raise ConfigError(f"{type(model).__name__} has no nn.Linear or nn.Conv2d layer to compress")
    return layers


def _is_parametrization(name: str) -> bool:
    return ".parametrizations" in f".{name}"


def _inside_supported(model: nn.Module, name: str) -> bool:
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        if isinstance(model.get_submodule(".".join(parts[:i])), SUPPORTED):
            return True
    return False


def weight_transform(layer: nn.Module) -> nn.Module | None:
    """The compression transform attached to ``layer.weight``, or ``None`` for a plain weight."""
    if parametrize.is_parametrized(layer, "weight"):
        return cast(nn.Module, layer.parametrizations.weight[0])  # type: ignore[index,union-attr]
    return None


def original_weight(layer: nn.Module) -> torch.Tensor:
    """The trainable tensor underneath a transformed weight (the weight itself when there is no transform)."""
    if parametrize.is_parametrized(layer, "weight"):
        return cast(torch.Tensor, layer.parametrizations.weight.original)  # type: ignore[union-attr]
    return cast(torch.Tensor, layer.weight)


def set_weight_transform(layer: nn.Module, transform: nn.Module | None, *, train_original: bool = True) -> None:
    """Replace the transform of ``layer.weight`` (baking the current effective weight in first).

    Args:
        layer: a Linear or Conv2d layer.
        transform: the new parametrization, or ``None`` to leave a plain weight.
        train_original: whether the underlying weight stays trainable (False when the transform holds its
            own parameters, as weight sharing's centroids).
    """
    if parametrize.is_parametrized(layer, "weight"):
        parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
    if transform is None:
        return
    parametrize.register_parametrization(layer, "weight", transform)
    original_weight(layer).requires_grad_(train_original)


def effective_weight(layer: nn.Module) -> torch.Tensor:
    """The weight the layer computes with (after its transform), detached."""
    return cast(torch.Tensor, layer.weight).detach()


def strip_transforms(model: nn.Module) -> nn.Module:
    """Bake every transform into a plain weight (in place) and return the model."""
    for _, layer in compressible_layers(model):
        set_weight_transform(layer, None)
    return model

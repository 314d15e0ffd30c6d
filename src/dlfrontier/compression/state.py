"""Save and restore a model carrying compression transforms (for checkpoints and copies).

Part of the Deep Compression pipeline (Han, Mao and Dally, ICLR 2016, https://arxiv.org/abs/1510.00149).
A parametrized model's ``state_dict`` only loads into a model with the same transforms attached, so a
snapshot records each layer's transform kind next to the state dict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from dlfrontier.compression.binary import BinaryWeight
from dlfrontier.compression.layers import compressible_layers, effective_weight, set_weight_transform, weight_transform
from dlfrontier.compression.prune import Masked
from dlfrontier.compression.sharing import SharedWeight
from dlfrontier.errors import CheckpointError


def snapshot(model: nn.Module) -> dict[str, Any]:
    """``{"transforms": {layer: descriptor}, "state": state_dict}`` (tensors cloned to CPU)."""
    kinds: dict[str, Any] = {}
    for name, layer in compressible_layers(model):
        t = weight_transform(layer)
        if t is None:
            kinds[name] = None
        elif isinstance(t, Masked):
            kinds[name] = "masked"
        elif isinstance(t, SharedWeight):
            kinds[name] = ["shared", len(t.centroids)]
        elif isinstance(t, BinaryWeight):
            kinds[name] = ["binary", t.per]
        else:
            raise TypeError(f"unknown transform {type(t).__name__} on {name}")
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return {"transforms": kinds, "state": state}


def restore(model: nn.Module, snap: dict[str, Any]) -> nn.Module:
    """Attach the transforms recorded in ``snap`` to ``model`` (same architecture) and load its state."""
    layers = dict(compressible_layers(model))
    if set(layers) != set(snap["transforms"]):
        raise CheckpointError(f"snapshot layers {sorted(snap['transforms'])} do not match the model's {sorted(layers)}")
    for name, kind in snap["transforms"].items():
        layer = layers[name]
        set_weight_transform(layer, None)
        shape = effective_weight(layer).shape
        if kind is None:
            continue
        if kind == "masked":
            set_weight_transform(layer, Masked(torch.ones(shape, dtype=torch.bool)))
        elif kind[0] == "shared":
            labels = torch.zeros(shape, dtype=torch.int64)
            t = SharedWeight(torch.zeros(int(kind[1])), labels, torch.ones(shape, dtype=torch.bool))
            set_weight_transform(layer, t, train_original=False)
        elif kind[0] == "binary":
            set_weight_transform(layer, BinaryWeight(kind[1]))
        else:
            raise CheckpointError(f"unknown transform {kind!r} for {name} in snapshot")
    device = next(model.parameters()).device
    model.load_state_dict({k: v.to(device) for k, v in snap["state"].items()})
    return model


def clone(model: nn.Module, factory: Callable[[], nn.Module]) -> nn.Module:
    """An independent copy of ``model`` with its transforms, built on ``factory()`` (same architecture).

    (``copy.deepcopy`` of a parametrized module is not reliable across torch versions.)
    """
    device = next(model.parameters()).device
    return restore(factory().to(device), snapshot(model))

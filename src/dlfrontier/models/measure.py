"""Model measurements shared by the experiments: parameter counts and CPU/GPU forward latency."""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn


def count_params(module: nn.Module) -> int:
    """Number of parameters (trainable or not) of ``module``."""
    return sum(p.numel() for p in module.parameters())


def latency_ms(model: nn.Module, x: torch.Tensor, *, repeats: int = 20) -> float:
    """Median wall time of one forward pass of ``x`` (eval mode, no gradients, one warm-up pass), in ms.

    The model's train/eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    times = []
    with torch.no_grad():
        model(x)  # warm-up
        for _ in range(repeats):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    model.train(was_training)
    return 1000.0 * statistics.median(times)

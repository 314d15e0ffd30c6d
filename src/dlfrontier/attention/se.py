"""Squeeze-and-Excitation block.

Paper: Hu, Shen, Sun, "Squeeze-and-Excitation Networks", CVPR 2018, https://arxiv.org/abs/1709.01507

``y = x * sigmoid(W2 relu(W1 avgpool(x)))``: a per-channel gate computed from global average pooling.
"""

from __future__ import annotations

import torch
from torch import nn


def _reduced(channels: int, reduction: int, min_channels: int) -> int:
    if channels < 1:
        raise ValueError(f"channels must be >= 1, got {channels}")
    if reduction < 1:
        raise ValueError(f"reduction must be >= 1, got {reduction}")
    return max(min_channels, channels // reduction)


class SqueezeExcite(nn.Module):
    """Squeeze-and-Excitation: channel gate from globally average-pooled features.

    Args:
        channels: input (= output) channels C.
        reduction: bottleneck ratio r of the two-layer gate (C -> C/r -> C).
        min_channels: lower bound of the bottleneck width.

    Shapes:
        x: ``[B, C, H, W]`` -> ``[B, C, H, W]``.
    """

    def __init__(self, channels: int, *, reduction: int = 16, min_channels: int = 8) -> None:
        super().__init__()
        hidden = _reduced(channels, reduction, min_channels)
        # 1x1 convolutions on the pooled [B, C, 1, 1] tensor are the paper's two FC layers without reshapes
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The per-channel gate ``[B, C, 1, 1]`` in (0, 1)."""
        s = x.mean(dim=(2, 3), keepdim=True)  # [B, C, 1, 1]
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)

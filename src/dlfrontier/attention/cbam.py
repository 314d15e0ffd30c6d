"""Convolutional Block Attention Module (channel attention followed by spatial attention).

Paper: Woo, Park, Lee, Kweon, "CBAM: Convolutional Block Attention Module", ECCV 2018,
https://arxiv.org/abs/1807.06521

``M_c(F) = sigmoid(MLP(avgpool F) + MLP(maxpool F))``, ``F' = M_c(F) * F``;
``M_s(F') = sigmoid(conv7x7([mean_c F'; max_c F']))``, ``F'' = M_s(F') * F'``.
"""

from __future__ import annotations

import torch
from torch import nn

from dlfrontier.attention.se import _reduced


class ChannelGate(nn.Module):
    """CBAM's channel attention: a shared MLP over the average- and max-pooled descriptors.

    Shapes:
        x: ``[B, C, H, W]`` -> gate ``[B, C, 1, 1]``.
    """

    def __init__(self, channels: int, *, reduction: int = 16, min_channels: int = 8) -> None:
        super().__init__()
        hidden = _reduced(channels, reduction, min_channels)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        # both descriptors go through the shared MLP in one batch: [2B, C, 1, 1]
        pooled = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], 0).view(2 * b, c, 1, 1)
        mlp = self.fc2(torch.relu(self.fc1(pooled)))
        return torch.sigmoid(mlp[:b] + mlp[b:])


class SpatialGate(nn.Module):
    """CBAM's spatial attention: a k x k convolution over the channel-wise mean and max maps.

    Shapes:
        x: ``[B, C, H, W]`` -> gate ``[B, 1, H, W]``.
    """

    def __init__(self, *, kernel_size: int = 7) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and >= 1, got {kernel_size}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], 1)  # [B, 2, H, W]
        return torch.sigmoid(self.conv(maps))


class CBAM(nn.Module):
    """CBAM: channel gate, then spatial gate, applied sequentially (the paper's best arrangement).

    Args:
        channels: input (= output) channels C.
        reduction: bottleneck ratio of the channel MLP.
        min_channels: lower bound of the bottleneck width.
        kernel_size: spatial gate's convolution size (7 in the paper).

    Shapes:
        x: ``[B, C, H, W]`` -> ``[B, C, H, W]``.
    """

    def __init__(self, channels: int, *, reduction: int = 16, min_channels: int = 8, kernel_size: int = 7) -> None:
        super().__init__()
        self.channel = ChannelGate(channels, reduction=reduction, min_channels=min_channels)
        self.spatial = SpatialGate(kernel_size=kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * self.channel(x)
        return x * self.spatial(x)

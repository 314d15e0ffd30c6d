"""Global Context block (GCNet): simplified non-local context + SE-like bottleneck transform, added.

Paper: Cao, Xu, Lin, Wei, Hu, "GCNet: Non-local Networks Meet Squeeze-Excitation Networks and Beyond",
ICCV Workshops 2019, https://arxiv.org/abs/1904.11492

``z_i = x_i + W_v2 relu(LN(W_v1 sum_j softmax_j(W_k x_j) x_j))``: one query-independent attention map per image.
"""

from __future__ import annotations

import torch
from torch import nn

from dlfrontier.attention.se import _reduced


class GlobalContext(nn.Module):
    """GC block with attention pooling and additive fusion (the paper's default).

    The last convolution is zero-initialised, so the block starts as the identity.

    Args:
        channels: input (= output) channels C.
        reduction: bottleneck ratio r of the transform (C -> C/r -> C; 16 in the paper).
        min_channels: lower bound of the bottleneck width.

    Shapes:
        x: ``[B, C, H, W]`` -> ``[B, C, H, W]``.
    """

    def __init__(self, channels: int, *, reduction: int = 16, min_channels: int = 8) -> None:
        super().__init__()
        hidden = _reduced(channels, reduction, min_channels)
        self.key = nn.Conv2d(channels, 1, 1)
        last = nn.Conv2d(hidden, channels, 1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)  # type: ignore[arg-type]
        self.transform = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.LayerNorm([hidden, 1, 1]), nn.ReLU(inplace=True), last
        )

    def context(self, x: torch.Tensor) -> torch.Tensor:
        """Attention-pooled global context ``[B, C, 1, 1]``."""
        b, c, h, w = x.shape
        weights = torch.softmax(self.key(x).view(b, h * w, 1), dim=1)  # [B, HW, 1]
        return torch.bmm(x.reshape(b, c, h * w), weights).view(b, c, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.transform(self.context(x))

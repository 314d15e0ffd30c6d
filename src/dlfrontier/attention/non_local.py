"""Non-local block, embedded Gaussian version.

Paper: Wang, Girshick, Gupta, He, "Non-local Neural Networks", CVPR 2018, https://arxiv.org/abs/1711.07971

``y_i = sum_j softmax_j(theta(x_i)^T phi(x_j)) g(x_j)``, ``z_i = W_z y_i + x_i``; ``W_z`` is a 1x1 convolution
followed by BatchNorm whose scale is initialised to zero, so the block starts as the identity (paper, Sec. 4.1).
"""

from __future__ import annotations

import torch
from torch import nn


class NonLocalBlock(nn.Module):
    """Embedded-Gaussian non-local block over all H*W positions.

    Args:
        channels: input (= output) channels C.
        inter_channels: width of theta, phi and g (default C/2, as in the paper).
        subsample: max-pool phi and g by 2 (the paper's cheaper variant; 1/4 of the keys).
        use_bn: follow W_z by BatchNorm (zero-initialised scale); else zero-initialise W_z itself.

    Shapes:
        x: ``[B, C, H, W]`` -> ``[B, C, H, W]``. Cost: an ``[HW, HW]`` attention matrix per image.
    """

    def __init__(
        self, channels: int, *, inter_channels: int | None = None, subsample: bool = False, use_bn: bool = True
    ) -> None:
        super().__init__()
        inter = max(1, channels // 2) if inter_channels is None else inter_channels
        if channels < 1 or inter < 1:
            raise ValueError(f"channels ({channels}) and inter_channels ({inter}) must be >= 1")
        self.inter_channels = inter
        self.theta = nn.Conv2d(channels, inter, 1)
        self.phi = nn.Conv2d(channels, inter, 1)
        self.g = nn.Conv2d(channels, inter, 1)
        self.pool: nn.Module = nn.MaxPool2d(2) if subsample else nn.Identity()
        conv = nn.Conv2d(inter, channels, 1)
        if use_bn:
            bn = nn.BatchNorm2d(channels)
            nn.init.zeros_(bn.weight)
            self.out = nn.Sequential(conv, bn)
        else:
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)  # type: ignore[arg-type]
            self.out = nn.Sequential(conv)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """The aggregated context ``y`` ``[B, inter, H, W]`` (before ``W_z`` and the residual)."""
        b, _, h, w = x.shape
        theta = self.theta(x).flatten(2).transpose(1, 2)  # [B, HW, C']
        phi = self.pool(self.phi(x)).flatten(2)  # [B, C', N]
        g = self.pool(self.g(x)).flatten(2).transpose(1, 2)  # [B, N, C']
        attn = torch.softmax(torch.bmm(theta, phi), dim=-1)  # [B, HW, N]
        return torch.bmm(attn, g).transpose(1, 2).reshape(b, self.inter_channels, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.out(self.attention(x))

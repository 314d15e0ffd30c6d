"""DANet's position attention module (PAM) and channel attention module (CAM).

Paper: Fu, Liu, Tian, Li, Bao, Fang, Lu, "Dual Attention Network for Scene Segmentation", CVPR 2019,
https://arxiv.org/abs/1809.02983

PAM: ``s_ji = softmax_i(B_i . C_j)``, ``E_j = alpha sum_i s_ji D_i + A_j`` (B, C: 1x1 convs to C/8; D: to C).
CAM: ``x_ji = softmax_i(A_i . A_j)``, ``E_j = beta sum_i x_ji A_i + A_j`` (over channels, no projections).
``alpha`` and ``beta`` are learnable scalars initialised to 0.
"""

from __future__ import annotations

import torch
from torch import nn


class PositionAttention(nn.Module):
    """DANet's position attention module: self-attention over all positions with a learnable gate.

    Args:
        channels: input (= output) channels C.
        reduction: query/key width is C / reduction (8 in the paper).

    Shapes:
        x: ``[B, C, H, W]`` -> ``[B, C, H, W]``.
    """

    def __init__(self, channels: int, *, reduction: int = 8) -> None:
        super().__init__()
        if channels < 1 or reduction < 1:
            raise ValueError(f"channels ({channels}) and reduction ({reduction}) must be >= 1")
        qk = max(1, channels // reduction)
        self.query = nn.Conv2d(channels, qk, 1)
        self.key = nn.Conv2d(channels, qk, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)  # [B, HW, C']
        k = self.key(x).flatten(2)  # [B, C', HW]
        v = self.value(x).flatten(2)  # [B, C, HW]
        attn = torch.softmax(torch.bmm(q, k), dim=-1)  # [B, HW(query j), HW(key i)]
        out = torch.bmm(v, attn.transpose(1, 2)).view(b, c, h, w)
        return self.gamma * out + x


class ChannelAttention(nn.Module):
    """DANet's channel attention module: attention between channel maps, no projections.

    Args:
        channels: input (= output) channels C.
        official_code: use the official code's logits ``max_k(e_jk) - e_ji`` (i.e. a softmax of the *negated*
            Gram matrix) instead of the paper's ``softmax_i(A_i . A_j)``.

    Shapes:
        x: ``[B, C, H, W]`` -> ``[B, C, H, W]``.
    """

    def __init__(self, channels: int, *, official_code: bool = False) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.official_code = official_code
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        a = x.reshape(b, c, h * w)  # [B, C, HW]
        energy = torch.bmm(a, a.transpose(1, 2))  # [B, C, C]
        if self.official_code:
            energy = energy.amax(dim=-1, keepdim=True) - energy
        attn = torch.softmax(energy, dim=-1)
        out = torch.bmm(attn, a).view(b, c, h, w)
        return self.gamma * out + x


class DualAttention(nn.Module):
    """PAM and CAM in parallel, fused by element-wise sum as in DANet's head.

    The per-branch 3x3 convolutions of DANet's segmentation head are left to the model that uses this block.

    Shapes:
        x: ``[B, C, H, W]`` -> ``[B, C, H, W]`` (``PAM(x) + CAM(x)``, i.e. ``2x`` at initialisation).
    """

    def __init__(self, channels: int, *, reduction: int = 8, official_code: bool = False) -> None:
        super().__init__()
        self.pam = PositionAttention(channels, reduction=reduction)
        self.cam = ChannelAttention(channels, official_code=official_code)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pam(x) + self.cam(x)

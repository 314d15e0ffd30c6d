"""Criss-cross attention and its recurrent form (RCCA).

Paper: Huang, Wang, Huang, Huang, Wei, Liu, "CCNet: Criss-Cross Attention for Semantic Segmentation",
ICCV 2019 / TPAMI 2020, https://arxiv.org/abs/1811.11721

Each pixel u attends over the H + W - 1 positions of its row and column (itself counted once):
``A_u = softmax(Q_u . K_{Omega_u})``, ``H'_u = gamma sum_{i in Omega_u} A_{i,u} V_i + H_u``.
R recurrent loops with shared weights give every pixel context from the whole image (R = 2).

Layout as the original CUDA kernel: logits ``[B, H, W, H + W]``, the column branch first (``H`` entries, the
pixel's own entry set to ``-inf``), then the row branch (``W`` entries, including the pixel). Pure PyTorch
(einsum), so it runs on CPU and GPU.
"""

from __future__ import annotations

import torch
from torch import nn


def criss_cross_weights(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Softmax-normalised criss-cross attention ``[B, H, W, H + W]`` (column part first, then row part).

    Args:
        q: queries ``[B, C', H, W]``.
        k: keys ``[B, C', H, W]``.
    """
    h = q.shape[2]
    col = torch.einsum("bchw,bcgw->bhwg", q, k)  # [B, H, W, H]: pixel (h, w) with (g, w)
    row = torch.einsum("bchw,bchg->bhwg", q, k)  # [B, H, W, W]: pixel (h, w) with (h, g)
    # the pixel itself is on both its column and its row: count it once (in the row part)
    self_mask = torch.eye(h, dtype=torch.bool, device=q.device).view(1, h, 1, h)
    col = col.masked_fill(self_mask, float("-inf"))
    return torch.softmax(torch.cat([col, row], dim=-1), dim=-1)


def criss_cross_aggregate(weights: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``sum_i A_{i,u} V_i`` over the criss-cross of every pixel: ``[B, H, W, H + W]`` x ``[B, C, H, W]``."""
    h = v.shape[2]
    col, row = weights[..., :h], weights[..., h:]
    return torch.einsum("bhwg,bcgw->bchw", col, v) + torch.einsum("bhwg,bchg->bchw", row, v)


class CrissCrossAttention(nn.Module):
    """One criss-cross attention step (query/key 1x1 convs to C/reduction, value to C, gate gamma = 0).

    Args:
        channels: input (= output) channels C.
        reduction: query/key width is C / reduction (8 in the paper's code).

    Shapes:
        x: ``[B, C, H, W]`` -> ``[B, C, H, W]``. Cost: ``[B, H, W, H + W]`` weights.
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
        weights = criss_cross_weights(self.query(x), self.key(x))
        return self.gamma * criss_cross_aggregate(weights, self.value(x)) + x


class RecurrentCrissCross(nn.Module):
    """RCCA: the same criss-cross attention applied ``recurrence`` times (shared weights).

    Args:
        channels: input (= output) channels C.
        recurrence: loops R (2 gives every pixel full-image context).
        reduction: query/key width is C / reduction.

    Shapes:
        x: ``[B, C, H, W]`` -> ``[B, C, H, W]``.
    """

    def __init__(self, channels: int, *, recurrence: int = 2, reduction: int = 8) -> None:
        super().__init__()
        if recurrence < 1:
            raise ValueError(f"recurrence must be >= 1, got {recurrence}")
        self.recurrence = recurrence
        self.cca = CrissCrossAttention(channels, reduction=reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(self.recurrence):
            x = self.cca(x)
        return x

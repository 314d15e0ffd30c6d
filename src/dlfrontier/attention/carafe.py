"""CARAFE: content-aware reassembly of features (learned, content-dependent upsampling).

Paper: Wang, Chen, Xu, Liu, Loy, Lin, "CARAFE: Content-Aware ReAssembly of FEatures", ICCV 2019,
https://arxiv.org/abs/1905.02188

Kernel prediction: ``W = softmax(pixel_shuffle(conv_{k_enc}(conv_1x1(X))))`` (one k_up x k_up kernel per output
pixel and channel group); reassembly: ``X'_{l'} = sum_{n,m=-r..r} W_{l'}(n, m) X_{(i+n, j+m)}`` with
``l = (i, j) = (floor(i'/s), floor(j'/s))``, ``r = floor(k_up/2)`` and zero padding, exactly as mmcv's CUDA operator.
This is pure PyTorch (unfold + batched matmul), so it runs on CPU too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def reassemble(x: torch.Tensor, kernels: torch.Tensor, *, kernel_size: int, groups: int, scale: int) -> torch.Tensor:
    """Reassemble ``x`` with per-output-pixel kernels (the CARAFE operator).

    Args:
        x: features ``[B, C, H, W]``; C divisible by ``groups`` (channel c uses the kernels of group
            ``c // (C / groups)``).
        kernels: normalised kernels ``[B, groups * k * k, s*H, s*W]``; channel ``g*k*k + n*k + m`` is group g's
            weight of the source pixel at offset ``(n - r, m - r)``.
        kernel_size: k (odd).
        groups: channel groups sharing one kernel.
        scale: upsampling factor s.

    Returns:
        ``[B, C, s*H, s*W]``.
    """
    b, c, h, w = x.shape
    k2, n, cg = kernel_size * kernel_size, h * w, c // groups
    cols = F.unfold(x, kernel_size, padding=kernel_size // 2).view(b, groups, cg, k2, n)  # zero padded windows
    # one small matmul per source pixel: its [C/G, k*k] window times its [k*k, s*s] kernels (all s*s sub-pixels);
    # contiguous operands make this a single fast batched matmul (an einsum here is 2x slower on CPU)
    windows = cols.permute(0, 1, 4, 2, 3).reshape(b * groups * n, cg, k2)
    kern = kernels.view(b, groups, k2, h, scale, w, scale).permute(0, 1, 3, 5, 2, 4, 6)  # [B, G, H, W, k*k, s, s]
    out = torch.bmm(windows, kern.reshape(b * groups * n, k2, scale * scale))  # [B*G*H*W, C/G, s*s]
    out = out.view(b, groups, h, w, cg, scale, scale).permute(0, 1, 4, 2, 5, 3, 6)  # [B, G, C/G, H, s, W, s]
    return out.reshape(b, c, h * scale, w * scale)


class CARAFE(nn.Module):
    """CARAFE upsampler (mmcv's ``CARAFEPack``): compressor, content encoder, kernel normaliser, reassembly.

    Args:
        channels: input (= output) channels C.
        scale: upsampling factor s.
        k_up: reassembly kernel size (5 in the paper).
        k_enc: content encoder kernel size (3 in the paper).
        groups: channel groups sharing one predicted kernel.
        compressed_channels: width of the channel compressor (64 in the paper).

    Shapes:
        x: ``[B, C, H, W]`` -> ``[B, C, s*H, s*W]`` (this module changes the spatial size).
    """

    def __init__(
        self,
        channels: int,
        *,
        scale: int = 2,
        k_up: int = 5,
        k_enc: int = 3,
        groups: int = 1,
        compressed_channels: int = 64,
    ) -> None:
        super().__init__()
        if scale < 1 or k_up < 1 or k_up % 2 == 0 or k_enc < 1 or k_enc % 2 == 0:
            raise ValueError(f"need scale >= 1 and odd k_up, k_enc >= 1; got {scale}, {k_up}, {k_enc}")
        if groups < 1 or channels % groups != 0:
            raise ValueError(f"channels ({channels}) must be divisible by groups ({groups})")
        self.scale, self.k_up, self.groups = scale, k_up, groups
        self.compressor = nn.Conv2d(channels, compressed_channels, 1)
        self.encoder = nn.Conv2d(compressed_channels, groups * k_up * k_up * scale * scale, k_enc, padding=k_enc // 2)
        nn.init.normal_(self.encoder.weight, std=0.001)  # near-uniform kernels at the start, as in mmcv
        nn.init.zeros_(self.encoder.bias)  # type: ignore[arg-type]

    def kernels(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised reassembly kernels ``[B, groups * k_up^2, s*H, s*W]``."""
        logits = F.pixel_shuffle(self.encoder(self.compressor(x)), self.scale)  # [B, G*k*k, sH, sW]
        b, _, sh, sw = logits.shape
        k2 = self.k_up * self.k_up
        return torch.softmax(logits.view(b, self.groups, k2, sh, sw), dim=2).view(b, self.groups * k2, sh, sw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return reassemble(x, self.kernels(x), kernel_size=self.k_up, groups=self.groups, scale=self.scale)

"""OCNet's object context: the base object context block (base-OC) and the ASP-OC pyramid.

Paper: Yuan, Huang, Yang, Zhang, Chen, Wang, "OCNet: Object Context Network for Scene Parsing", 2018 (IJCV 2021),
https://arxiv.org/abs/1809.00916

Object context: ``c_p = sum_q softmax_q(f(x_p)^T f(x_q) / sqrt(d_k)) phi(x_q)`` followed by ``W`` (zero-initialised);
query and key share the transform ``f`` (1x1 conv + BN + ReLU). base-OC: ``conv1x1([c; x])``.
ASP-OC: concat of {3x3 conv -> object context, 1x1 conv, three dilated 3x3 convs} -> 1x1 conv.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def _conv_bn_relu(cin: int, cout: int, kernel: int = 1, dilation: int = 1) -> nn.Sequential:
    pad = dilation * (kernel // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ObjectContextAttention(nn.Module):
    """The self-attention of OCNet: the object context map ``[B, C_out, H, W]`` of every pixel.

    Args:
        channels: input channels C.
        key_channels: width of the shared query/key transform (default C/2).
        value_channels: width of the value transform (default C).
        out_channels: width of the zero-initialised output 1x1 conv W (default C).
    """

    def __init__(
        self,
        channels: int,
        *,
        key_channels: int | None = None,
        value_channels: int | None = None,
        out_channels: int | None = None,
    ) -> None:
        super().__init__()
        self.key_channels = max(1, channels // 2) if key_channels is None else key_channels
        self.value_channels = channels if value_channels is None else value_channels
        out_channels = channels if out_channels is None else out_channels
        if min(channels, self.key_channels, self.value_channels, out_channels) < 1:
            raise ValueError("channels, key_channels, value_channels and out_channels must be >= 1")
        self.key = _conv_bn_relu(channels, self.key_channels)  # also the query transform (shared, as in OCNet)
        self.value = nn.Conv2d(channels, self.value_channels, 1)
        self.out = nn.Conv2d(self.value_channels, out_channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        k = self.key(x).flatten(2)  # [B, Ck, HW]
        v = self.value(x).flatten(2).transpose(1, 2)  # [B, HW, Cv]
        sim = torch.softmax(torch.bmm(k.transpose(1, 2), k) * self.key_channels**-0.5, dim=-1)  # [B, HW, HW]
        context = torch.bmm(sim, v).transpose(1, 2).reshape(b, self.value_channels, h, w)
        return self.out(context)


class ObjectContext(nn.Module):
    """base-OC: object context concatenated with the input, fused by 1x1 conv + BN + ReLU (+ dropout).

    Args:
        channels: input (= output) channels C.
        key_channels: query/key width (default C/2).
        value_channels: value width (default C).
        dropout: Dropout2d after the fusion (0.05 in OCNet).

    Shapes:
        x: ``[B, C, H, W]`` -> ``[B, C, H, W]``.
    """

    def __init__(
        self,
        channels: int,
        *,
        key_channels: int | None = None,
        value_channels: int | None = None,
        dropout: float = 0.05,
    ) -> None:
        super().__init__()
        self.context = ObjectContextAttention(channels, key_channels=key_channels, value_channels=value_channels)
        self.fuse = nn.Sequential(_conv_bn_relu(2 * channels, channels), nn.Dropout2d(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([self.context(x), x], 1))


class ASPObjectContext(nn.Module):
    """ASP-OC: atrous spatial pyramid whose image-pooling branch is replaced by object context.

    Args:
        channels: input (= output) channels C.
        inner_channels: width of each of the five branches (default C).
        dilations: dilation rates of the three atrous branches ((12, 24, 36) at output stride 8 in OCNet;
            use smaller rates on small feature maps).
        dropout: Dropout2d after the fusion (0.1 in OCNet).

    Shapes:
        x: ``[B, C, H, W]`` -> ``[B, C, H, W]``.
    """

    def __init__(
        self,
        channels: int,
        *,
        inner_channels: int | None = None,
        dilations: Sequence[int] = (12, 24, 36),
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        inner = channels if inner_channels is None else inner_channels
        if channels < 1 or inner < 1 or any(d < 1 for d in dilations):
            raise ValueError("channels, inner_channels and dilations must be >= 1")
        self.context = nn.Sequential(_conv_bn_relu(channels, inner, 3), ObjectContext(inner, dropout=0.0))
        self.branches = nn.ModuleList(
            [_conv_bn_relu(channels, inner, 1)] + [_conv_bn_relu(channels, inner, 3, d) for d in dilations]
        )
        self.fuse = nn.Sequential(_conv_bn_relu((2 + len(dilations)) * inner, channels), nn.Dropout2d(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([self.context(x)] + [branch(x) for branch in self.branches], 1))

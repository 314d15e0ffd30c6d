"""Relation Network module: pairwise relations over a set of objects, summed, then reasoned over.

Paper: Santoro, Raposo, Barrett, Malinowski, Pascanu, Battaglia, Lillicrap, "A simple neural network module for
relational reasoning", NeurIPS 2017, https://arxiv.org/abs/1706.01427

``RN(O) = f_phi(sum_{i,j} g_theta(o_i, o_j, q))`` over all N^2 ordered pairs (including i = j, as in the paper).
"""

from __future__ import annotations

import torch
from torch import nn


def _mlp(sizes: list[int], *, last_relu: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_relu:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def feature_map_objects(x: torch.Tensor) -> torch.Tensor:
    """The paper's CNN objects: every cell of a feature map, tagged with its (row, col) coordinates in [-1, 1].

    Shapes:
        x: ``[B, C, H, W]`` -> ``[B, H*W, C + 2]``.
    """
    b, c, h, w = x.shape
    rows = torch.linspace(-1, 1, h, dtype=x.dtype, device=x.device).view(h, 1).expand(h, w)
    cols = torch.linspace(-1, 1, w, dtype=x.dtype, device=x.device).view(1, w).expand(h, w)
    coords = torch.stack([rows, cols]).expand(b, 2, h, w)
    return torch.cat([x, coords], 1).flatten(2).transpose(1, 2)


class RelationModule(nn.Module):
    """Relation Network: ``f(sum_{i,j} g([o_i; o_j; q]))``.

    The first layer of g is applied to each object once and the pair terms are added by broadcasting
    (``W [o_i; o_j; q] = W_a o_i + W_b o_j + W_c q``), which is the same function at O(N) instead of O(N^2)
    first-layer cost.

    Args:
        channels: object width D.
        hidden: width of g's and f's hidden layers (256 in the paper's CLEVR model).
        out_dim: output width (default ``hidden``).
        question_dim: width of the conditioning vector q (0: none).
        g_layers: linear layers of g (4 in the paper).
        f_layers: linear layers of f (the paper's f has 3, the last being the answer classifier).

    Shapes:
        objects: ``[B, N, D]`` (and question ``[B, question_dim]``) -> ``[B, out_dim]``.
    """

    def __init__(
        self,
        channels: int,
        *,
        hidden: int = 256,
        out_dim: int | None = None,
        question_dim: int = 0,
        g_layers: int = 4,
        f_layers: int = 2,
    ) -> None:
        super().__init__()
        if channels < 1 or hidden < 1 or g_layers < 1 or f_layers < 1 or question_dim < 0:
            raise ValueError("need channels, hidden, g_layers, f_layers >= 1 and question_dim >= 0")
        self.question_dim = question_dim
        self.g_first = nn.Linear(2 * channels + question_dim, hidden)
        self.g_rest = _mlp([hidden] * g_layers, last_relu=True)
        self.f = _mlp([hidden] * f_layers + [hidden if out_dim is None else out_dim], last_relu=False)

    def forward(self, objects: torch.Tensor, question: torch.Tensor | None = None) -> torch.Tensor:
        b, n, d = objects.shape
        if (question is None) != (self.question_dim == 0):
            raise ValueError(f"this module was built with question_dim={self.question_dim}; pass the question iff > 0")
        w = self.g_first.weight  # [hidden, 2D + Q]
        first = objects @ w[:, :d].T  # [B, N, hidden]: the o_i term
        second = objects @ w[:, d : 2 * d].T  # [B, N, hidden]: the o_j term
        bias: torch.Tensor = self.g_first.bias
        if question is not None:
            bias = bias + question @ w[:, 2 * d :].T  # [B, hidden]
            bias = bias.view(b, 1, 1, -1)
        pairs = torch.relu(first.unsqueeze(2) + second.unsqueeze(1) + bias)  # [B, N(i), N(j), hidden]
        return self.f(self.g_rest(pairs).sum(dim=(1, 2)))

"""EMANet's expectation-maximisation attention unit (EMAU).

Paper: Li, Zhong, Wu, Yang, Lin, Liu, "Expectation-Maximization Attention Networks for Semantic Segmentation",
ICCV 2019, https://arxiv.org/abs/1907.13426

E step: ``Z = softmax_k(X mu)`` (``[N, K]``); M step: ``mu_k = sum_n z_nk x_n / sum_n z_nk``, then L2-normalised.
After T iterations the features are reconstructed as ``X~ = Z mu^T`` (a low-rank approximation of X); the output
is ``relu(x + BN(conv1x1(relu(X~))))``. The initial bases mu^(0) (a buffer, not a parameter) are updated in
training by a moving average of the batch-mean final bases: ``mu0 <- a mu0 + (1 - a) mean_b(mu^(T))``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def em_step(x: torch.Tensor, mu: torch.Tensor, *, eps: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """One E and one M step.

    Args:
        x: features ``[B, C, N]``.
        mu: bases ``[B, C, K]``.
        eps: added to the responsibility sums (as in the official code).

    Returns:
        ``(z, mu)``: responsibilities ``[B, N, K]`` (E step with the old bases) and the new L2-normalised bases
        ``[B, C, K]`` (M step).
    """
    z = torch.softmax(torch.bmm(x.transpose(1, 2), mu), dim=2)  # [B, N, K]
    z_norm = z / (eps + z.sum(dim=1, keepdim=True))
    mu = F.normalize(torch.bmm(x, z_norm), dim=1, eps=eps)  # [B, C, K]
    return z, mu


class EMAttention(nn.Module):
    """EM attention unit.

    Args:
        channels: input (= output) channels C.
        num_bases: K (64 in the paper).
        iterations: EM iterations T in training (3 in the paper).
        momentum: moving-average factor a of the bases' update (0.9 in the official code).
        grad_through_em: back-propagate through the EM iterations. The official code runs them without
            gradients at all, so its input convolution receives no gradient; here the last iteration keeps the
            gradient through the responsibilities Z (the bases stay constants), with the same forward values.

    Shapes:
        x: ``[B, C, H, W]`` -> ``[B, C, H, W]``.
    """

    def __init__(
        self,
        channels: int,
        *,
        num_bases: int = 64,
        iterations: int = 3,
        momentum: float = 0.9,
        grad_through_em: bool = False,
    ) -> None:
        super().__init__()
        if channels < 1 or num_bases < 1 or iterations < 1 or not 0.0 <= momentum <= 1.0:
            raise ValueError("need channels, num_bases, iterations >= 1 and momentum in [0, 1]")
        self.iterations, self.momentum, self.grad_through_em = iterations, momentum, grad_through_em
        mu = torch.randn(1, channels, num_bases) * math.sqrt(2.0 / num_bases)
        self.mu: torch.Tensor
        self.register_buffer("mu", F.normalize(mu, dim=1))
        self.conv_in = nn.Conv2d(channels, channels, 1)
        self.conv_out = nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels))

    def em(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the T EM iterations on ``x`` ``[B, C, N]`` from the stored bases.

        Returns:
            ``(z, mu)``: the last E step's responsibilities ``[B, N, K]`` and the last M step's bases ``[B, C, K]``.
        """
        mu = self.mu.expand(x.shape[0], -1, -1).to(x.dtype, copy=True)  # the buffer is updated in place later
        with torch.set_grad_enabled(self.grad_through_em and torch.is_grad_enabled()):
            for _ in range(self.iterations - 1):
                _, mu = em_step(x, mu)
        z, mu = em_step(x, mu)  # the last iteration with gradients to x through z
        return z, (mu if self.grad_through_em else mu.detach())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        feats = self.conv_in(x).reshape(b, c, h * w)  # [B, C, N]
        z, mu = self.em(feats)
        if self.training:
            with torch.no_grad():
                self.mu.mul_(self.momentum).add_(mu.mean(0, keepdim=True).to(self.mu.dtype), alpha=1 - self.momentum)
        recon = torch.bmm(mu, z.transpose(1, 2)).view(b, c, h, w)  # [B, C, N] -> [B, C, H, W]
        return torch.relu(x + self.conv_out(torch.relu(recon)))

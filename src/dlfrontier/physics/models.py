"""The per-frame network: a small CNN from one frame to ``outputs`` numbers (a height, a position, presences)."""

from __future__ import annotations

import torch
from torch import nn


class FrameNet(nn.Module):
    """Three 3x3 convolutions (strides 1, 2, 2), a position-keeping flatten, a hidden layer, ``outputs`` numbers.

    ``pool="flatten"`` keeps positions (a height or a position is *where* the object is, which pooling would
    throw away); ``pool="max"`` takes each feature's maximum over the image (presence anywhere: the detectors).
    """

    def __init__(self, channels: int = 1, size: int = 32, width: int = 16, hidden: int = 64, outputs: int = 1,
                 pool: str = "flatten"):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
        )
        side = (size + 3) // 4
        if pool not in ("flatten", "max"):
            raise ValueError(f"pool {pool!r}: expected 'flatten' or 'max'")
        first = nn.Flatten() if pool == "flatten" else nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.head = nn.Sequential(first, nn.Linear(2 * width * (side * side if pool == "flatten" else 1), hidden),
                                  nn.ReLU(), nn.Linear(hidden, outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``[N, C, H, W]`` in ``[0, 1]`` -> ``[N, outputs]``."""
        return self.head(self.features(x))

    def sequences(self, frames: torch.Tensor) -> torch.Tensor:
        """``frames`` ``[B, T, C, H, W]`` -> the first output per frame, ``[B, T]``."""
        b, t = frames.shape[:2]
        return self(frames.flatten(0, 1))[:, 0].view(b, t)


class EvidenceDetectors(nn.Module):
    """Presence detectors that can only be switched on by something in the image (monotone in the evidence).

    The :class:`FrameNet` convolutions, each feature's maximum over the image (non-negative, after ReLU), and per
    detector a logit ``bias + softplus(w) . features``: non-negative weights, so a detector fires on a pattern's
    presence and can never fire on an absence ("nobody there", "Mario but no Peach"). Without this, the logical
    constraints alone are met by absence detectors as well as by the characters (see ``docs/physics.md``).
    """

    def __init__(self, channels: int = 3, width: int = 16, outputs: int = 2, bias: float = -2.0):
        super().__init__()
        self.features = FrameNet(channels, 16, width).features  # the convolutions only (any image size)
        self.weight = nn.Parameter(torch.randn(outputs, 2 * width) * 0.5 - 2.0)  # softplus(-2) ~ 0.13
        self.bias = nn.Parameter(torch.full((outputs,), bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``[N, C, H, W]`` in ``[0, 1]`` -> logits ``[N, outputs]``."""
        evidence = self.features(x).amax((-1, -2))  # [N, 2 * width], >= 0
        return evidence @ nn.functional.softplus(self.weight).T + self.bias

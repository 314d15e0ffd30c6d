"""Feature extractors for pixel and grid observations, as ``features`` factories for DQN and PPO.

Papers: Mnih et al., "Human-level control through deep reinforcement learning" (Nature 2015,
https://www.nature.com/articles/nature14236), whose network is :class:`NatureCNN`; Young and Tian, "MinAtar"
(2019, https://arxiv.org/abs/1903.03176), whose network is :class:`MinAtarCNN`.

Both take raw uint8 observations and do the float conversion themselves, so replay buffers and rollouts keep
frames as bytes (4x less memory and copying than float32).
"""

from __future__ import annotations

import gymnasium as gym
import torch
from torch import nn

from dlfrontier.rl.common.networks import FeaturesFactory


class NatureCNN(nn.Module):
    """Three convolutions (32 8x8/4, 64 4x4/2, 64 3x3/1) and a 512-unit layer, all ReLU; input scaled by 1/255.

    Shapes:
        input ``[B, C, H, W]`` uint8 frames (channel-first stacks, e.g. ``[B, 4, 84, 84]``); output ``[B, 512]``.
    """

    def __init__(self, obs_space: gym.Space, out_dim: int = 512) -> None:
        super().__init__()
        shape = obs_space.shape
        if shape is None or len(shape) != 3:
            raise TypeError(f"NatureCNN needs [C, H, W] image observations, got shape {shape}")
        c = shape[0]
        self.convs = nn.Sequential(
            nn.Conv2d(c, 32, 8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            n_flat = int(self.convs(torch.zeros(1, *shape)).shape[1])  # 3136 for 84x84
        self.fc = nn.Sequential(nn.Linear(n_flat, out_dim), nn.ReLU())
        self.out_dim = out_dim

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convs(obs.float() / 255.0))


class MinAtarCNN(nn.Module):
    """The MinAtar paper's network body: one 3x3 convolution of 16 channels (stride 1) and 128 hidden units.

    Shapes:
        input ``[B, 10, 10, C]`` 0/1 frames (channel-last, as MinAtar gives them); output ``[B, 128]``.
    """

    def __init__(self, obs_space: gym.Space, channels: int = 16, hidden: int = 128) -> None:
        super().__init__()
        shape = obs_space.shape
        if shape is None or len(shape) != 3:
            raise TypeError(f"MinAtarCNN needs [H, W, C] grid observations, got shape {shape}")
        h, w, c = shape
        self.conv = nn.Conv2d(c, channels, 3, stride=1)
        self.fc = nn.Linear(channels * (h - 2) * (w - 2), hidden)
        self.out_dim = hidden

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.permute(0, 3, 1, 2).float()  # [B, H, W, C] -> [B, C, H, W]
        x = torch.relu(self.conv(x)).flatten(1)
        return torch.relu(self.fc(x))


def nature_cnn() -> FeaturesFactory:
    """The features factory ``obs_space -> NatureCNN(obs_space)`` (e.g. ``DQN(env, features=nature_cnn())``)."""

    def make(obs_space: gym.Space) -> nn.Module:
        return NatureCNN(obs_space)

    return make


def minatar_cnn() -> FeaturesFactory:
    """The features factory ``obs_space -> MinAtarCNN(obs_space)``."""

    def make(obs_space: gym.Space) -> nn.Module:
        return MinAtarCNN(obs_space)

    return make

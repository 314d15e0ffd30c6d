"""Feature extractors for agents in the business environments.

:func:`portfolio_summary_features` builds the features factory of ``ppo-portfolio`` (the factory protocol of
:mod:`dlfrontier.rl.common.networks`: ``obs_space -> nn.Module`` with ``out_dim``).
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import torch
from torch import nn

from dlfrontier.rl.common.networks import mlp


class PortfolioSummaryFeatures(nn.Module):
    """An MLP on the last ``4 n + 1`` values of a Portfolio-v0 observation: per asset the window's mean, std and
    5-day std, and the current weights (``n`` assets and cash). The raw return window before them is dropped.

    Shapes:
        input ``[B, n * (window + 3) + n + 1]``; output ``[B, hidden[-1]]``.
    """

    def __init__(self, obs_space: gym.Space, n_assets: int, hidden: tuple[int, ...],
                 activation: str = "tanh") -> None:
        super().__init__()
        assert obs_space.shape is not None
        dim = int(obs_space.shape[0])
        keep = 4 * n_assets + 1
        if dim < keep:
            raise ValueError(f"observation of {dim} values is shorter than the {keep} summary values")
        self.start = dim - keep
        self.net = mlp(keep, hidden, None, activation)
        self.out_dim = hidden[-1]

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs[:, self.start :].float())


def portfolio_summary_features(n_assets: int, hidden: tuple[int, ...]) -> Callable[[gym.Space], nn.Module]:
    """A features factory that drops the raw return window of a Portfolio-v0 observation.

    Twenty noisy daily returns per asset are hard for a small policy to read at the quick budget, and it ends up
    churning the portfolio; the summary statistics and the weights (``4 n + 1`` values) are enough to learn when
    to leave risky assets.
    """

    def factory(obs_space: gym.Space) -> nn.Module:
        return PortfolioSummaryFeatures(obs_space, n_assets, tuple(hidden))

    return factory


__all__ = ["PortfolioSummaryFeatures", "portfolio_summary_features"]

"""The portfolio summary features read only the window statistics and the weights."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch

import dlfrontier.rl.envs  # noqa: F401  (registers the ids)
from dlfrontier.rl.envs.features import PortfolioSummaryFeatures, portfolio_summary_features


def test_shape_and_ignores_the_raw_window() -> None:
    env = gym.make("dlfrontier/Portfolio-v0").unwrapped
    n = env.n
    net = portfolio_summary_features(n, (16, 8))(env.observation_space)
    assert net.out_dim == 8
    obs, _ = env.reset(seed=0)
    x = torch.as_tensor(obs[None]).repeat(2, 1)
    x[1, : net.start] += 1.0  # change the raw return window only
    y = net(x)
    assert y.shape == (2, 8) and torch.allclose(y[0], y[1], atol=1e-6)
    assert x.shape[1] - net.start == 4 * n + 1


def test_too_short_observation_is_refused() -> None:
    with pytest.raises(ValueError, match="shorter"):
        PortfolioSummaryFeatures(gym.spaces.Box(-1, 1, (5,)), n_assets=3, hidden=(8,))

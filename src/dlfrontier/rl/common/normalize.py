"""Running observation normalization and reward scaling for on-policy methods (Stable-Baselines3's VecNormalize).

On MuJoCo locomotion PPO is usually trained on normalized observations and scaled rewards: rl-baselines3-zoo's
HalfCheetah/Hopper PPO settings say ``normalize: true`` and CleanRL's ``ppo_continuous_action.py`` wraps the env in
``NormalizeObservation`` and ``NormalizeReward`` (Huang et al. 2022, "The 37 Implementation Details of PPO",
details 5-9 of the continuous-action list). The semantics here are VecNormalize's:

- observations: ``clip((o - mean) / sqrt(var + eps), -clip, clip)`` with a running mean and variance over every
  observation the training envs produced (updated before the policy sees it); evaluation uses the stats frozen;
- rewards: divided by the running standard deviation of the discounted return ``G <- gamma * G + r`` (reset where
  an episode ends), then clipped; the return itself is not centred, so the sign of a reward is kept.

The statistics are module buffers, saved and loaded with the agent's checkpoint.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class RunningMeanStd(nn.Module):
    """Mean and (population) variance of every sample seen, merged batch by batch (Chan et al.'s parallel update).

    Shapes:
        ``update(x)``: ``x`` is ``[B, *shape]``; ``mean``, ``var``: ``[*shape]`` float64 buffers.
    """

    mean: torch.Tensor
    var: torch.Tensor
    count: torch.Tensor

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4) -> None:
        super().__init__()
        # count starts at a tiny epsilon (SB3's convention), so the first batch sets the stats almost exactly
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(float(epsilon), dtype=torch.float64))

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        b_mean, b_var, b_count = x.mean(axis=0), x.var(axis=0), x.shape[0]
        mean, var, count = self.mean.numpy(), self.var.numpy(), float(self.count)
        delta = b_mean - mean
        total = count + b_count
        new_mean = mean + delta * b_count / total
        m2 = var * count + b_var * b_count + delta ** 2 * count * b_count / total
        self.mean.copy_(torch.from_numpy(np.asarray(new_mean)))
        self.var.copy_(torch.from_numpy(np.asarray(m2 / total)))
        self.count.fill_(total)


class ObsNormalizer(RunningMeanStd):
    """``clip((o - mean) / sqrt(var + eps), -clip, clip)`` with running stats of the observations."""

    def __init__(self, shape: tuple[int, ...], clip: float = 10.0, eps: float = 1e-8) -> None:
        super().__init__(shape)
        self.clip, self.eps = float(clip), float(eps)

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        """``[B, *shape]`` (NumPy, any float dtype) -> the same shape as float32; the stats are not updated."""
        z = (np.asarray(obs, dtype=np.float64) - self.mean.numpy()) / np.sqrt(self.var.numpy() + self.eps)
        return np.clip(z, -self.clip, self.clip).astype(np.float32)


class RewardScaler(RunningMeanStd):
    """Rewards divided by the running std of the discounted return of each of ``n_envs`` envs, then clipped."""

    returns: torch.Tensor

    def __init__(self, n_envs: int, gamma: float, clip: float = 10.0, eps: float = 1e-8) -> None:
        super().__init__(())
        self.gamma, self.clip, self.eps = float(gamma), float(clip), float(eps)
        self.register_buffer("returns", torch.zeros(n_envs, dtype=torch.float64))

    def __call__(self, rewards: np.ndarray, done: np.ndarray) -> np.ndarray:  # type: ignore[override]
        """Scale one step's ``[N]`` rewards (updating the stats); ``done`` ``[N]`` resets those envs' returns."""
        g = self.returns.numpy() * self.gamma + np.asarray(rewards, dtype=np.float64)
        self.update(g)
        scaled = np.clip(np.asarray(rewards, dtype=np.float64) / np.sqrt(float(self.var) + self.eps),
                         -self.clip, self.clip)
        g[np.asarray(done, dtype=bool)] = 0.0
        self.returns.copy_(torch.from_numpy(g))
        return scaled.astype(np.float32)

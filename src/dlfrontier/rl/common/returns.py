"""Return and target math as small pure functions: n-step returns, TD and double-Q targets, GAE.

Papers: Sutton & Barto, "Reinforcement Learning: An Introduction" (2018, ch. 7, n-step returns);
van Hasselt et al., "Deep Reinforcement Learning with Double Q-learning" (2015, https://arxiv.org/abs/1509.06461);
Schulman et al., "High-Dimensional Continuous Control Using Generalized Advantage Estimation" (2015,
https://arxiv.org/abs/1506.02438).

Terminated versus truncated: an episode that *terminates* (the pole fell) has no future value; one that is
*truncated* (time limit) does, and its last transition bootstraps from the value of the final observation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def n_step_return(rewards: Sequence[float], terminated: Sequence[bool], gamma: float) -> tuple[float, float, bool]:
    """Discounted sum of up to ``n`` rewards, stopping at the first termination.

    Args:
        rewards: ``r_t, ..., r_{t+n-1}``.
        terminated: whether the episode terminated at each of those steps.
        gamma: discount factor.

    Returns:
        ``(G, discount, done)``: ``G = sum_k gamma^k r_{t+k}`` over the steps used, ``discount = gamma^k`` for
        the bootstrap term ``discount * V(s_{t+k})`` (``k`` = steps used) and ``done`` when a termination cut
        the sum (no bootstrap).
    """
    g, discount = 0.0, 1.0
    for r, term in zip(rewards, terminated, strict=True):
        g += discount * float(r)
        discount *= gamma
        if term:
            return g, discount, True
    return g, discount, False


def td_target(
    rewards: torch.Tensor, next_values: torch.Tensor, dones: torch.Tensor, discounts: torch.Tensor
) -> torch.Tensor:
    """One-step (or n-step, with ``discounts = gamma^n``) TD target ``r + discount * (1 - done) * V(s')``.

    Shapes:
        all inputs and the output: ``[B]``.
    """
    return rewards + discounts * (1.0 - dones) * next_values


def double_q_target(
    rewards: torch.Tensor,
    next_q_online: torch.Tensor,
    next_q_target: torch.Tensor,
    dones: torch.Tensor,
    discounts: torch.Tensor,
) -> torch.Tensor:
    """Double DQN target: the online net picks ``a* = argmax_a Q(s', a)``, the target net evaluates it.

    Shapes:
        rewards, dones, discounts: ``[B]``; next_q_online, next_q_target: ``[B, A]``; output ``[B]``.
    """
    best = next_q_online.argmax(dim=1, keepdim=True)  # [B, 1]
    return td_target(rewards, next_q_target.gather(1, best).squeeze(1), dones, discounts)


def gae(
    rewards: np.ndarray,
    values: np.ndarray,
    next_values: np.ndarray,
    terminated: np.ndarray,
    episode_end: np.ndarray,
    gamma: float,
    lam: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Generalized advantage estimation over a rollout of ``T`` steps from ``N`` envs.

    ``delta_t = r_t + gamma * (1 - terminated_t) * V(s_{t+1}) - V(s_t)`` and
    ``A_t = delta_t + gamma * lam * (1 - episode_end_t) * A_{t+1}``. ``next_values[t]`` is the value of the
    observation that followed step ``t``: for a truncated episode, the true final observation (not the reset
    one), so time limits bootstrap while terminations do not.

    Args:
        rewards, values, next_values: ``[T, N]`` floats.
        terminated: ``[T, N]``, the episode terminated at step t (no bootstrap).
        episode_end: ``[T, N]``, terminated or truncated at step t (the recursion stops).
        gamma: discount; lam: the GAE lambda (1 = Monte Carlo advantages, 0 = one-step TD errors).

    Returns:
        ``(advantages, returns)``, both ``[T, N]`` float32, ``returns = advantages + values``.
    """
    T = rewards.shape[0]
    not_term = 1.0 - terminated.astype(np.float32)
    not_end = 1.0 - episode_end.astype(np.float32)
    deltas = rewards + gamma * not_term * next_values - values  # [T, N]
    adv = np.zeros_like(deltas, dtype=np.float32)
    last = np.zeros(deltas.shape[1:], dtype=np.float32)
    for t in range(T - 1, -1, -1):
        last = deltas[t] + gamma * lam * not_end[t] * last
        adv[t] = last
    return adv, (adv + values).astype(np.float32)


def discounted_returns(rewards: np.ndarray, episode_end: np.ndarray, bootstrap: np.ndarray, gamma: float) -> np.ndarray:
    """Monte Carlo returns ``G_t = r_t + gamma * G_{t+1}``, restarting at episode ends (REINFORCE).

    Args:
        rewards: ``[T, N]``.
        episode_end: ``[T, N]``, the episode ended at step t.
        bootstrap: ``[N]``, the value used after the last step of an unfinished episode (0 for pure MC).
        gamma: discount.

    Returns:
        ``[T, N]`` float32 returns.
    """
    out = np.zeros_like(rewards, dtype=np.float32)
    running = bootstrap.astype(np.float32)
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + gamma * (1.0 - episode_end[t].astype(np.float32)) * running
        out[t] = running
    return out


def batch_mean(x: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """The mean over all of ``x`` (``dim=None``, a single agent's loss) or over ``dim`` only (``[K, B] -> [K]``: a
    population's per-member losses, :mod:`dlfrontier.rl.population`)."""
    return x.mean() if dim is None else x.mean(dim=dim)

"""On-policy rollouts from vectorized envs, shared by A2C and PPO.

Paper: Mnih et al., "Asynchronous Methods for Deep Reinforcement Learning" (2016,
https://arxiv.org/abs/1602.01783), whose synchronous variant (A2C) collects ``n_steps`` from ``n_envs``
parallel envs per update.

The collector keeps the envs' current observations between calls, so consecutive rollouts continue the
same episodes. Truncated episodes bootstrap from the value of the true final observation.
"""

from __future__ import annotations

from typing import NamedTuple

import gymnasium as gym
import numpy as np
import torch

from dlfrontier.rl.common.env import final_observations
from dlfrontier.rl.common.networks import ActorCritic
from dlfrontier.rl.common.normalize import ObsNormalizer, RewardScaler


class Rollout(NamedTuple):
    """``T`` steps from ``N`` envs (NumPy). Shapes: obs ``[T, N, *obs]``, actions ``[T, N, *act]``, rest ``[T, N]``."""

    obs: np.ndarray
    actions: np.ndarray
    log_probs: np.ndarray
    values: np.ndarray
    rewards: np.ndarray
    next_values: np.ndarray
    terminated: np.ndarray
    episode_end: np.ndarray


class RolloutCollector:
    """Collects fixed-length rollouts with an :class:`ActorCritic` from a vector env.

    Args:
        envs: a vector env with same-step autoreset (see :func:`dlfrontier.rl.common.env.make_vec_env`).
        policy: the actor-critic.
        seed: seeds the first reset.
        device: where the policy lives.
        obs_norm: if given, every observation updates its running stats and the policy sees (and the rollout
            stores) it normalized; ``reward_norm``: if given, the rollout's rewards are scaled by it (episode
            returns are still reported in the env's own reward).
    """

    def __init__(self, envs: gym.vector.VectorEnv, policy: ActorCritic, seed: int, device: torch.device,
                 obs_norm: ObsNormalizer | None = None, reward_norm: RewardScaler | None = None) -> None:
        self.envs, self.policy, self.device = envs, policy, device
        self.obs_norm, self.reward_norm = obs_norm, reward_norm
        self.seed = seed
        self.obs: np.ndarray | None = None
        self.ep_returns = np.zeros(envs.num_envs)
        self.finished: list[float] = []
        act_space = envs.single_action_space
        self.action_shape = act_space.shape if act_space.shape else ()
        self.action_dtype = np.int64 if isinstance(act_space, gym.spaces.Discrete) else np.float32

    def view(self, obs: np.ndarray) -> np.ndarray:
        """Observations as the policy sees them: normalized with the current (here frozen) stats, or as they are."""
        return self.obs_norm.normalize(obs) if self.obs_norm is not None else obs

    def reset(self, seed: int) -> None:
        self.obs, _ = self.envs.reset(seed=seed)
        self.ep_returns[:] = 0.0

    def collect(self, n_steps: int) -> Rollout:
        if self.obs is None:
            self.reset(self.seed)
        assert self.obs is not None
        N = self.envs.num_envs
        norm = self.obs_norm
        obs_buf = np.zeros((n_steps, *self.obs.shape), dtype=self.view(self.obs).dtype)
        act_buf = np.zeros((n_steps, N, *self.action_shape), dtype=self.action_dtype)
        logp = np.zeros((n_steps, N), dtype=np.float32)
        values = np.zeros((n_steps + 1, N), dtype=np.float32)
        rewards = np.zeros((n_steps, N), dtype=np.float32)
        term = np.zeros((n_steps, N), dtype=bool)
        ended = np.zeros((n_steps, N), dtype=bool)
        final_values: list[tuple[int, np.ndarray, np.ndarray]] = []
        obs = self.obs
        with torch.no_grad():
            for t in range(n_steps):
                if norm is not None:
                    norm.update(obs)
                seen = self.view(obs)
                obs_buf[t] = seen
                x = torch.as_tensor(seen, device=self.device)
                a, lp = self.policy.act(x)
                values[t] = self.policy.value(x).cpu().numpy()
                a_np = a.cpu().numpy()
                act_buf[t] = a_np
                logp[t] = lp.cpu().numpy()
                obs, r, te, tr, infos = self.envs.step(a_np)
                done = te | tr
                rewards[t] = self.reward_norm(r, done) if self.reward_norm is not None else r
                term[t] = te
                ended[t] = done
                self.ep_returns += r
                if done.any():
                    idx = np.flatnonzero(done)
                    self.finished.extend(self.ep_returns[idx].tolist())
                    self.ep_returns[idx] = 0.0
                    trunc_idx = np.flatnonzero(tr & ~te)
                    if trunc_idx.size:  # bootstrap time-limit ends from the true final observation
                        fin = final_observations(obs, done, infos)[trunc_idx]
                        fin = self.view(fin)
                        v = self.policy.value(torch.as_tensor(fin, device=self.device)).cpu().numpy()
                        final_values.append((t, trunc_idx, v))
            last = self.view(obs)  # (its stats update comes with the next step)
            values[n_steps] = self.policy.value(torch.as_tensor(last, device=self.device)).cpu().numpy()
        self.obs = obs
        next_values = values[1:].copy()
        for t, idx, v in final_values:
            next_values[t, idx] = v
        # a terminated step's next value is masked by the target; a reset obs' value must not leak in either
        return Rollout(obs_buf, act_buf, logp, values[:-1], rewards, next_values, term, ended)

"""REINFORCE: Monte Carlo policy gradient with a learned state-value baseline.

Paper: Williams, "Simple Statistical Gradient-Following Algorithms for Connectionist Reinforcement Learning"
(Machine Learning 1992, https://doi.org/10.1007/BF00992696); the baseline as in Sutton & Barto,
"Reinforcement Learning: An Introduction" (2018, section 13.4).

Each update uses ``episodes_per_update`` complete episodes from one env: ``G_t`` are their discounted
returns, the advantage is ``G_t - V(s_t)``, and the baseline ``V`` is regressed on ``G_t``. A time-limit
truncation ends the return there (pure Monte Carlo, no bootstrap).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from dlfrontier.rl.common.algorithm import Algorithm, Callback, check_off_or_positive, register_algorithm
from dlfrontier.rl.common.env import make_env
from dlfrontier.rl.common.networks import Activation, ActorCritic, adam, mlp_features
from dlfrontier.rl.common.returns import discounted_returns


@dataclass
class REINFORCEConfig:
    """REINFORCE options (Adam; settings chosen for CartPole-v1 by us, see docs/rl.md)."""

    learning_rate: float = field(default=1e-3, metadata={"help": "Adam learning rate", "range": "(0, inf)"})
    episodes_per_update: int = field(default=4, metadata={
        "help": "complete episodes per gradient step", "range": "[1, inf)"})
    gamma: float = field(default=0.99, metadata={"help": "discount factor", "range": "(0, 1]"})
    vf_coef: float = field(default=0.5, metadata={"help": "baseline (value) loss coefficient", "range": "[0, inf)"})
    ent_coef: float = field(default=0.0, metadata={"help": "entropy bonus coefficient", "range": "[0, inf)"})
    normalize_advantage: bool = field(default=True, metadata={"help": "normalize advantages per update"})
    max_grad_norm: float | None = field(default=0.5, metadata={
        "help": "gradient clipping norm (None = off)", "range": "(0, inf)"})
    hidden: tuple[int, ...] = field(default=(64, 64), metadata={"help": "MLP hidden widths", "range": "[1, inf)"})
    activation: Activation = field(default="tanh", metadata={"help": "MLP activation"})
    log_std_init: float = field(default=0.0, metadata={"help": "initial log std of a Gaussian policy"})

    def __post_init__(self) -> None:
        check_off_or_positive(self, "max_grad_norm")


def reinforce_loss(
    log_probs: torch.Tensor, values: torch.Tensor, returns: torch.Tensor, *, normalize: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Policy loss ``-mean(logp * (G - V))`` (``V`` detached) and baseline loss ``mean((V - G)^2)``.

    Shapes:
        all inputs ``[B]``.
    """
    adv = returns - values.detach()
    if normalize and adv.numel() > 1:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    return -(log_probs * adv).mean(), (values - returns).pow(2).mean()


@register_algorithm
class REINFORCE(Algorithm):
    """Monte Carlo policy gradient with a baseline, for Discrete and Box action spaces."""

    name = "REINFORCE"
    config_cls = REINFORCEConfig
    action_spaces = (gym.spaces.Discrete, gym.spaces.Box)
    config: REINFORCEConfig

    def _setup(self) -> None:
        c = self.config
        features = self.features or mlp_features(c.hidden, c.activation)
        self.policy = ActorCritic(self.observation_space, self.action_space, features, c.log_std_init).to(self.device)
        self.optimizer = adam(self.policy.parameters(), lr=c.learning_rate)
        self.env = make_env(self._env_arg, clip_actions=True)
        self._reset_seed: int | None = self.seed

    def _modules(self) -> dict[str, Any]:
        return {"policy": self.policy, "optimizer": self.optimizer}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self._reset_seed = self.seed + self.num_steps

    def _act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        return self.policy.mode(obs) if deterministic else self.policy.act(obs)[0]

    def _episode(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One complete episode: observations ``[T, *obs]``, actions ``[T, *act]``, rewards ``[T]``."""
        obs, _ = self.env.reset(seed=self._reset_seed)
        self._reset_seed = None
        observations, actions, rewards = [], [], []
        done = False
        with torch.no_grad():
            while not done:
                a = self.policy.act(torch.as_tensor(obs, device=self.device).unsqueeze(0))[0][0].cpu().numpy()
                next_obs, r, terminated, truncated, _ = self.env.step(a)
                observations.append(obs)
                actions.append(a)
                rewards.append(float(r))
                obs, done = next_obs, terminated or truncated
        return np.asarray(observations), np.asarray(actions), np.asarray(rewards, dtype=np.float32)

    def _learn(self, total_steps: int, callback: Callback | None, callback_every: int) -> None:
        c = self.config
        end = self.num_steps + total_steps
        next_callback = (self.num_steps // callback_every + 1) * callback_every if callback_every > 0 else None
        params = list(self.policy.parameters())
        while self.num_steps < end:
            obs_l, act_l, ret_l = [], [], []
            for _ in range(c.episodes_per_update):
                o, a, r = self._episode()
                ended = np.zeros((len(r), 1), dtype=bool)
                ended[-1] = True
                ret_l.append(discounted_returns(r[:, None], ended, np.zeros(1), c.gamma)[:, 0])
                obs_l.append(o)
                act_l.append(a)
                self.episode_returns.append(float(r.sum()))
                self.num_steps += len(r)
            self._on_steps()
            obs = torch.as_tensor(np.concatenate(obs_l), device=self.device)
            actions = torch.as_tensor(np.concatenate(act_l), device=self.device)
            returns = torch.as_tensor(np.concatenate(ret_l), device=self.device)
            logp, entropy = self.policy.log_prob_entropy(obs, actions)
            pg, vl = reinforce_loss(logp, self.policy.value(obs), returns, normalize=c.normalize_advantage)
            loss = pg + c.vf_coef * vl - c.ent_coef * entropy.mean()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if c.max_grad_norm is not None:
                nn.utils.clip_grad_norm_(params, c.max_grad_norm)
            self.optimizer.step()
            self.num_updates += 1
            self.stats.update({"train/policy_loss": float(pg.detach()), "train/value_loss": float(vl.detach()),
                               "train/entropy": float(entropy.detach().mean())})
            if next_callback is not None and callback is not None and self.num_steps >= next_callback:
                callback(self)
                next_callback = (self.num_steps // callback_every + 1) * callback_every

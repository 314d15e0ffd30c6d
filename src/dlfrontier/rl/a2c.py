"""A2C: synchronous advantage actor-critic on vectorized envs.

Paper: Mnih et al., "Asynchronous Methods for Deep Reinforcement Learning" (2016,
https://arxiv.org/abs/1602.01783); the synchronous, batched variant as in OpenAI Baselines and
Stable-Baselines3 (one gradient step per ``n_envs x n_steps`` rollout, RMSprop).

Read top to bottom: the config, the loss (a pure function), the agent and its training loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import torch
from torch import nn

from dlfrontier.rl.common.algorithm import Algorithm, Callback, check_off_or_positive, register_algorithm
from dlfrontier.rl.common.env import make_vec_env
from dlfrontier.rl.common.networks import Activation, ActorCritic, mlp_features
from dlfrontier.rl.common.returns import batch_mean, gae
from dlfrontier.rl.common.rollout import RolloutCollector


@dataclass
class A2CConfig:
    """A2C options. Defaults are Stable-Baselines3's A2C defaults (RMSprop 7e-4, 5 steps, no GAE)."""

    learning_rate: float = field(default=7e-4, metadata={"help": "RMSprop learning rate", "range": "(0, inf)"})
    n_envs: int = field(default=8, metadata={"help": "parallel envs (gymnasium SyncVectorEnv)", "range": "[1, inf)"})
    n_steps: int = field(default=5, metadata={"help": "steps per env per update", "range": "[1, inf)"})
    gamma: float = field(default=0.99, metadata={"help": "discount factor", "range": "(0, 1]"})
    gae_lambda: float = field(default=1.0, metadata={"help": "GAE lambda (1 = n-step returns)", "range": "[0, 1]"})
    ent_coef: float = field(default=0.0, metadata={"help": "entropy bonus coefficient", "range": "[0, inf)"})
    vf_coef: float = field(default=0.5, metadata={"help": "value loss coefficient", "range": "[0, inf)"})
    max_grad_norm: float | None = field(default=0.5, metadata={
        "help": "gradient clipping norm (None = off)", "range": "(0, inf)"})
    normalize_advantage: bool = field(default=False, metadata={"help": "normalize advantages per update"})
    hidden: tuple[int, ...] = field(default=(64, 64), metadata={
        "help": "MLP hidden widths (actor and critic)", "range": "[1, inf)"})
    activation: Activation = field(default="tanh", metadata={"help": "MLP activation"})
    log_std_init: float = field(default=0.0, metadata={"help": "initial log std of a Gaussian policy"})

    def __post_init__(self) -> None:
        check_off_or_positive(self, "max_grad_norm")


def a2c_loss(
    log_probs: torch.Tensor, entropy: torch.Tensor, values: torch.Tensor, advantages: torch.Tensor,
    returns: torch.Tensor, *, vf_coef: float, ent_coef: float, dim: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``-mean(logp * A) + vf_coef * mean((V - R)^2) - ent_coef * mean(H)``.

    Shapes:
        all inputs ``[B]``. Returns ``(loss, policy_loss, value_loss)`` (``dim``: means over that dim only, e.g.
        ``[K, B] -> [K]`` for a population).
    """
    pg = -batch_mean(log_probs * advantages, dim)
    vl = batch_mean((values - returns).pow(2), dim)
    return pg + vf_coef * vl - ent_coef * batch_mean(entropy, dim), pg, vl


@register_algorithm
class A2C(Algorithm):
    """Advantage actor-critic for Discrete and Box action spaces."""

    name = "A2C"
    config_cls = A2CConfig
    action_spaces = (gym.spaces.Discrete, gym.spaces.Box)
    config: A2CConfig

    def _setup(self) -> None:
        c = self.config
        features = self.features or mlp_features(c.hidden, c.activation)
        self.policy = ActorCritic(self.observation_space, self.action_space, features, c.log_std_init).to(self.device)
        self.optimizer = torch.optim.RMSprop(self.policy.parameters(), lr=c.learning_rate, alpha=0.99, eps=1e-5)
        self.envs = make_vec_env(self._env_arg, c.n_envs, clip_actions=True)
        self.collector = RolloutCollector(self.envs, self.policy, self.seed, self.device)

    def _modules(self) -> dict[str, Any]:
        return {"policy": self.policy, "optimizer": self.optimizer}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.collector.seed = self.seed + self.num_steps

    def _act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        return self.policy.mode(obs) if deterministic else self.policy.act(obs)[0]

    def _learn(self, total_steps: int, callback: Callback | None, callback_every: int) -> None:
        c = self.config
        end = self.num_steps + total_steps
        next_callback = (self.num_steps // callback_every + 1) * callback_every if callback_every > 0 else None
        params = list(self.policy.parameters())
        log_every, stats, count = 100, torch.zeros(3), 0
        while self.num_steps < end:
            ro = self.collector.collect(c.n_steps)
            self.num_steps += c.n_envs * c.n_steps
            self._on_steps()
            self.episode_returns.extend(self.collector.finished)
            self.collector.finished.clear()
            adv_np, ret_np = gae(
                ro.rewards, ro.values, ro.next_values, ro.terminated, ro.episode_end, c.gamma, c.gae_lambda
            )
            obs = torch.as_tensor(ro.obs.reshape(-1, *ro.obs.shape[2:]), device=self.device)  # [T*N, *obs]
            actions = torch.as_tensor(ro.actions.reshape(-1, *ro.actions.shape[2:]), device=self.device)
            adv = torch.as_tensor(adv_np.reshape(-1), device=self.device)
            ret = torch.as_tensor(ret_np.reshape(-1), device=self.device)
            if c.normalize_advantage:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            logp, entropy = self.policy.log_prob_entropy(obs, actions)
            values = self.policy.value(obs)
            loss, pg, vl = a2c_loss(logp, entropy, values, adv, ret, vf_coef=c.vf_coef, ent_coef=c.ent_coef)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if c.max_grad_norm is not None:
                nn.utils.clip_grad_norm_(params, c.max_grad_norm)
            self.optimizer.step()
            self.num_updates += 1
            stats += torch.stack([pg.detach(), vl.detach(), entropy.mean().detach()])
            count += 1
            if count == log_every or self.num_steps >= end or (next_callback and self.num_steps >= next_callback):
                s = (stats / count).tolist()
                self.stats.update({"train/policy_loss": s[0], "train/value_loss": s[1], "train/entropy": s[2]})
                stats.zero_()
                count = 0
            if next_callback is not None and callback is not None and self.num_steps >= next_callback:
                callback(self)
                next_callback = (self.num_steps // callback_every + 1) * callback_every

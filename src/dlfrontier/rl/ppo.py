"""PPO: proximal policy optimization with the clipped surrogate objective and GAE, on vectorized envs.

Papers: Schulman et al., "Proximal Policy Optimization Algorithms" (2017, https://arxiv.org/abs/1707.06347);
Schulman et al., "High-Dimensional Continuous Control Using Generalized Advantage Estimation" (2015,
https://arxiv.org/abs/1506.02438); implementation details as catalogued by Huang et al., "The 37
Implementation Details of Proximal Policy Optimization" (ICLR blog track 2022,
https://iclr-blog-track.github.io/2022/03/25/ppo-implementation-details/).

Read top to bottom: the config, the losses (pure functions), the agent and its training loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from dlfrontier.errors import ConfigError
from dlfrontier.rl.common.algorithm import Algorithm, Callback, check_off_or_positive, register_algorithm
from dlfrontier.rl.common.env import make_vec_env
from dlfrontier.rl.common.networks import Activation, ActorCritic, adam, mlp_features
from dlfrontier.rl.common.normalize import ObsNormalizer, RewardScaler
from dlfrontier.rl.common.returns import batch_mean, gae
from dlfrontier.rl.common.rollout import RolloutCollector


@dataclass
class PPOConfig:
    """PPO options. Defaults are Stable-Baselines3's PPO defaults (lr 3e-4, 2048 steps, 10 epochs of 64)."""

    learning_rate: float = field(default=3e-4, metadata={"help": "Adam learning rate", "range": "(0, inf)"})
    n_envs: int = field(default=1, metadata={"help": "parallel envs (gymnasium SyncVectorEnv)", "range": "[1, inf)"})
    n_steps: int = field(default=2048, metadata={"help": "steps per env per rollout", "range": "[1, inf)"})
    batch_size: int = field(default=64, metadata={"help": "minibatch size", "range": "[1, inf)"})
    n_epochs: int = field(default=10, metadata={"help": "optimization epochs per rollout", "range": "[1, inf)"})
    gamma: float = field(default=0.99, metadata={"help": "discount factor", "range": "(0, 1]"})
    gae_lambda: float = field(default=0.95, metadata={"help": "GAE lambda", "range": "[0, 1]"})
    clip_range: float = field(default=0.2, metadata={"help": "policy ratio clip epsilon", "range": "(0, inf)"})
    clip_range_vf: float | None = field(default=None, metadata={
        "help": "value clipping range (None = off)", "range": "(0, inf)"})
    normalize_advantage: bool = field(default=True, metadata={"help": "normalize advantages per minibatch"})
    ent_coef: float = field(default=0.0, metadata={"help": "entropy bonus coefficient", "range": "[0, inf)"})
    vf_coef: float = field(default=0.5, metadata={"help": "value loss coefficient", "range": "[0, inf)"})
    max_grad_norm: float | None = field(default=0.5, metadata={
        "help": "gradient clipping norm (None = off)", "range": "(0, inf)"})
    target_kl: float | None = field(default=None, metadata={
        "help": "stop the epochs early above 1.5x this KL (None = off)", "range": "(0, inf)"})
    anneal: bool = field(default=False, metadata={"help": "anneal learning rate and clip range linearly to 0"})
    hidden: tuple[int, ...] = field(default=(64, 64), metadata={
        "help": "MLP hidden widths (actor and critic)", "range": "[1, inf)"})
    activation: Activation = field(default="tanh", metadata={"help": "MLP activation"})
    log_std_init: float = field(default=0.0, metadata={"help": "initial log std of a Gaussian policy"})
    share_features: bool = field(default=False, metadata={"help": "one feature extractor for actor and critic"})
    normalize_obs: bool = field(default=False, metadata={
        "help": "running mean/std observation normalization, clipped (SB3 VecNormalize; frozen when evaluating)"})
    normalize_reward: bool = field(default=False, metadata={
        "help": "scale rewards by the running std of the discounted return, clipped (SB3 VecNormalize)"})
    norm_clip: float = field(default=10.0, metadata={
        "help": "clip of normalized observations and scaled rewards", "range": "(0, inf)"})

    def __post_init__(self) -> None:
        check_off_or_positive(self, "clip_range_vf", "max_grad_norm", "target_kl")


def ppo_clip_loss(
    log_probs: torch.Tensor, old_log_probs: torch.Tensor, advantages: torch.Tensor, clip: float,
    dim: int | None = None,
) -> torch.Tensor:
    """The clipped surrogate ``-mean(min(rho * A, clip(rho, 1-eps, 1+eps) * A))``, ``rho = pi/pi_old``.

    Shapes:
        all inputs ``[B]``; output a scalar (``dim``: the mean over that dim only, e.g. ``[K, B] -> [K]``).
    """
    ratio = torch.exp(log_probs - old_log_probs)
    return -batch_mean(torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages), dim)


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
               clip: float | None, dim: int | None = None) -> torch.Tensor:
    """``0.5 * mean((V - R)^2)``; with a ``clip`` range the pessimistic max of clipped and unclipped errors
    (``dim``: the mean over that dim only)."""
    err = (values - returns).pow(2)
    if clip is not None:
        clipped = old_values + (values - old_values).clamp(-clip, clip)
        err = torch.max(err, (clipped - returns).pow(2))
    return 0.5 * batch_mean(err, dim)


@register_algorithm
class PPO(Algorithm):
    """Proximal Policy Optimization for Discrete and Box action spaces.

    Example::

        agent = PPO("CartPole-v1", n_envs=8, n_steps=32, batch_size=256).learn(100_000)
    """

    name = "PPO"
    config_cls = PPOConfig
    action_spaces = (gym.spaces.Discrete, gym.spaces.Box)
    config: PPOConfig

    def _setup(self) -> None:
        c = self.config
        features = self.features or mlp_features(c.hidden, c.activation)
        self.policy = ActorCritic(self.observation_space, self.action_space, features, c.log_std_init,
                                  c.share_features).to(self.device)
        self.optimizer = adam(self.policy.parameters(), lr=c.learning_rate, eps=1e-5)
        self.envs = make_vec_env(self._env_arg, c.n_envs, clip_actions=True)
        shape = tuple(self.observation_space.shape or ())
        if c.normalize_obs and not isinstance(self.observation_space, gym.spaces.Box):
            raise ConfigError("normalize_obs needs a Box observation space; set normalize_obs=False")
        self.obs_norm = ObsNormalizer(shape, c.norm_clip) if c.normalize_obs else None
        self.reward_norm = RewardScaler(c.n_envs, c.gamma, c.norm_clip) if c.normalize_reward else None
        self.collector = RolloutCollector(self.envs, self.policy, self.seed, self.device, self.obs_norm,
                                          self.reward_norm)
        self._total_planned = 0

    def _modules(self) -> dict[str, Any]:
        out: dict[str, Any] = {"policy": self.policy, "optimizer": self.optimizer}
        if self.obs_norm is not None:
            out["obs_norm"] = self.obs_norm
        if self.reward_norm is not None:
            out["reward_norm"] = self.reward_norm
        return out

    def _extra_state(self) -> dict[str, Any]:
        return {"total_planned": self._total_planned}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self._total_planned = int(state.get("total_planned", 0))
        self.collector.seed = self.seed + self.num_steps  # resumed runs restart their episodes

    def _act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        if self.obs_norm is not None:  # the training stats, frozen
            obs = torch.as_tensor(self.collector.view(obs.cpu().numpy()), device=obs.device)
        return self.policy.mode(obs) if deterministic else self.policy.act(obs)[0]

    def _update(self, obs: torch.Tensor, actions: torch.Tensor, old_logp: torch.Tensor, old_values: torch.Tensor,
                advantages: torch.Tensor, returns: torch.Tensor, clip: float) -> None:
        c = self.config
        n = obs.shape[0]
        stats = torch.zeros(5)
        count = 0
        params = list(self.policy.parameters())
        for _ in range(c.n_epochs):
            perm = torch.from_numpy(self.rng.permutation(n))
            stop = False
            for start in range(0, n, c.batch_size):
                mb = perm[start : start + c.batch_size]
                logp, entropy, values = self.policy.evaluate_actions(obs[mb], actions[mb])
                adv = advantages[mb]
                if c.normalize_advantage and len(mb) > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                pg = ppo_clip_loss(logp, old_logp[mb], adv, clip)
                vl = value_loss(values, old_values[mb], returns[mb], c.clip_range_vf)
                ent = entropy.mean()
                loss = pg + c.vf_coef * vl - c.ent_coef * ent
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if c.max_grad_norm is not None:
                    nn.utils.clip_grad_norm_(params, c.max_grad_norm)
                self.optimizer.step()
                self.num_updates += 1
                with torch.no_grad():
                    log_ratio = logp - old_logp[mb]
                    approx_kl = ((log_ratio.exp() - 1) - log_ratio).mean()  # the low-variance k3 estimator
                    clipfrac = ((log_ratio.exp() - 1).abs() > clip).float().mean()
                    stats += torch.stack([pg.detach(), vl.detach(), ent.detach(), approx_kl, clipfrac])
                count += 1
                if c.target_kl is not None and approx_kl > 1.5 * c.target_kl:
                    stop = True
                    break
            if stop:
                break
        s = (stats / max(count, 1)).tolist()
        self.stats.update({"train/policy_loss": s[0], "train/value_loss": s[1], "train/entropy": s[2],
                           "train/approx_kl": s[3], "train/clip_fraction": s[4]})

    def _learn(self, total_steps: int, callback: Callback | None, callback_every: int) -> None:
        c = self.config
        end = self.num_steps + total_steps
        self._total_planned = max(self._total_planned, end)
        per_rollout = c.n_envs * c.n_steps
        next_callback = (self.num_steps // callback_every + 1) * callback_every if callback_every > 0 else None
        while self.num_steps < end:
            frac = 1.0 - self.num_steps / self._total_planned if c.anneal else 1.0
            for group in self.optimizer.param_groups:
                group["lr"] = c.learning_rate * frac
            ro = self.collector.collect(c.n_steps)
            self.num_steps += per_rollout
            self._on_steps()
            self.episode_returns.extend(self.collector.finished)
            self.collector.finished.clear()
            adv, ret = gae(ro.rewards, ro.values, ro.next_values, ro.terminated, ro.episode_end, c.gamma, c.gae_lambda)

            def flat(x: np.ndarray) -> torch.Tensor:  # [T, N, ...] -> [T*N, ...]
                return torch.as_tensor(x.reshape(-1, *x.shape[2:]), device=self.device)

            self._update(flat(ro.obs), flat(ro.actions), flat(ro.log_probs), flat(ro.values), flat(adv), flat(ret),
                         c.clip_range * frac)
            var_y = float(np.var(ret))
            explained = float("nan") if var_y == 0 else 1 - float(np.var(ret - ro.values)) / var_y
            self.stats["train/explained_variance"] = explained
            if next_callback is not None and callback is not None and self.num_steps >= next_callback:
                callback(self)
                next_callback = (self.num_steps // callback_every + 1) * callback_every

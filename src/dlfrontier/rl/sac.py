"""SAC: soft actor-critic with twin critics, target critics and automatic temperature tuning.

Papers: Haarnoja et al., "Soft Actor-Critic: Off-Policy Maximum Entropy Deep RL with a Stochastic Actor"
(2018, https://arxiv.org/abs/1801.01290) and "Soft Actor-Critic Algorithms and Applications" (2018,
https://arxiv.org/abs/1812.05905, the learned temperature ``alpha`` with target entropy ``-dim(A)``).

Read top to bottom: the config, the losses (pure functions), the agent and its training loop.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from dlfrontier.rl.common.algorithm import Algorithm, Callback, register_algorithm
from dlfrontier.rl.common.buffers import NStepAdder, ReplayBuffer
from dlfrontier.rl.common.env import make_env
from dlfrontier.rl.common.networks import SquashedGaussianActor, TwinQ, adam, mlp_features
from dlfrontier.rl.common.returns import batch_mean


@dataclass
class SACConfig:
    """SAC options. Defaults are Stable-Baselines3's SAC defaults with rl-zoo's Pendulum learning rate 1e-3."""

    learning_rate: float = field(default=1e-3, metadata={
        "help": "Adam learning rate (actor, alpha; the critics too unless critic_learning_rate)", "range": "(0, inf)"})
    critic_learning_rate: float | None = field(default=None, metadata={
        "help": "Adam learning rate of the critics (None = learning_rate; CleanRL's q_lr 1e-3 beside policy_lr 3e-4)",
        "range": "(0, inf)"})
    buffer_size: int = field(default=1_000_000, metadata={"help": "replay capacity (transitions)", "range": "[1, inf)"})
    learning_starts: int = field(default=100, metadata={
        "help": "env steps of uniform random actions first", "range": "[0, inf)"})
    batch_size: int = field(default=256, metadata={"help": "transitions per gradient step", "range": "[1, inf)"})
    gamma: float = field(default=0.99, metadata={"help": "discount factor", "range": "(0, 1]"})
    n_step: int = field(default=1, metadata={
        "help": "n-step returns (1 = the paper's one-step targets; no off-policy correction)", "range": "[1, inf)"})
    tau: float = field(default=0.005, metadata={"help": "Polyak rate of the target critics", "range": "(0, 1]"})
    train_freq: int = field(default=1, metadata={"help": "env steps between training phases", "range": "[1, inf)"})
    gradient_steps: int = field(default=1, metadata={"help": "gradient steps per training phase", "range": "[1, inf)"})
    init_alpha: float = field(default=1.0, metadata={"help": "initial temperature", "range": "(0, inf)"})
    autotune: bool = field(default=True, metadata={"help": "learn alpha towards the target entropy"})
    target_entropy: float | None = field(default=None, metadata={"help": "target entropy (None = -dim(A))"})
    hidden: tuple[int, ...] = field(default=(256, 256), metadata={
        "help": "MLP hidden widths (actor, critics)", "range": "[1, inf)"})
    critic_layer_norm: bool = field(default=False, metadata={
        "help": "LayerNorm after each hidden layer of the critics (RLPD, Ball et al. 2023)"})


def critic_loss(q1: torch.Tensor, q2: torch.Tensor, target: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """``mean((Q1 - y)^2) + mean((Q2 - y)^2)`` (SB3 halves each term; we follow the paper). ``dim``: the means over
    that dim only (``[K, B] -> [K]`` for a population), as in the other losses here."""
    return batch_mean((q1 - target).pow(2), dim) + batch_mean((q2 - target).pow(2), dim)


def soft_q_target(
    rewards: torch.Tensor, next_q1: torch.Tensor, next_q2: torch.Tensor, next_log_probs: torch.Tensor,
    dones: torch.Tensor, discounts: torch.Tensor, alpha: torch.Tensor,
) -> torch.Tensor:
    """``y = r + discount * (1 - done) * (min(Q1', Q2') - alpha * log pi(a'|s'))``; all ``[B]``."""
    return rewards + discounts * (1.0 - dones) * (torch.min(next_q1, next_q2) - alpha * next_log_probs)


def actor_loss(q1: torch.Tensor, q2: torch.Tensor, log_probs: torch.Tensor, alpha: torch.Tensor,
               dim: int | None = None) -> torch.Tensor:
    """``mean(alpha * log pi(a|s) - min(Q1, Q2)(s, a))`` with ``a ~ pi`` reparameterized."""
    return batch_mean(alpha * log_probs - torch.min(q1, q2), dim)


def temperature_loss(log_alpha: torch.Tensor, log_probs: torch.Tensor, target_entropy: float,
                     dim: int | None = None) -> torch.Tensor:
    """``-mean(log_alpha * (log pi(a|s) + target_entropy))`` (log-probs detached).

    Its gradient raises alpha when the policy's entropy ``-E[log pi]`` is below the target and lowers it
    when above.
    """
    return -batch_mean(log_alpha * (log_probs.detach() + target_entropy), dim)


@register_algorithm
class SAC(Algorithm):
    """Soft Actor-Critic for Box action spaces (one env; off-policy).

    Example::

        agent = SAC("Pendulum-v1", seed=0).learn(20_000)
    """

    name = "SAC"
    config_cls = SACConfig
    action_spaces = (gym.spaces.Box,)
    config: SACConfig

    def _setup(self) -> None:
        c = self.config
        space = self.action_space
        assert isinstance(space, gym.spaces.Box)
        features = self.features or mlp_features(c.hidden, "relu")
        self.actor = SquashedGaussianActor(self.observation_space, space, features).to(self.device)
        self.critic = TwinQ(self.observation_space, space, c.hidden, layer_norm=c.critic_layer_norm).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self._critic_params = list(self.critic.parameters())
        self.log_alpha = torch.tensor([float(np.log(c.init_alpha))], device=self.device, requires_grad=True)
        self.target_entropy = -float(np.prod(space.shape)) if c.target_entropy is None else c.target_entropy
        self.actor_opt = adam(self.actor.parameters(), lr=c.learning_rate)
        self.critic_opt = adam(self.critic.parameters(), lr=c.critic_learning_rate or c.learning_rate)
        self.alpha_opt = adam([self.log_alpha], lr=c.learning_rate)
        obs_shape = self.observation_space.shape or ()
        self.buffer = ReplayBuffer(c.buffer_size, obs_shape, np.float32, space.shape, np.float32, device=self.device)
        self.adder = NStepAdder(c.n_step, c.gamma)
        self.env = make_env(self._env_arg)
        self._obs: np.ndarray | None = None
        self._ep_return = 0.0

    def _modules(self) -> dict[str, Any]:
        return {"actor": self.actor, "critic": self.critic, "critic_target": self.critic_target,
                "actor_opt": self.actor_opt, "critic_opt": self.critic_opt, "alpha_opt": self.alpha_opt}

    def _extra_state(self) -> dict[str, Any]:
        return {"buffer": self.buffer.state_dict(), "log_alpha": self.log_alpha.detach().clone()}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        if "buffer" in state:
            self.buffer.load_state_dict(state["buffer"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])

    def _act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        return self.actor(obs, deterministic)[0]

    def _train_step(self) -> tuple[torch.Tensor, ...]:
        c = self.config
        b = self.buffer.sample(c.batch_size, self.rng)
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            next_a, next_logp = self.actor(b.next_obs)
            tq1, tq2 = self.critic_target(b.next_obs, next_a)
            y = soft_q_target(b.rewards, tq1, tq2, next_logp, b.dones, b.discounts, alpha)
        q1, q2 = self.critic(b.obs, b.actions)
        lq = critic_loss(q1, q2, y)
        self.critic_opt.zero_grad(set_to_none=True)
        lq.backward()
        self.critic_opt.step()

        a, logp = self.actor(b.obs)
        for p in self._critic_params:  # the actor loss must not train the critics (and skips their grads)
            p.requires_grad_(False)
        pq1, pq2 = self.critic(b.obs, a)
        for p in self._critic_params:
            p.requires_grad_(True)
        lpi = actor_loss(pq1, pq2, logp, alpha)
        self.actor_opt.zero_grad(set_to_none=True)
        lpi.backward()
        self.actor_opt.step()

        la = torch.zeros(())
        if c.autotune:
            la = temperature_loss(self.log_alpha, logp, self.target_entropy)
            self.alpha_opt.zero_grad(set_to_none=True)
            la.backward()
            self.alpha_opt.step()
        with torch.no_grad():
            for p, tp in zip(self.critic.parameters(), self.critic_target.parameters(), strict=True):
                tp.lerp_(p, c.tau)
        self.num_updates += 1
        return lq.detach(), lpi.detach(), la.detach(), -logp.detach().mean()

    def _learn(self, total_steps: int, callback: Callback | None, callback_every: int) -> None:
        c = self.config
        end = self.num_steps + total_steps
        if self._obs is None:
            self._obs, _ = self.env.reset(seed=self.seed + self.num_steps)
            self._ep_return = 0.0
            self.adder.reset()
        obs = self._obs
        acc, count = torch.zeros(4), 0
        while self.num_steps < end:
            if self.num_steps < c.learning_starts:
                action = self.rng.uniform(self.action_space.low, self.action_space.high).astype(np.float32)  # type: ignore[attr-defined]
            else:
                with torch.no_grad():
                    action = self.actor(torch.as_tensor(obs, device=self.device).unsqueeze(0))[0][0].cpu().numpy()
            next_obs, reward, terminated, truncated, _ = self.env.step(action)
            self.num_steps += 1
            self._on_steps()
            self._ep_return += float(reward)
            for tr in self.adder.push(obs, action, float(reward), next_obs, terminated, truncated):
                self.buffer.add(*tr)
            if terminated or truncated:
                self.episode_returns.append(self._ep_return)
                self._ep_return = 0.0
                next_obs, _ = self.env.reset()
            obs = next_obs
            if self.num_steps >= c.learning_starts and self.num_steps % c.train_freq == 0:
                for _ in range(c.gradient_steps):
                    acc += torch.stack(self._train_step())
                    count += 1
            at_callback = callback is not None and callback_every > 0 and self.num_steps % callback_every == 0
            if at_callback or self.num_steps >= end:
                if count:
                    s = (acc / count).tolist()
                    self.stats.update({"train/critic_loss": s[0], "train/actor_loss": s[1],
                                       "train/alpha_loss": s[2], "train/entropy": s[3]})
                    acc.zero_()
                    count = 0
                self.stats["train/alpha"] = float(self.log_alpha.detach().exp())
            if at_callback:
                self._obs = obs
                callback(self)  # type: ignore[misc]
        self._obs = obs

"""TD3: twin delayed deep deterministic policy gradient (clipped double-Q, delayed updates, target smoothing).

Paper: Fujimoto, van Hoof and Meger, "Addressing Function Approximation Error in Actor-Critic Methods" (ICML 2018,
https://arxiv.org/abs/1802.09477). DDPG (Lillicrap et al. 2015, https://arxiv.org/abs/1509.02971) with three
changes: the critic target takes the minimum of two critics (clipped double-Q), the actor and the target networks
are updated once every ``policy_delay`` critic updates, and the target action is smoothed with clipped noise.

Defaults: the paper's (and Stable-Baselines3's TD3 defaults): Adam learning rate 1e-3 for actor and critics,
``gamma`` 0.99, ``tau`` 0.005, ``policy_delay`` 2, target noise 0.2 clipped to 0.5, exploration noise 0.1;
SB3's replay size 1e6, ``batch_size`` 256, ``train_freq`` 1, ``gradient_steps`` 1 and ``learning_starts`` 100
(the paper starts with 1,000 random steps on most tasks, the authors' code and CleanRL with 25,000: experiments set
their own); hidden layers 256x256 as CleanRL's TD3 and the authors' updated code (the paper: 400x300). SB3 adds no
exploration noise unless asked; we use the paper's 0.1.

Noise units. Both noises are Gaussian with a standard deviation given as a fraction of the action half-range
``(high - low) / 2``, so on ``[-1, 1]`` actions they are exactly the paper's ``N(0, 0.1)`` and
``clip(N(0, 0.2), -0.5, 0.5)`` (SB3 and CleanRL do the same: SB3 works on actions rescaled to ``[-1, 1]``, CleanRL
multiplies by the action scale).

Read top to bottom: the config, the pure functions (target action, target, losses), the actor, the agent.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from dlfrontier.rl.common.algorithm import Algorithm, Callback, register_algorithm
from dlfrontier.rl.common.buffers import NStepAdder, ReplayBuffer
from dlfrontier.rl.common.env import make_env
from dlfrontier.rl.common.networks import FeaturesFactory, TwinQ, adam, mlp_features
from dlfrontier.rl.common.returns import batch_mean


@dataclass
class TD3Config:
    """TD3 options. Defaults: the paper's and Stable-Baselines3's (see the module docstring for each source)."""

    learning_rate: float = field(default=1e-3, metadata={
        "help": "Adam learning rate (actor and critics)", "range": "(0, inf)"})
    buffer_size: int = field(default=1_000_000, metadata={"help": "replay capacity (transitions)", "range": "[1, inf)"})
    learning_starts: int = field(default=100, metadata={
        "help": "env steps of uniform random actions first", "range": "[0, inf)"})
    batch_size: int = field(default=256, metadata={"help": "transitions per gradient step", "range": "[1, inf)"})
    gamma: float = field(default=0.99, metadata={"help": "discount factor", "range": "(0, 1]"})
    n_step: int = field(default=1, metadata={
        "help": "n-step returns (1 = the paper's one-step targets; no off-policy correction)", "range": "[1, inf)"})
    tau: float = field(default=0.005, metadata={
        "help": "Polyak rate of the target actor and critics", "range": "(0, 1]"})
    train_freq: int = field(default=1, metadata={"help": "env steps between training phases", "range": "[1, inf)"})
    gradient_steps: int = field(default=1, metadata={
        "help": "critic gradient steps per training phase", "range": "[1, inf)"})
    policy_delay: int = field(default=2, metadata={
        "help": "critic updates per actor (and target) update", "range": "[1, inf)"})
    target_policy_noise: float = field(default=0.2, metadata={
        "help": "std of the target action's noise (fraction of the action half-range)", "range": "[0, inf)"})
    target_noise_clip: float = field(default=0.5, metadata={
        "help": "clip of the target action's noise (fraction of the action half-range)", "range": "[0, inf)"})
    exploration_noise: float = field(default=0.1, metadata={
        "help": "std of the Gaussian exploration noise (fraction of the action half-range)", "range": "[0, inf)"})
    hidden: tuple[int, ...] = field(default=(256, 256), metadata={
        "help": "MLP hidden widths (actor, critics)", "range": "[1, inf)"})


def smoothed_target_action(
    next_action: torch.Tensor, noise: torch.Tensor, noise_clip: float, low: torch.Tensor, high: torch.Tensor,
) -> torch.Tensor:
    """Target policy smoothing: ``clip(a' + clip(noise, -c, c) * half, low, high)`` with ``half = (high - low) / 2``.

    ``noise`` (``[B, A]``, drawn as ``N(0, target_policy_noise^2)``) and ``noise_clip`` ``c`` are in units of the
    action half-range, so on ``[-1, 1]`` actions this is the paper's ``clip(mu'(s') + clip(eps, -c, c), -1, 1)``.
    ``next_action`` is the target actor's ``[B, A]``; ``low``/``high`` are ``[A]``.
    """
    half = (high - low) / 2
    return torch.max(torch.min(next_action + noise.clamp(-noise_clip, noise_clip) * half, high), low)


def td3_target(
    rewards: torch.Tensor, next_q1: torch.Tensor, next_q2: torch.Tensor, dones: torch.Tensor, discounts: torch.Tensor,
) -> torch.Tensor:
    """Clipped double-Q target ``y = r + discount * (1 - done) * min(Q1', Q2')``; all ``[B]``.

    ``discounts`` is the replay batch's per-transition ``gamma^k`` and ``dones`` its termination flags (a
    truncated episode is not done: it bootstraps), as in :func:`dlfrontier.rl.sac.soft_q_target`.
    """
    return rewards + discounts * (1.0 - dones) * torch.min(next_q1, next_q2)


def critic_loss(q1: torch.Tensor, q2: torch.Tensor, target: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """``mean((Q1 - y)^2) + mean((Q2 - y)^2)``, both critics regressed on the same target (paper, SB3). ``dim``: the
    means over that dim only (``[K, B] -> [K]``, a population's per-member losses)."""
    return batch_mean((q1 - target).pow(2), dim) + batch_mean((q2 - target).pow(2), dim)


def actor_loss(q1: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """``-mean(Q1(s, mu(s)))``: the deterministic policy gradient through the first critic only (paper)."""
    return -batch_mean(q1, dim)


class DeterministicActor(nn.Module):
    """``mu(s) = tanh(Linear(features(s)))`` rescaled to the action bounds.

    Shapes:
        input ``[B, *obs]``; output ``[B, act_dim]`` in ``[low, high]``.
    """

    scale: torch.Tensor
    bias: torch.Tensor

    def __init__(self, obs_space: gym.Space, action_space: gym.spaces.Box, features: FeaturesFactory) -> None:
        super().__init__()
        self.features = features(obs_space)
        d, a = int(self.features.out_dim), int(np.prod(action_space.shape))  # type: ignore[arg-type]
        self.mu = nn.Linear(d, a)
        self.register_buffer("scale", torch.as_tensor((action_space.high - action_space.low) / 2, dtype=torch.float32))
        self.register_buffer("bias", torch.as_tensor((action_space.high + action_space.low) / 2, dtype=torch.float32))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.mu(self.features(obs))) * self.scale + self.bias


@register_algorithm
class TD3(Algorithm):
    """Twin Delayed DDPG for Box action spaces (one env; off-policy).

    ``num_updates`` counts critic updates; the actor and the targets are updated on every ``policy_delay``-th,
    so after ``N`` critic updates the actor has been updated ``N // policy_delay`` times. ``predict`` gives
    ``mu(s)`` with ``deterministic=True`` and the exploration policy's noisy action otherwise.

    Example::

        agent = TD3("InvertedPendulum-v5", seed=0).learn(10_000)
    """

    name = "TD3"
    config_cls = TD3Config
    action_spaces = (gym.spaces.Box,)
    config: TD3Config

    def _setup(self) -> None:
        c = self.config
        space = self.action_space
        assert isinstance(space, gym.spaces.Box)
        features = self.features or mlp_features(c.hidden, "relu")
        self.actor = DeterministicActor(self.observation_space, space, features).to(self.device)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic = TwinQ(self.observation_space, space, c.hidden).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self._critic_params = list(self.critic.parameters())
        self._online: list[torch.Tensor] = [*self.actor.parameters(), *self._critic_params]
        self._targets: list[torch.Tensor] = [*self.actor_target.parameters(), *self.critic_target.parameters()]
        self.low = torch.as_tensor(space.low, dtype=torch.float32, device=self.device)
        self.high = torch.as_tensor(space.high, dtype=torch.float32, device=self.device)
        self._half = (space.high - space.low).astype(np.float32) / 2
        self.actor_opt = adam(self.actor.parameters(), lr=c.learning_rate)
        self.critic_opt = adam(self.critic.parameters(), lr=c.learning_rate)
        obs_shape = self.observation_space.shape or ()
        self.buffer = ReplayBuffer(c.buffer_size, obs_shape, np.float32, space.shape, np.float32, device=self.device)
        self.adder = NStepAdder(c.n_step, c.gamma)
        self.env = make_env(self._env_arg)
        self._obs: np.ndarray | None = None
        self._ep_return = 0.0

    def _modules(self) -> dict[str, Any]:
        return {"actor": self.actor, "actor_target": self.actor_target, "critic": self.critic,
                "critic_target": self.critic_target, "actor_opt": self.actor_opt, "critic_opt": self.critic_opt}

    def _extra_state(self) -> dict[str, Any]:
        return {"buffer": self.buffer.state_dict()}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        if "buffer" in state:
            self.buffer.load_state_dict(state["buffer"])

    def _act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        a = self.actor(obs)
        if deterministic:
            return a
        noise = torch.randn_like(a) * (self.config.exploration_noise * (self.high - self.low) / 2)
        return torch.max(torch.min(a + noise, self.high), self.low)

    def _train_step(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One critic update and, on every ``policy_delay``-th, one actor update and the Polyak target updates.

        Returns the critic loss and the actor loss (``None`` when the actor was not updated).
        """
        c = self.config
        b = self.buffer.sample(c.batch_size, self.rng)
        with torch.no_grad():
            noise = torch.randn_like(b.actions) * c.target_policy_noise
            next_a = smoothed_target_action(self.actor_target(b.next_obs), noise, c.target_noise_clip,
                                            self.low, self.high)
            tq1, tq2 = self.critic_target(b.next_obs, next_a)
            y = td3_target(b.rewards, tq1, tq2, b.dones, b.discounts)
        q1, q2 = self.critic(b.obs, b.actions)
        lq = critic_loss(q1, q2, y)
        self.critic_opt.zero_grad(set_to_none=True)
        lq.backward()
        self.critic_opt.step()
        self.num_updates += 1
        if self.num_updates % c.policy_delay:
            return lq.detach(), None

        for p in self._critic_params:  # the actor loss must not train the critics (and skips their grads)
            p.requires_grad_(False)
        x = torch.cat([b.obs.reshape(b.obs.shape[0], -1).float(), self.actor(b.obs)], dim=1)
        lpi = actor_loss(self.critic.q1(x).squeeze(-1))
        for p in self._critic_params:
            p.requires_grad_(True)
        self.actor_opt.zero_grad(set_to_none=True)
        lpi.backward()
        self.actor_opt.step()
        with torch.no_grad():  # one fused lerp over all target tensors: target += tau * (online - target)
            torch._foreach_lerp_(self._targets, self._online, c.tau)
        return lq.detach(), lpi.detach()

    def _learn(self, total_steps: int, callback: Callback | None, callback_every: int) -> None:
        c = self.config
        space = self.action_space
        assert isinstance(space, gym.spaces.Box)
        low, high = space.low.astype(np.float32), space.high.astype(np.float32)
        end = self.num_steps + total_steps
        if self._obs is None:
            self._obs, _ = self.env.reset(seed=self.seed + self.num_steps)
            self._ep_return = 0.0
            self.adder.reset()
        obs = self._obs
        critic_sum, actor_sum = torch.zeros(()), torch.zeros(())
        critic_count = actor_count = 0
        while self.num_steps < end:
            if self.num_steps < c.learning_starts:
                action = self.rng.uniform(low, high).astype(np.float32)
            else:
                with torch.no_grad():
                    mu = self.actor(torch.as_tensor(obs, device=self.device).unsqueeze(0))[0].cpu().numpy()
                noise = self.rng.normal(0.0, 1.0, size=mu.shape).astype(np.float32) * (c.exploration_noise * self._half)
                action = np.clip(mu + noise, low, high)
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
                    lq, lpi = self._train_step()
                    critic_sum += lq
                    critic_count += 1
                    if lpi is not None:
                        actor_sum += lpi
                        actor_count += 1
            at_callback = callback is not None and callback_every > 0 and self.num_steps % callback_every == 0
            if at_callback or self.num_steps >= end:
                if critic_count:
                    self.stats["train/critic_loss"] = float(critic_sum) / critic_count
                    critic_sum.zero_()
                    critic_count = 0
                if actor_count:
                    self.stats["train/actor_loss"] = float(actor_sum) / actor_count
                    actor_sum.zero_()
                    actor_count = 0
            if at_callback:
                self._obs = obs
                callback(self)  # type: ignore[misc]
        self._obs = obs

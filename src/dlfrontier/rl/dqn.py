"""DQN: deep Q-learning with experience replay and a target network, plus the standard fixes as switches.

Papers: Mnih et al., "Playing Atari with Deep Reinforcement Learning" (2013, https://arxiv.org/abs/1312.5602)
and "Human-level control through deep reinforcement learning" (Nature 2015,
https://www.nature.com/articles/nature14236); van Hasselt et al., "Deep Reinforcement Learning with Double
Q-learning" (2015, https://arxiv.org/abs/1509.06461); Wang et al., "Dueling Network Architectures" (2016,
https://arxiv.org/abs/1511.06581); Schaul et al., "Prioritized Experience Replay" (2015,
https://arxiv.org/abs/1511.05952); n-step returns as in Hessel et al., "Rainbow" (2017,
https://arxiv.org/abs/1710.02298).

Read top to bottom: the config, the loss (a pure function), the agent and its training loop.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from dlfrontier.rl.common.algorithm import Algorithm, Callback, check_off_or_positive, register_algorithm
from dlfrontier.rl.common.buffers import NStepAdder, PrioritizedReplayBuffer, ReplayBatch, ReplayBuffer
from dlfrontier.rl.common.env import make_env
from dlfrontier.rl.common.networks import Activation, QNetwork, adam, mlp_features
from dlfrontier.rl.common.returns import double_q_target, td_target


@dataclass
class DQNConfig:
    """DQN options. Defaults are rl-baselines3-zoo's tuned CartPole-v1 settings (hyperparams/dqn.yml)."""

    learning_rate: float = field(default=2.3e-3, metadata={"help": "Adam learning rate", "range": "(0, inf)"})
    buffer_size: int = field(default=100_000, metadata={"help": "replay capacity (transitions)", "range": "[1, inf)"})
    learning_starts: int = field(default=1_000, metadata={
        "help": "env steps of random actions before learning", "range": "[0, inf)"})
    batch_size: int = field(default=64, metadata={"help": "transitions per gradient step", "range": "[1, inf)"})
    gamma: float = field(default=0.99, metadata={"help": "discount factor", "range": "(0, 1]"})
    train_freq: int = field(default=256, metadata={"help": "env steps between training phases", "range": "[1, inf)"})
    gradient_steps: int = field(default=128, metadata={
        "help": "gradient steps per training phase", "range": "[1, inf)"})
    target_update_interval: int = field(default=10, metadata={
        "help": "env steps between target syncs", "range": "[1, inf)"})
    tau: float = field(default=1.0, metadata={"help": "target update rate (1 = hard copy)", "range": "(0, 1]"})
    exploration_fraction: float = field(default=0.16, metadata={
        "help": "fraction of training to anneal epsilon", "range": "[0, 1]"})
    exploration_initial_eps: float = field(default=1.0, metadata={"help": "initial epsilon", "range": "[0, 1]"})
    exploration_final_eps: float = field(default=0.04, metadata={"help": "final epsilon", "range": "[0, 1]"})
    hidden: tuple[int, ...] = field(default=(256, 256), metadata={"help": "MLP hidden widths", "range": "[1, inf)"})
    activation: Activation = field(default="relu", metadata={"help": "MLP activation"})
    lr_decay: bool = field(default=False, metadata={"help": "anneal the learning rate linearly to 0 over training"})
    max_grad_norm: float | None = field(default=10.0, metadata={
        "help": "gradient clipping norm (None = off)", "range": "(0, inf)"})
    double: bool = field(default=False, metadata={"help": "Double DQN target"})
    dueling: bool = field(default=False, metadata={"help": "dueling value/advantage head"})
    n_step: int = field(default=1, metadata={"help": "n-step returns", "range": "[1, inf)"})
    prioritized: bool = field(default=False, metadata={"help": "proportional prioritized replay"})
    per_alpha: float = field(default=0.6, metadata={"help": "prioritization exponent alpha", "range": "[0, inf)"})
    per_beta: float = field(default=0.4, metadata={
        "help": "initial importance-weight exponent (annealed to 1)", "range": "[0, 1]"})
    optimizer: Literal["adam", "rmsprop"] = field(default="adam", metadata={
        "help": "adam, or rmsprop (centered, alpha 0.95, eps 0.01: the Nature DQN and MinAtar setting)"})
    frame_buffer: bool = field(default=False, metadata={
        "help": "store stacked-frame observations [k, H, W] once per frame (Atari replay memory)"})

    def __post_init__(self) -> None:
        check_off_or_positive(self, "max_grad_norm")


def dqn_loss(
    q_net: nn.Module, target_net: nn.Module, batch: ReplayBatch, *, double: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Importance-weighted Huber TD loss.

    Returns:
        ``(loss, td_errors [B] (detached), q_taken [B] (detached))``.
    """
    B = batch.obs.shape[0]
    if double:  # one online pass over [obs; next_obs]: half the dispatch overhead of two passes
        q_both = q_net(torch.cat([batch.obs, batch.next_obs]))  # [2B, A]
        q_all, next_online = q_both[:B], q_both[B:].detach()
    else:
        q_all, next_online = q_net(batch.obs), None
    q = q_all.gather(1, batch.actions.long().unsqueeze(1)).squeeze(1)  # [B]
    with torch.no_grad():
        next_target = target_net(batch.next_obs)  # [B, A]
        if next_online is not None:
            target = double_q_target(batch.rewards, next_online, next_target, batch.dones, batch.discounts)
        else:
            target = td_target(batch.rewards, next_target.max(dim=1).values, batch.dones, batch.discounts)
    td = target - q
    loss = (batch.weights * nn.functional.smooth_l1_loss(q, target, reduction="none")).mean()
    return loss, td.detach(), q.detach()


def make_optimizer(name: str, params: Any, lr: float) -> torch.optim.Optimizer:
    """``adam`` (fused where available) or ``rmsprop``: centered RMSProp with squared-gradient momentum 0.95 and
    eps 0.01, the optimizer of Nature DQN and of the MinAtar paper."""
    if name == "adam":
        return adam(params, lr=lr)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.95, eps=0.01, centered=True)
    raise ValueError(f"optimizer {name!r} not in ('adam', 'rmsprop')")


def linear_schedule(start: float, end: float, fraction: float, progress: float) -> float:
    """``start -> end`` linearly over the first ``fraction`` of training (progress in [0, 1]), then ``end``."""
    if fraction <= 0:
        return end
    return start + (end - start) * min(1.0, progress / fraction)


@register_algorithm
class DQN(Algorithm):
    """Deep Q-Network for discrete action spaces (one env; off-policy).

    Example::

        agent = DQN("CartPole-v1", seed=0, double=True).learn(50_000)
    """

    name = "DQN"
    config_cls = DQNConfig
    action_spaces = (gym.spaces.Discrete,)
    config: DQNConfig

    def _setup(self) -> None:
        c = self.config
        features = self.features or mlp_features(c.hidden, c.activation)
        self.q_net = QNetwork(features(self.observation_space), int(self.action_space.n), c.dueling).to(self.device)  # type: ignore[attr-defined]
        self.target_net = copy.deepcopy(self.q_net).requires_grad_(False)
        self.optimizer = make_optimizer(c.optimizer, self.q_net.parameters(), c.learning_rate)
        obs_space = self.observation_space
        obs_shape = obs_space.shape if obs_space.shape else ()
        if c.frame_buffer and c.prioritized:
            raise ValueError("frame_buffer=True supports uniform replay only; set prioritized=False")
        if c.frame_buffer:
            from dlfrontier.rl.atari.buffer import FrameReplayBuffer

            self.buffer: ReplayBuffer | FrameReplayBuffer = FrameReplayBuffer(
                c.buffer_size, obs_shape, obs_space.dtype or np.uint8, (), np.int64, device=self.device,
                frame_capacity=c.buffer_size * (obs_shape[0] + 1) if c.n_step > 1 else None,
            )
        else:
            buffer_cls = PrioritizedReplayBuffer if c.prioritized else ReplayBuffer
            kwargs: dict[str, Any] = {"alpha": c.per_alpha} if c.prioritized else {}
            self.buffer = buffer_cls(
                c.buffer_size, obs_shape, obs_space.dtype or np.float32, (), np.int64, device=self.device, **kwargs
            )
        self.adder = NStepAdder(c.n_step, c.gamma)
        self.env = make_env(self._env_arg)
        self._obs: np.ndarray | None = None
        self._ep_return = 0.0
        self._total_planned = 0

    def _modules(self) -> dict[str, Any]:
        return {"q_net": self.q_net, "target_net": self.target_net, "optimizer": self.optimizer}

    def _extra_state(self) -> dict[str, Any]:
        return {"buffer": self.buffer.state_dict(), "total_planned": self._total_planned}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        if "buffer" in state:
            self.buffer.load_state_dict(state["buffer"])
        self._total_planned = int(state.get("total_planned", 0))

    def _act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        return self.q_net(obs).argmax(dim=1)

    def epsilon(self) -> float:
        c = self.config
        progress = self.num_steps / max(1, self._total_planned)
        return linear_schedule(c.exploration_initial_eps, c.exploration_final_eps, c.exploration_fraction, progress)

    def _train_phase(self) -> None:
        c = self.config
        if len(self.buffer) < c.batch_size:  # e.g. resumed from a checkpoint saved without its replay buffer
            return
        beta = c.per_beta + (1.0 - c.per_beta) * min(1.0, self.num_steps / max(1, self._total_planned))
        if c.lr_decay:
            for group in self.optimizer.param_groups:
                group["lr"] = c.learning_rate * max(0.0, 1.0 - self.num_steps / max(1, self._total_planned))
        losses = torch.zeros(c.gradient_steps)
        qs = torch.zeros(c.gradient_steps)
        params = list(self.q_net.parameters())
        for g in range(c.gradient_steps):
            if c.prioritized:
                batch = self.buffer.sample(c.batch_size, self.rng, beta=beta)  # type: ignore[call-arg]
            else:
                batch = self.buffer.sample(c.batch_size, self.rng)
            loss, td, q = dqn_loss(self.q_net, self.target_net, batch, double=c.double)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if c.max_grad_norm is not None:
                nn.utils.clip_grad_norm_(params, c.max_grad_norm)
            self.optimizer.step()
            if c.prioritized:
                self.buffer.update_priorities(batch.indices, td.cpu().numpy())
            losses[g] = loss.detach()
            qs[g] = q.mean()
            self.num_updates += 1
        self.stats["train/loss"] = float(losses.mean())
        self.stats["train/q"] = float(qs.mean())

    def _sync_target(self) -> None:
        tau = self.config.tau
        with torch.no_grad():
            if tau >= 1.0:
                self.target_net.load_state_dict(self.q_net.state_dict())
            else:
                for p, tp in zip(self.q_net.parameters(), self.target_net.parameters(), strict=True):
                    tp.lerp_(p, tau)

    def _learn(self, total_steps: int, callback: Callback | None, callback_every: int) -> None:
        c = self.config
        end = self.num_steps + total_steps
        # the epsilon schedule spans the longest planned run (learn may be called in pieces, e.g. on resume)
        self._total_planned = max(self._total_planned, end)
        if self._obs is None:
            self._obs, _ = self.env.reset(seed=self.seed + self.num_steps)
            self._ep_return = 0.0
            self.adder.reset()
        obs = self._obs
        n_actions = int(self.action_space.n)  # type: ignore[attr-defined]
        while self.num_steps < end:
            eps = self.epsilon()
            if self.num_steps < c.learning_starts or self.rng.random() < eps:
                action = int(self.rng.integers(n_actions))
            else:
                with torch.no_grad():
                    action = int(self.q_net(torch.as_tensor(obs, device=self.device).unsqueeze(0)).argmax())
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
            if self.num_steps >= c.learning_starts:
                if self.num_steps % c.train_freq == 0:
                    self._train_phase()
                if self.num_steps % c.target_update_interval == 0:
                    self._sync_target()
            if callback is not None and callback_every > 0 and self.num_steps % callback_every == 0:
                self._obs = obs
                self.stats["train/epsilon"] = eps
                callback(self)
        self._obs = obs

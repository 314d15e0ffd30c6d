"""Population TD3: K independent TD3 agents (one per seed) trained in one process with stacked actors and critics.

The pattern of :mod:`dlfrontier.rl.population.sac` (issue 17) for TD3: each member's single agent
``TD3(env, seed=k, **options)`` is built first (parameter template; holder of its env, NumPy generator and episode
returns); actor, target actor, twin critics and target critics are stacked
(:mod:`dlfrontier.rl.population.layers`); every gradient step is one forward/backward per loss for all members and
one step of each optimizer.

Members never share information, and member k *is* ``TD3(env, seed=k, **options)``:

* warm-up actions, exploration noise and replay indices come from its NumPy generator, in the single agent's order;
* the target-smoothing noise is drawn from its own ``torch.Generator`` (started where the single agent's global
  generator stands after construction);
* acting is member by member with the single actor's arithmetic (``F.linear`` on one observation), training is
  stacked; the losses are sums of the members' own losses (:func:`~dlfrontier.rl.td3.critic_loss` and
  :func:`~dlfrontier.rl.td3.actor_loss` with ``dim=1``); the policy delay counts updates, which all members share;
  Polyak averaging is elementwise.

``tests/rl/population/test_population_td3.py`` checks member k against the single run (identical episode returns,
parameters within 1e-5). :meth:`PopulationTD3.member` returns member k as an ordinary :class:`~dlfrontier.rl.td3.TD3`.
Custom ``features`` (CNNs) and env instances are not supported.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from dlfrontier.rl.common.networks import MLPFeatures, adam
from dlfrontier.rl.population.base import Population
from dlfrontier.rl.population.dqn import MemberReplayBuffer
from dlfrontier.rl.population.layers import Slot, StackedLinear, StackedSequential, load_member_optimizer_state
from dlfrontier.rl.population.sac import StackedTwinQ
from dlfrontier.rl.td3 import (
    TD3,
    DeterministicActor,
    TD3Config,
    actor_loss,
    critic_loss,
    smoothed_target_action,
    td3_target,
)


class StackedDeterministicActor(nn.Module):
    """K :class:`~dlfrontier.rl.td3.DeterministicActor` MLPs, stacked: ``[K, B, *obs] -> [K, B, A]``."""

    scale: torch.Tensor
    bias: torch.Tensor

    def __init__(self, members: Sequence[DeterministicActor]) -> None:
        super().__init__()
        if not all(isinstance(m.features, MLPFeatures) for m in members):
            raise TypeError("population actors support the default MLP features only")
        self.features = StackedSequential.from_sequentials([m.features.net for m in members])  # type: ignore
        self.mu = StackedLinear.from_linears([m.mu for m in members])
        self.register_buffer("scale", members[0].scale.clone())
        self.register_buffer("bias", members[0].bias.clone())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        K, B = obs.shape[0], obs.shape[1]
        return torch.tanh(self.mu(self.features(obs.reshape(K, B, -1).float()))) * self.scale + self.bias

    def member_forward(self, k: int, obs: torch.Tensor) -> torch.Tensor:
        """Member ``k``'s actions for ``obs [B, *obs]``, as its single actor computes them."""
        z = self.features.member_forward(k, obs.reshape(obs.shape[0], -1).float())
        return torch.tanh(self.mu.member_forward(k, z)) * self.scale + self.bias

    def slots(self, k: int) -> list[Slot]:
        return self.features.slots(k) + self.mu.slots(k)

    def copy_member_to(self, k: int, actor: DeterministicActor) -> None:
        self.features.copy_member_to(k, actor.features.net)  # type: ignore[arg-type]
        self.mu.copy_member_to(k, actor.mu)


class PopulationTD3(Population):
    """K independent TD3 agents, one per seed, trained together; member k equals ``TD3(env, seed=seeds[k])``.

    Example::

        pop = PopulationTD3("InvertedPendulum-v5", seeds=range(5)).learn(30_000)
        pop.member(0).save("seed0.pt")            # an ordinary TD3 checkpoint: TD3.load("seed0.pt")

    Args:
        env: a registered Gymnasium env id with Box actions (each member makes its own copy).
        seeds: one seed per member.
        device: torch device.
        **config: :class:`~dlfrontier.rl.td3.TD3Config` options, as for :class:`TD3`.
    """

    name = "PopulationTD3"
    agent_cls = TD3
    config_cls = TD3Config
    config: TD3Config

    def _build(self) -> None:
        c = self.config
        first = self.members[0]
        self.actor = StackedDeterministicActor([m.actor for m in self.members])
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic = StackedTwinQ([m.critic for m in self.members])
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self._critic_params = list(self.critic.parameters())
        self._online = [*self.actor.parameters(), *self._critic_params]
        self._targets = [*self.actor_target.parameters(), *self.critic_target.parameters()]
        self.low, self.high = first.low, first.high
        self.actor_opt = adam(self.actor.parameters(), lr=c.learning_rate)
        self.critic_opt = adam(self.critic.parameters(), lr=c.learning_rate)
        space = first.action_space
        self.buffer = MemberReplayBuffer(self.k, c.buffer_size, first.observation_space.shape or (),
                                         np.float32, device=self.device, action_shape=space.shape or (),
                                         action_dtype=np.float32)

    def _learn(self, total_steps: int, callback: Callable[[PopulationTD3], Any] | None, callback_every: int) -> None:
        c = self.config
        end = self.num_steps + total_steps
        members = self.members
        self._start_episodes()
        low, high = self.low.cpu().numpy(), self.high.cpu().numpy()
        noise_scale = c.exploration_noise * members[0]._half
        critic_sum, actor_sum = torch.zeros(self.k), torch.zeros(self.k)
        critic_count = actor_count = 0
        while self.num_steps < end:
            for i, m in enumerate(members):
                obs = m._obs
                if self.num_steps < c.learning_starts:
                    action = m.rng.uniform(low, high).astype(np.float32)
                else:  # TD3._learn's expressions
                    with torch.no_grad():
                        x = torch.as_tensor(obs, device=self.device).unsqueeze(0)
                        mu = self.actor.member_forward(i, x)[0].cpu().numpy()
                    noise = m.rng.normal(0.0, 1.0, size=mu.shape).astype(np.float32) * noise_scale
                    action = np.clip(mu + noise, low, high)
                self._env_step(i, action)
            self.num_steps += 1
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
                    self.stats["train/critic_loss"] = critic_sum.numpy().astype(float) / critic_count  # as TD3
                    critic_sum.zero_()
                    critic_count = 0
                if actor_count:
                    self.stats["train/actor_loss"] = actor_sum.numpy().astype(float) / actor_count
                    actor_sum.zero_()
                    actor_count = 0
            if at_callback:
                callback(self)  # type: ignore[misc]

    def _train_step(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """:meth:`TD3._train_step` for K members: per-member losses ``[K]`` (the actor's ``None`` when delayed)."""
        c = self.config
        b = self.buffer.sample(c.batch_size, [m.rng for m in self.members])
        shape = tuple(b.actions.shape[1:])
        with torch.no_grad():
            noise = torch.stack([torch.randn(shape, generator=g) for g in self.generators]) * c.target_policy_noise
            next_a = smoothed_target_action(self.actor_target(b.next_obs), noise, c.target_noise_clip,
                                            self.low, self.high)
            tq1, tq2 = self.critic_target(b.next_obs, next_a)
            y = td3_target(b.rewards, tq1, tq2, b.dones, b.discounts)
        q1, q2 = self.critic(b.obs, b.actions)
        lq = critic_loss(q1, q2, y, dim=1)  # [K]: each member's own loss
        self.critic_opt.zero_grad(set_to_none=True)
        lq.sum().backward()
        self.critic_opt.step()
        self.num_updates += 1
        if self.num_updates % c.policy_delay:
            return lq.detach(), None

        for p in self._critic_params:
            p.requires_grad_(False)
        K, B = b.obs.shape[0], b.obs.shape[1]
        x = torch.cat([b.obs.reshape(K, B, -1).float(), self.actor(b.obs)], dim=2)
        lpi = actor_loss(self.critic.q1(x).squeeze(-1), dim=1)
        for p in self._critic_params:
            p.requires_grad_(True)
        self.actor_opt.zero_grad(set_to_none=True)
        lpi.sum().backward()
        self.actor_opt.step()
        with torch.no_grad():
            for tp, p in zip(self._targets, self._online, strict=True):
                tp.lerp_(p, c.tau)
        return lq.detach(), lpi.detach()

    # -- members -----------------------------------------------------------------------------------------
    def member(self, k: int) -> TD3:
        """Member ``k`` as an independent single :class:`TD3` (networks, optimizers, replay memory, env, generator,
        counters), copied. To continue it exactly as the single run, also ``torch.set_rng_state(
        pop.torch_rng_state(k))`` before its next ``learn``."""
        if not 0 <= k < self.k:
            raise IndexError(f"member {k}: the population has {self.k} members")
        m = self.members[k]
        self.actor.copy_member_to(k, m.actor)
        self.actor_target.copy_member_to(k, m.actor_target)
        self.critic.copy_member_to(k, m.critic)
        self.critic_target.copy_member_to(k, m.critic_target)
        load_member_optimizer_state(self.actor_opt, self.actor.slots(k), m.actor_opt, list(m.actor.parameters()))
        load_member_optimizer_state(self.critic_opt, self.critic.slots(k), m.critic_opt, list(m.critic.parameters()))
        m.buffer.load_state_dict(self.buffer.member_state(k))
        m.num_steps, m.num_updates = self.num_steps, self.num_updates
        m.stats = {key: float(v[k]) for key, v in self.stats.items()}
        return copy.deepcopy(m)


__all__ = ["PopulationTD3", "StackedDeterministicActor"]

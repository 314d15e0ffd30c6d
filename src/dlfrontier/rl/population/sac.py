"""Population SAC: K independent SAC agents (one per seed) trained in one process with stacked actors and critics.

The pattern of :mod:`dlfrontier.rl.population.dqn` (issue 17) for Soft Actor-Critic: each member's single agent
``SAC(env, seed=k, **options)`` is built first (parameter template; holder of its env, NumPy generator and episode
returns); actor, twin critics and target critics are stacked (:mod:`dlfrontier.rl.population.layers`), every
gradient step is one forward/backward per loss for all members and one step of each optimizer.

Members never share information, and member k *is* ``SAC(env, seed=k, **options)``:

* warm-up actions come from its NumPy generator, replay indices too (in the single agent's order);
* the Gaussian noise of the reparameterised actions is drawn from its own ``torch.Generator`` (started where the
  single agent's global generator stands after construction), in the single agent's order: the acting draw each
  step, then per gradient step the next-state draw and the current-state draw;
* acting is member by member with the single actor's arithmetic (``F.linear`` on one observation), training is
  stacked; the losses are sums of the members' own losses; each member has its own temperature ``log_alpha``
  (a separate tensor, see :class:`~dlfrontier.rl.population.layers.MemberParameter`); Polyak averaging is
  elementwise.

``tests/rl/population/test_population_sac.py`` checks member k against the single run (identical episode returns,
parameters within 1e-5). :meth:`PopulationSAC.member` returns member k as an ordinary :class:`~dlfrontier.rl.sac.SAC`.
Custom ``features`` (CNNs) and env instances are not supported.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from dlfrontier.rl.common.networks import LOG_STD_MAX, LOG_STD_MIN, MLPFeatures, SquashedGaussianActor, TwinQ, adam
from dlfrontier.rl.population.base import Population
from dlfrontier.rl.population.dqn import MemberReplayBuffer
from dlfrontier.rl.population.layers import (
    MemberParameter,
    Slot,
    StackedLinear,
    StackedSequential,
    load_member_optimizer_state,
)
from dlfrontier.rl.sac import SAC, SACConfig, actor_loss, critic_loss, soft_q_target, temperature_loss


class StackedSquashedActor(nn.Module):
    """K :class:`~dlfrontier.rl.common.networks.SquashedGaussianActor` MLPs, stacked.

    Shapes:
        input ``[K, B, *obs]``, noise ``[K, B, A]``; actions ``[K, B, A]`` and log-probabilities ``[K, B]``.
    """

    scale: torch.Tensor
    bias: torch.Tensor

    def __init__(self, members: Sequence[SquashedGaussianActor]) -> None:
        super().__init__()
        if not all(isinstance(m.features, MLPFeatures) for m in members):
            raise TypeError("population actors support the default MLP features only")
        self.k = len(members)
        self.features = StackedSequential.from_sequentials([m.features.net for m in members])  # type: ignore
        self.mu = StackedLinear.from_linears([m.mu for m in members])
        self.log_std = StackedLinear.from_linears([m.log_std for m in members])
        self.register_buffer("scale", members[0].scale.clone())
        self.register_buffer("bias", members[0].bias.clone())

    def forward(self, obs: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`SquashedGaussianActor.forward` for K members with the given standard-normal ``noise``."""
        K, B = obs.shape[0], obs.shape[1]
        z = self.features(obs.reshape(K, B, -1).float())
        return self._squash(self.mu(z), self.log_std(z), noise)

    def member_act(self, k: int, obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Member ``k``'s sampled actions for ``obs [B, *obs]``, as its single actor computes them."""
        z = self.features.member_forward(k, obs.reshape(obs.shape[0], -1).float())
        mu, log_std = self.mu.member_forward(k, z), self.log_std.member_forward(k, z)
        return self._squash(mu, log_std, torch.randn(mu.shape, generator=generator))[0]

    def _squash(self, mu: torch.Tensor, log_std: torch.Tensor, noise: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        log_std = log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)  # the expressions of SquashedGaussianActor.forward
        std = log_std.exp()
        u = mu + std * noise
        y = torch.tanh(u)
        log_prob = (-0.5 * ((u - mu) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_prob = log_prob - (torch.log(self.scale * (1 - y.pow(2)) + 1e-6)).sum(-1)
        return y * self.scale + self.bias, log_prob

    def slots(self, k: int) -> list[Slot]:
        return self.features.slots(k) + self.mu.slots(k) + self.log_std.slots(k)

    def copy_member_to(self, k: int, actor: SquashedGaussianActor) -> None:
        self.features.copy_member_to(k, actor.features.net)  # type: ignore[arg-type]
        self.mu.copy_member_to(k, actor.mu)
        self.log_std.copy_member_to(k, actor.log_std)


class StackedTwinQ(nn.Module):
    """K :class:`~dlfrontier.rl.common.networks.TwinQ` critics, stacked: ``[K, B, *obs], [K, B, A] -> [K, B]`` x 2."""

    def __init__(self, members: Sequence[TwinQ]) -> None:
        super().__init__()
        self.q1 = StackedSequential.from_sequentials([m.q1 for m in members])
        self.q2 = StackedSequential.from_sequentials([m.q2 for m in members])

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        K, B = obs.shape[0], obs.shape[1]
        x = torch.cat([obs.reshape(K, B, -1).float(), actions], dim=2)
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)

    def slots(self, k: int) -> list[Slot]:
        return self.q1.slots(k) + self.q2.slots(k)

    def copy_member_to(self, k: int, critic: TwinQ) -> None:
        self.q1.copy_member_to(k, critic.q1)
        self.q2.copy_member_to(k, critic.q2)


class PopulationSAC(Population):
    """K independent SAC agents, one per seed, trained together; member k equals ``SAC(env, seed=seeds[k])``.

    Example::

        pop = PopulationSAC("Pendulum-v1", seeds=range(5)).learn(20_000)
        pop.member(0).save("seed0.pt")            # an ordinary SAC checkpoint: SAC.load("seed0.pt")

    Args:
        env: a registered Gymnasium env id with Box actions (each member makes its own copy).
        seeds: one seed per member.
        device: torch device.
        **config: :class:`~dlfrontier.rl.sac.SACConfig` options, as for :class:`SAC`.
    """

    name = "PopulationSAC"
    agent_cls = SAC
    config_cls = SACConfig
    config: SACConfig

    def _build(self) -> None:
        c = self.config
        first = self.members[0]
        self.actor = StackedSquashedActor([m.actor for m in self.members])
        self.critic = StackedTwinQ([m.critic for m in self.members])
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self._critic_params = list(self.critic.parameters())
        self.log_alpha = MemberParameter(self.k, (1,))  # a [1] tensor per member, as each single agent's
        self.log_alpha.load_members([m.log_alpha.detach() for m in self.members])
        self.target_entropy = first.target_entropy
        self.actor_opt = adam(self.actor.parameters(), lr=c.learning_rate)
        self.critic_opt = adam(self.critic.parameters(), lr=c.critic_learning_rate or c.learning_rate)
        self.alpha_opt = adam(self.log_alpha.parameters(), lr=c.learning_rate)
        space = first.action_space
        self.buffer = MemberReplayBuffer(self.k, c.buffer_size, first.observation_space.shape or (),
                                         np.float32, device=self.device, action_shape=space.shape or (),
                                         action_dtype=np.float32)

    def _noise(self, shape: tuple[int, ...]) -> torch.Tensor:
        """Standard-normal noise ``[K, *shape]``, member k's from its generator (``randn_like`` of its actor)."""
        return torch.stack([torch.randn(shape, generator=g) for g in self.generators])

    def _learn(self, total_steps: int, callback: Callable[[PopulationSAC], Any] | None, callback_every: int) -> None:
        c = self.config
        end = self.num_steps + total_steps
        members = self.members
        self._start_episodes()
        space = members[0].action_space
        acc, count = torch.zeros(4, self.k), 0
        while self.num_steps < end:
            for i, m in enumerate(members):
                obs = m._obs
                if self.num_steps < c.learning_starts:
                    action = m.rng.uniform(space.low, space.high).astype(np.float32)  # type: ignore[attr-defined]
                else:
                    with torch.no_grad():
                        x = torch.as_tensor(obs, device=self.device).unsqueeze(0)
                        action = self.actor.member_act(i, x, self.generators[i])[0].cpu().numpy()
                self._env_step(i, action)
            self.num_steps += 1
            if self.num_steps >= c.learning_starts and self.num_steps % c.train_freq == 0:
                for _ in range(c.gradient_steps):
                    acc += torch.stack(self._train_step())
                    count += 1
            at_callback = callback is not None and callback_every > 0 and self.num_steps % callback_every == 0
            if at_callback or self.num_steps >= end:
                if count:
                    s = (acc / count).numpy()
                    for j, key in enumerate(("critic_loss", "actor_loss", "alpha_loss", "entropy")):
                        self.stats[f"train/{key}"] = s[j].copy()
                    acc.zero_()
                    count = 0
                self.stats["train/alpha"] = self.log_alpha.tensor().detach().exp()[:, 0].numpy().astype(float)
            if at_callback:
                callback(self)  # type: ignore[misc]

    def _train_step(self) -> tuple[torch.Tensor, ...]:
        """:meth:`SAC._train_step` for K members: each loss is the sum of the members' own."""
        c = self.config
        b = self.buffer.sample(c.batch_size, [m.rng for m in self.members])
        A = b.actions.shape[-1]
        log_alpha = self.log_alpha.tensor()  # [K, 1]
        alpha = log_alpha.exp().detach()
        with torch.no_grad():
            next_a, next_logp = self.actor(b.next_obs, self._noise((c.batch_size, A)))
            tq1, tq2 = self.critic_target(b.next_obs, next_a)
            y = soft_q_target(b.rewards, tq1, tq2, next_logp, b.dones, b.discounts, alpha)  # alpha [K, 1]
        q1, q2 = self.critic(b.obs, b.actions)
        lq = critic_loss(q1, q2, y, dim=1)  # [K]: each member's own loss
        self.critic_opt.zero_grad(set_to_none=True)
        lq.sum().backward()
        self.critic_opt.step()

        a, logp = self.actor(b.obs, self._noise((c.batch_size, A)))
        for p in self._critic_params:
            p.requires_grad_(False)
        pq1, pq2 = self.critic(b.obs, a)
        for p in self._critic_params:
            p.requires_grad_(True)
        lpi = actor_loss(pq1, pq2, logp, alpha, dim=1)
        self.actor_opt.zero_grad(set_to_none=True)
        lpi.sum().backward()
        self.actor_opt.step()

        la = torch.zeros(self.k)
        if c.autotune:
            la = temperature_loss(log_alpha, logp, self.target_entropy, dim=1)
            self.alpha_opt.zero_grad(set_to_none=True)
            la.sum().backward()
            self.alpha_opt.step()
        with torch.no_grad():
            for p, tp in zip(self.critic.parameters(), self.critic_target.parameters(), strict=True):
                tp.lerp_(p, c.tau)
        self.num_updates += 1
        return lq.detach(), lpi.detach(), la.detach(), -logp.detach().mean(dim=1)

    # -- inference and members ---------------------------------------------------------------------------
    def member(self, k: int) -> SAC:
        """Member ``k`` as an independent single :class:`SAC` (networks, optimizers, temperature, replay memory,
        env, generator, counters), copied. To continue it exactly as the single run, also
        ``torch.set_rng_state(pop.torch_rng_state(k))`` before its next ``learn``."""
        if not 0 <= k < self.k:
            raise IndexError(f"member {k}: the population has {self.k} members")
        m = self.members[k]
        self.actor.copy_member_to(k, m.actor)
        self.critic.copy_member_to(k, m.critic)
        self.critic_target.copy_member_to(k, m.critic_target)
        with torch.no_grad():
            m.log_alpha.copy_(self.log_alpha.member(k))
        load_member_optimizer_state(self.actor_opt, self.actor.slots(k), m.actor_opt, list(m.actor.parameters()))
        load_member_optimizer_state(self.critic_opt, self.critic.slots(k), m.critic_opt, list(m.critic.parameters()))
        load_member_optimizer_state(self.alpha_opt, [self.log_alpha.slot(k)], m.alpha_opt, [m.log_alpha])
        m.buffer.load_state_dict(self.buffer.member_state(k))
        m.num_steps, m.num_updates = self.num_steps, self.num_updates
        m.stats = {key: float(v[k]) for key, v in self.stats.items()}
        return copy.deepcopy(m)


__all__ = ["PopulationSAC", "StackedSquashedActor", "StackedTwinQ"]

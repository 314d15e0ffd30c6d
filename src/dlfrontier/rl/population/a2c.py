"""Population A2C: K independent A2C agents (one per seed) trained in one process (issue 17).

The on-policy population of :mod:`dlfrontier.rl.population.ppo` (members, per-member torch generators, stacked
actor-critics, batched rollouts) with A2C's update: one RMSprop step per ``n_envs x n_steps`` rollout on the sum
of the members' A2C losses, each member's gradient clipped by its own norm. Member k equals
``A2C(env, seed=k, **options)`` (``tests/rl/population/test_population_a2c.py``: identical episode returns,
parameters within 1e-5). RMSprop is elementwise, so one optimizer over the stacked parameters equals K separate ones
(small parameters are kept per member, see :class:`~dlfrontier.rl.population.layers.MemberParameter`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from dlfrontier.rl.a2c import A2C, A2CConfig, a2c_loss
from dlfrontier.rl.population.ppo import OnPolicyPopulation, flat_members


class PopulationA2C(OnPolicyPopulation):
    """K independent A2C agents, one per seed, trained together; member k equals ``A2C(env, seed=seeds[k])``.

    Example::

        pop = PopulationA2C("CartPole-v1", seeds=range(5), n_envs=8).learn(100_000)
        pop.member(1).save("seed1.pt")            # an ordinary A2C checkpoint: A2C.load("seed1.pt")

    Args:
        env: a registered Gymnasium env id (each member makes its own vector env).
        seeds: one seed per member.
        device: torch device.
        **config: :class:`~dlfrontier.rl.a2c.A2CConfig` options, as for :class:`A2C`.
    """

    name = "PopulationA2C"
    agent_cls = A2C
    config_cls = A2CConfig
    config: A2CConfig

    def _make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.RMSprop(self.policy.parameters(), lr=self.config.learning_rate, alpha=0.99, eps=1e-5)

    def _learn(self, total_steps: int, callback: Callable[[Any], Any] | None, callback_every: int) -> None:
        c = self.config
        end = self.num_steps + total_steps
        next_callback = (self.num_steps // callback_every + 1) * callback_every if callback_every > 0 else None
        log_every, stats, count = 100, torch.zeros(3, self.k), 0
        while self.num_steps < end:
            ro = self._collect(c.n_steps)
            self.num_steps += c.n_envs * c.n_steps
            adv_np, ret_np = self._advantages(ro)
            obs, actions = flat_members(ro["obs"], self.device), flat_members(ro["actions"], self.device)
            adv, ret = flat_members(adv_np, self.device), flat_members(ret_np, self.device)
            if c.normalize_advantage:
                adv = (adv - adv.mean(dim=1, keepdim=True)) / (adv.std(dim=1, keepdim=True) + 1e-8)
            logp, entropy, values = self.policy.evaluate_actions(obs, actions)
            loss, pg, vl = a2c_loss(logp, entropy, values, adv, ret, vf_coef=c.vf_coef, ent_coef=c.ent_coef, dim=1)
            self._step(loss)
            stats += torch.stack([pg.detach(), vl.detach(), entropy.mean(dim=1).detach()])
            count += 1
            if count == log_every or self.num_steps >= end or (next_callback and self.num_steps >= next_callback):
                s = (stats / count).numpy()
                for i, key in enumerate(("policy_loss", "value_loss", "entropy")):
                    self.stats[f"train/{key}"] = s[i].copy()
                stats.zero_()
                count = 0
            if next_callback is not None and callback is not None and self.num_steps >= next_callback:
                callback(self)
                next_callback = (self.num_steps // callback_every + 1) * callback_every


__all__ = ["PopulationA2C"]

"""What every population of single agents shares (issue 17): one single agent per seed, built first (the parameter
template and holder of its env, NumPy generator, counters and episode returns), a ``torch.Generator`` per member
started where that agent's global generator stands after construction, the checks, ``learn``.

A subclass sets ``agent_cls`` and ``config_cls``, stacks the members' networks in ``_build`` (called at the end of
``__init__``) and trains in ``_learn``. :class:`~dlfrontier.rl.population.dqn.PopulationDQN`,
:class:`~dlfrontier.rl.population.ppo.OnPolicyPopulation` (PPO, A2C),
:class:`~dlfrontier.rl.population.sac.PopulationSAC` and :class:`~dlfrontier.rl.population.td3.PopulationTD3`
derive from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from dlfrontier.errors import ConfigError
from dlfrontier.rl.common.algorithm import build_config, check_total_steps
from dlfrontier.runtime import cpu_threads


class Population:
    """K independent single agents of ``agent_cls``, one per seed, trained together.

    Args:
        env: a registered Gymnasium env id (each member makes its own envs).
        seeds: one seed per member.
        device: torch device.
        **config: the single agent's options (``config_cls``), as for ``agent_cls``.
    """

    name = "Population"
    agent_cls: Any = None
    config_cls: Any = None

    def __init__(self, env: str, seeds: Sequence[int] = (0, 1, 2, 3, 4), *, device: str | torch.device = "cpu",
                 **config: Any) -> None:
        self.config = build_config(self.config_cls, config)
        if not isinstance(env, str):
            raise ConfigError(f"{self.name} needs a registered env id (it makes each member's own envs), "
                              f"not a {type(env).__name__}")
        if len(seeds) == 0:
            raise ConfigError(f"{self.name}: seeds=[]: expected at least one seed")
        problem = self.unsupported(self.config)
        if problem:
            raise ConfigError(f"{self.name}: {problem}")
        self.env_id = env
        self.seeds = [int(s) for s in seeds]
        self.device = torch.device(device)
        self.members: list[Any] = []
        self.generators: list[torch.Generator] = []
        for s in self.seeds:
            self.members.append(self.agent_cls(env, seed=s, device=device, **config))
            g = torch.Generator(device=self.device)
            g.set_state(torch.get_rng_state())  # where the single agent's global generator stands now
            self.generators.append(g)
        self.num_steps = 0
        self.num_updates = 0
        self.stats: dict[str, np.ndarray] = {}
        self._build()

    def _build(self) -> None:
        """Stack the members' networks, make the optimizers and buffers."""
        raise NotImplementedError

    def _learn(self, total_steps: int, callback: Callable[[Any], Any] | None, callback_every: int) -> None:
        raise NotImplementedError

    @staticmethod
    def unsupported(config: Any) -> str | None:
        """Why the population path cannot train ``config`` (None: it can)."""
        return None

    @property
    def k(self) -> int:
        return len(self.seeds)

    def __repr__(self) -> str:
        return f"{self.name}(env={self.env_id!r}, seeds={self.seeds}, num_steps={self.num_steps})"

    @property
    def episode_returns(self) -> list[list[float]]:
        """Each member's finished training episode returns."""
        return [list(m.episode_returns) for m in self.members]

    def torch_rng_state(self, k: int) -> torch.Tensor:
        """Member ``k``'s torch generator state: what the single run's global generator holds at this point."""
        return self.generators[k].get_state()

    # -- off-policy members: one env each (``m.env``, ``m._obs``, ``m._ep_return``) and a member replay buffer
    def _start_episodes(self) -> None:
        """Reset each member's env as its single agent's ``_learn`` does (seed + steps so far), once."""
        for m in self.members:
            if m._obs is None:
                m._obs, _ = m.env.reset(seed=m.seed + self.num_steps)
                m._ep_return = 0.0
                m.adder.reset()

    def _env_step(self, i: int, action: Any) -> None:
        """Member ``i`` takes ``action``: the transition goes through the member's n-step adder to its part of
        ``self.buffer`` (a terminated episode is done, a truncated one bootstraps), a finished episode's return to
        its ``episode_returns``, as in the single agent's ``_learn``."""
        m = self.members[i]
        obs = m._obs
        next_obs, reward, terminated, truncated, _ = m.env.step(action)
        m._ep_return += float(reward)
        for tr in m.adder.push(obs, action, float(reward), next_obs, terminated, truncated):  # n-step, as the single
            self.buffer.add(i, *tr)  # type: ignore[attr-defined]
        if terminated or truncated:
            m.episode_returns.append(m._ep_return)
            m._ep_return = 0.0
            next_obs, _ = m.env.reset()
        m._obs = next_obs

    def learn(self, total_timesteps: int, callback: Callable[[Any], Any] | None = None, *,
              callback_every: int = 0) -> Any:
        """Train every member for ``total_timesteps`` more env steps (each; on-policy: summed over its own envs).

        ``callback(self)`` is called every ``callback_every`` steps (0: never; on-policy: after the rollout that
        reaches a multiple), as for a single agent.
        """
        total = check_total_steps(total_timesteps)
        callback_every = check_total_steps(callback_every)
        with cpu_threads(1 if self.device.type == "cpu" else None):
            self._learn(total, callback, callback_every)
        return self


__all__ = ["Population"]

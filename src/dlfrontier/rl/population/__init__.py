"""Populations: K independent agents (one per seed) trained in one process with stacked networks (issue 17).

:class:`PopulationDQN` and :class:`PopulationPPO`; :mod:`.layers` holds the stacked layers they share (SAC is to
follow). See :mod:`dlfrontier.rl.population.dqn` for the design.
"""

from dlfrontier.rl.population.dqn import PopulationDQN
from dlfrontier.rl.population.layers import StackedLinear, StackedSequential, clip_grad_norm_per_member_
from dlfrontier.rl.population.ppo import PopulationPPO

__all__ = ["PopulationDQN", "PopulationPPO", "StackedLinear", "StackedSequential", "clip_grad_norm_per_member_"]

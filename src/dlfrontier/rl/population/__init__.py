"""Populations: K independent agents (one per seed) trained in one process with stacked networks (issue 17).

:class:`PopulationDQN` is the first algorithm with a population path; :mod:`.layers` holds the stacked layers
that PPO and SAC populations are to reuse. See :mod:`dlfrontier.rl.population.dqn` for the design.
"""

from dlfrontier.rl.population.dqn import PopulationDQN
from dlfrontier.rl.population.layers import StackedLinear, StackedSequential, clip_grad_norm_per_member_

__all__ = ["PopulationDQN", "StackedLinear", "StackedSequential", "clip_grad_norm_per_member_"]

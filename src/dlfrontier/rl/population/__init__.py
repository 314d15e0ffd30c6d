"""Populations: K independent agents (one per seed) trained in one process with stacked networks (issue 17).

:class:`PopulationDQN`, :class:`PopulationPPO`, :class:`PopulationA2C` and :class:`PopulationSAC`; :mod:`.layers`
holds the stacked layers they share; :mod:`.runs` trains an experiment's seeds as one population. See
:mod:`dlfrontier.rl.population.dqn` for the design.
"""

from dlfrontier.rl.population.a2c import PopulationA2C
from dlfrontier.rl.population.dqn import PopulationDQN
from dlfrontier.rl.population.layers import StackedLinear, StackedSequential, clip_grad_norm_per_member_
from dlfrontier.rl.population.ppo import PopulationPPO
from dlfrontier.rl.population.sac import PopulationSAC

__all__ = ["PopulationA2C", "PopulationDQN", "PopulationPPO", "PopulationSAC", "StackedLinear", "StackedSequential",
           "clip_grad_norm_per_member_"]

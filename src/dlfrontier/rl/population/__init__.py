"""Populations: K independent agents (one per seed) trained in one process with stacked networks (issue 17).

:class:`PopulationDQN`, :class:`PopulationPPO`, :class:`PopulationA2C`, :class:`PopulationSAC` and
:class:`PopulationTD3`; :mod:`.layers` holds the stacked layers they share; :mod:`.runs` trains an experiment's
seeds as one population. See :mod:`dlfrontier.rl.population.dqn` for the design.
"""

from dlfrontier.rl.population.a2c import PopulationA2C
from dlfrontier.rl.population.dqn import PopulationDQN
from dlfrontier.rl.population.layers import (
    MemberGradClipper,
    StackedLinear,
    StackedSequential,
    clip_grad_norm_per_member_,
)
from dlfrontier.rl.population.ppo import PopulationPPO
from dlfrontier.rl.population.sac import PopulationSAC
from dlfrontier.rl.population.td3 import PopulationTD3

__all__ = ["MemberGradClipper", "PopulationA2C", "PopulationDQN", "PopulationPPO", "PopulationSAC", "PopulationTD3",
           "StackedLinear", "StackedSequential", "clip_grad_norm_per_member_"]

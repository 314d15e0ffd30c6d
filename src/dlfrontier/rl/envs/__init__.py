"""Business-decision environments (inventory, portfolio, ride dispatch) and the classic policies they must beat.

Reference: Hubbs et al., "OR-Gym: A Reinforcement Learning Library for Operations Research Problems" (2020,
https://arxiv.org/abs/2008.06319), whose inventory and portfolio problems these follow on the Gymnasium API.

Importing this package registers the Gymnasium ids ``dlfrontier/Inventory-v0``, ``dlfrontier/Portfolio-v0`` and
``dlfrontier/RideDispatch-v0``::

    import gymnasium as gym
    import dlfrontier.rl.envs  # noqa: F401  (registers the ids)

    env = gym.make("dlfrontier/Inventory-v0", backlog=False)
"""

from __future__ import annotations

import gymnasium as gym

from dlfrontier.rl.envs.dispatch import RideDispatchEnv
from dlfrontier.rl.envs.inventory import InventoryEnv
from dlfrontier.rl.envs.portfolio import PortfolioEnv

ENV_IDS = {
    "dlfrontier/Inventory-v0": "dlfrontier.rl.envs.inventory:InventoryEnv",
    "dlfrontier/Portfolio-v0": "dlfrontier.rl.envs.portfolio:PortfolioEnv",
    "dlfrontier/RideDispatch-v0": "dlfrontier.rl.envs.dispatch:RideDispatchEnv",
}

for _id, _entry in ENV_IDS.items():
    if _id not in gym.registry:
        # no TimeLimit: each env ends its own episodes (terminated at the horizon, which it observes)
        gym.register(id=_id, entry_point=_entry, disable_env_checker=True)

__all__ = ["ENV_IDS", "InventoryEnv", "PortfolioEnv", "RideDispatchEnv"]

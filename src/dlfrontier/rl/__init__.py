"""Deep reinforcement learning: value-based (DQN), policy-based (REINFORCE) and actor-critic (A2C, PPO, SAC, TD3).

Each algorithm lives in one readable file and shares its plumbing (buffers, returns, networks, env factory,
evaluation) from :mod:`dlfrontier.rl.common`. The public API follows Stable-Baselines3's habit::

    from dlfrontier.rl import PPO
    agent = PPO("CartPole-v1", seed=0).learn(100_000)
    action, _ = agent.predict(obs, deterministic=True)   # (action, state), as SB3
    agent.save("ppo.pt"); agent = PPO.load("ppo.pt")

Papers: Mnih et al., "Human-level control through deep reinforcement learning" (2015,
https://www.nature.com/articles/nature14236); Williams, "Simple statistical gradient-following algorithms"
(1992); Mnih et al., "Asynchronous Methods for Deep RL" (2016, https://arxiv.org/abs/1602.01783); Schulman
et al., "Proximal Policy Optimization Algorithms" (2017, https://arxiv.org/abs/1707.06347); Haarnoja et al.,
"Soft Actor-Critic Algorithms and Applications" (2018, https://arxiv.org/abs/1812.05905); Fujimoto et al.,
"Addressing Function Approximation Error in Actor-Critic Methods" (2018, https://arxiv.org/abs/1802.09477);
Kostrikov et al., "Image Augmentation Is All You Need" (DrQ, SAC from camera images, 2020,
https://arxiv.org/abs/2004.13649).
"""

from dlfrontier.rl.a2c import A2C, A2CConfig
from dlfrontier.rl.common.algorithm import ALGORITHMS, Algorithm
from dlfrontier.rl.dqn import DQN, DQNConfig
from dlfrontier.rl.drq import DrQ, DrQConfig
from dlfrontier.rl.ppo import PPO, PPOConfig
from dlfrontier.rl.reinforce import REINFORCE, REINFORCEConfig
from dlfrontier.rl.sac import SAC, SACConfig
from dlfrontier.rl.td3 import TD3, TD3Config

__all__ = [
    "A2C",
    "ALGORITHMS",
    "DQN",
    "DrQ",
    "PPO",
    "REINFORCE",
    "SAC",
    "TD3",
    "A2CConfig",
    "Algorithm",
    "DQNConfig",
    "DrQConfig",
    "PPOConfig",
    "REINFORCEConfig",
    "SACConfig",
    "TD3Config",
]

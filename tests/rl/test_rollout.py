"""On-policy rollouts: truncated episodes bootstrap from the true final observation, not the reset one."""

import gymnasium as gym
import numpy as np
import torch

from dlfrontier.rl.common.env import make_vec_env
from dlfrontier.rl.common.networks import ActorCritic, mlp_features
from dlfrontier.rl.common.rollout import RolloutCollector


class _Clock(gym.Env):
    """Observation ``[t / 10]``, reward 1, truncated after 3 steps, never terminated."""

    observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t / 10], np.float32), 1.0, False, self.t >= 3, {}


def test_truncation_bootstraps_from_final_observation():
    torch.manual_seed(0)
    envs = make_vec_env(_Clock(), 1)
    policy = ActorCritic(envs.single_observation_space, envs.single_action_space, mlp_features((8,)))
    ro = RolloutCollector(envs, policy, seed=0, device=torch.device("cpu")).collect(5)

    def v(x: float) -> float:
        with torch.no_grad():
            return float(policy.value(torch.tensor([[x]])))

    assert ro.episode_end[:, 0].tolist() == [False, False, True, False, False]
    assert not ro.terminated.any()
    assert np.allclose(ro.obs[:, 0, 0], [0.0, 0.1, 0.2, 0.0, 0.1])  # reset after the third step
    assert np.isclose(ro.next_values[2, 0], v(0.3), atol=1e-6)  # the final observation, not the reset one
    assert np.isclose(ro.values[3, 0], v(0.0), atol=1e-6)
    assert np.isclose(ro.next_values[4, 0], v(0.2), atol=1e-6)  # the rollout's last step bootstraps too

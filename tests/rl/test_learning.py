"""Learning tests: each algorithm beats a random policy by a clear margin within a small budget (one seed).

Random-policy returns for reference: CartPole-v1 about 22, Pendulum-v1 about -1200.
"""

from __future__ import annotations

import numpy as np
import pytest

from dlfrontier.rl import A2C, DQN, PPO, REINFORCE, SAC, Algorithm
from dlfrontier.rl.common.evaluation import evaluate_policy, greedy

CASES = [
    # (algorithm, env, steps, config, threshold on the mean eval return over 10 episodes)
    (DQN, "CartPole-v1", 12_000, {"double": True, "n_step": 3, "learning_rate": 1e-3}, 100.0),
    (PPO, "CartPole-v1", 20_480, {"n_envs": 8, "n_steps": 32, "batch_size": 256, "gae_lambda": 0.8, "gamma": 0.98,
                                  "n_epochs": 20, "learning_rate": 1e-3}, 150.0),
    (A2C, "CartPole-v1", 40_000, {"n_envs": 8}, 100.0),
    (REINFORCE, "CartPole-v1", 30_000, {}, 100.0),
    (SAC, "Pendulum-v1", 4_000, {"hidden": (64, 64)}, -600.0),
]


@pytest.mark.slow
@pytest.mark.parametrize("cls,env_id,steps,config,threshold", CASES, ids=[c[0].name for c in CASES])
def test_beats_random(cls: type[Algorithm], env_id: str, steps: int, config: dict, threshold: float):
    agent = cls(env_id, seed=0, **config).learn(steps)
    returns = evaluate_policy(greedy(agent), agent.make_eval_env(), 10, seed=123)
    assert np.mean(returns) >= threshold, (np.mean(returns), returns)

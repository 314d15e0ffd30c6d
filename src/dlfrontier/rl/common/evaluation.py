"""Evaluation on a separate env: deterministic actions, a fixed number of episodes, a fixed seed.

Paper: Machado et al., "Revisiting the Arcade Learning Environment: Evaluation Protocols and Open Problems"
(2018, https://arxiv.org/abs/1709.06009) on reporting returns of separate evaluation episodes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np


def greedy(agent: Any) -> Callable[[np.ndarray], np.ndarray]:
    """``obs -> action`` of an agent with the Stable-Baselines3 ``predict``: its deterministic action."""

    def act(obs: np.ndarray) -> np.ndarray:
        return agent.predict(obs, deterministic=True)[0]

    return act


def evaluate_policy(
    predict: Callable[[np.ndarray], np.ndarray], env: gym.Env, episodes: int, *, seed: int = 0
) -> np.ndarray:
    """Returns of ``episodes`` full episodes of ``predict(obs) -> action`` on ``env``.

    The env is reset with ``seed`` for the first episode (later resets continue its generator), so the same
    policy always sees the same start states.

    Returns:
        ``[episodes]`` float64 undiscounted returns.
    """
    returns = np.zeros(episodes)
    obs, _ = env.reset(seed=seed)
    for k in range(episodes):
        done, total = False, 0.0
        while not done:
            obs, reward, terminated, truncated, _ = env.step(predict(obs))
            total += float(reward)
            done = terminated or truncated
        returns[k] = total
        obs, _ = env.reset()
    return returns


EVAL_SEED = 10_000  # every run and every evaluation point of the RL experiments sees the same evaluation episodes


class ReturnEvaluation:
    """``agent -> metrics``: deterministic episodes on a separate env from a fixed seed (an Evaluator's evaluate).

    Returns ``eval/return`` (the mean), ``eval/return_std`` and ``rollout/return`` (the mean of the last 20
    training episodes; ``nan`` before the first one ends).
    """

    def __init__(self, env: gym.Env, episodes: int, *, seed: int = EVAL_SEED) -> None:
        self.env, self.episodes, self.seed = env, int(episodes), int(seed)

    def __call__(self, agent: Any) -> dict[str, float]:
        returns = evaluate_policy(greedy(agent), self.env, self.episodes, seed=self.seed)
        return {"eval/return": float(returns.mean()), "eval/return_std": float(returns.std()),
                "rollout/return": agent.recent_return()}

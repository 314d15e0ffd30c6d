"""The business figures are written from real episodes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import dlfrontier.rl.envs  # noqa: F401  (registers the ids)
from dlfrontier.rl.envs import plots
from dlfrontier.rl.envs.baselines import BaseStockPolicy, EqualWeightPolicy, greedy_dispatch


def test_play_episode_returns_a_copy_of_the_history() -> None:
    env = gym.make("dlfrontier/RideDispatch-v0", n_drivers=4).unwrapped
    pol = greedy_dispatch(env)
    h = plots.play_episode(env, pol, seed=3)
    assert h is not env.history and len(h["served"]) > 0
    assert plots.play_episode(env, pol, seed=3)["served"] == h["served"]  # a seed fixes the scenario


def test_learning_curve(tmp_path) -> None:
    path = plots.plot_learning_curve(tmp_path / "c.png", [(0, -5.0), (100, 1.0)], [(50, float("nan")), (100, 0.5)],
                                     {"greedy": 0.0})
    assert path.stat().st_size > 1000


@pytest.mark.parametrize("kind", ["inventory", "portfolio", "dispatch"])
def test_traces(kind: str, tmp_path) -> None:
    if kind == "inventory":
        env = gym.make("dlfrontier/Inventory-v0").unwrapped
        runs = {"ppo": (BaseStockPolicy(env, np.full(env.n_stock, 20.0)), env)}
        trace = plots.inventory_trace
    elif kind == "portfolio":
        env = gym.make("dlfrontier/Portfolio-v0").unwrapped
        runs = {"ppo": (EqualWeightPolicy(env), env), "equal_weight": (EqualWeightPolicy(env), env)}
        trace = plots.portfolio_trace
    else:
        env = gym.make("dlfrontier/RideDispatch-v0", n_drivers=4).unwrapped
        runs = {"ppo": (greedy_dispatch(env), env)}
        trace = plots.dispatch_trace
    assert trace(tmp_path / "t.png", runs, 20_000).stat().st_size > 1000

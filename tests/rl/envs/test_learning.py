"""A real learning signal: a short PPO run on the inventory chain beats random ordering by far."""

from __future__ import annotations

import gymnasium as gym
import pytest

import dlfrontier.rl.envs  # noqa: F401
from dlfrontier.rl.envs.baselines import RandomPolicy, evaluate_episodes


@pytest.mark.slow
def test_ppo_learns_inventory_beyond_random() -> None:
    from dlfrontier.rl.ppo import PPO

    env = gym.make("dlfrontier/Inventory-v0", normalize=True)
    agent = PPO(env, seed=0, n_envs=8, n_steps=256, batch_size=256, log_std_init=-1.0).learn(12_288)
    seeds = range(20_000, 20_005)
    ppo = evaluate_episodes(agent, env.unwrapped, seeds)["return"].mean()
    rand = evaluate_episodes(RandomPolicy(env.action_space, seed=0), env.unwrapped, seeds)["return"].mean()
    assert ppo > rand + 300, (ppo, rand)

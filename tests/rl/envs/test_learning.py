"""Real learning signals: short PPO runs beat random ordering (inventory) and greedy dispatch (dispatch templates)."""

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


@pytest.mark.slow
def test_ppo_over_dispatch_templates_beats_greedy() -> None:
    """A categorical policy over the 7 dispatch rules learns a time-of-day schedule: in 20k steps it is
    about 12 above greedy dispatch on these scenarios (measured: 174.9 and 175.3 against 162.4, seeds 0 and 1)."""
    from dlfrontier.rl.envs.baselines import greedy_dispatch
    from dlfrontier.rl.ppo import PPO

    env = gym.make("dlfrontier/RideDispatch-v0", action_mode="templates")
    agent = PPO(env, seed=0, n_envs=8, n_steps=256, batch_size=256).learn(20_480)
    seeds = range(20_000, 20_010)
    ppo = evaluate_episodes(agent, env.unwrapped, seeds)["return"].mean()
    base_env = gym.make("dlfrontier/RideDispatch-v0").unwrapped  # same scenarios, the continuous action
    greedy = evaluate_episodes(greedy_dispatch(base_env), base_env, seeds)["return"].mean()
    assert ppo > greedy + 5, (ppo, greedy)

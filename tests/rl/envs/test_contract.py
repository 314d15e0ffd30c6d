"""Contract of every business env: registered ids, check_env, determinism, renders, invalid actions, bad params."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import dlfrontier.rl.envs  # noqa: F401  (registers the ids)
from dlfrontier.rl.envs import ENV_IDS

IDS = sorted(ENV_IDS)
# unbounded observation spaces are deliberate (stock levels, returns); check_env only warns about them
pytestmark = pytest.mark.filterwarnings("ignore:.*infinity")


def rollout(env: gym.Env, seed: int, steps: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Observations and rewards of ``steps`` steps with a fixed (seeded) action sequence, across resets."""
    acts = np.random.default_rng(123)
    obs, _ = env.reset(seed=seed)
    all_obs, rewards = [obs], []
    low, high = env.action_space.low, env.action_space.high
    for _ in range(steps):
        a = acts.uniform(low, high).astype(np.float32)
        obs, r, term, trunc, _ = env.step(a)
        all_obs.append(obs)
        rewards.append(r)
        if term or trunc:
            obs, _ = env.reset()
            all_obs.append(obs)
    return np.stack(all_obs), np.asarray(rewards)


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("render_mode", [None, "ansi", "rgb_array"])
def test_check_env(env_id: str, render_mode: str | None) -> None:
    env = gym.make(env_id, render_mode=render_mode)
    check_env(env.unwrapped, skip_render_check=render_mode is None)


@pytest.mark.parametrize("env_id", IDS)
def test_deterministic_given_seed(env_id: str) -> None:
    obs_a, rew_a = rollout(gym.make(env_id), seed=7, steps=60)
    obs_b, rew_b = rollout(gym.make(env_id), seed=7, steps=60)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(rew_a, rew_b)
    _, rew_c = rollout(gym.make(env_id), seed=8, steps=60)
    assert not np.array_equal(rew_a, rew_c), "a different seed should give a different scenario"


@pytest.mark.parametrize("env_id", IDS)
def test_renders(env_id: str) -> None:
    env = gym.make(env_id, render_mode="ansi")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    text = env.render()
    assert isinstance(text, str) and text.strip()
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    img = env.render()
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert img.min() < 255, "the picture should not be blank"


@pytest.mark.parametrize("env_id", IDS)
def test_invalid_actions(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    n = env.action_space.shape[0]
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(n + 1, dtype=np.float32))
    bad = np.zeros(n, dtype=np.float32)
    bad[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        env.step(bad)
    strict = gym.make(env_id, strict=True).unwrapped
    strict.reset(seed=0)
    with pytest.raises(ValueError, match="strict"):
        strict.step(np.full(n, -5.0, dtype=np.float32))


@pytest.mark.parametrize("env_id", IDS)
def test_out_of_bounds_actions_are_clipped(env_id: str) -> None:
    env_a, env_b = gym.make(env_id).unwrapped, gym.make(env_id).unwrapped
    env_a.reset(seed=3)
    env_b.reset(seed=3)
    wild = np.linspace(-5, 500, env_a.action_space.shape[0]).astype(np.float32)
    clipped = np.clip(wild, env_a.action_space.low, env_a.action_space.high)
    out_a, out_b = env_a.step(wild), env_b.step(clipped)
    np.testing.assert_array_equal(out_a[0], out_b[0])
    assert out_a[1] == out_b[1]


@pytest.mark.parametrize(
    ("env_id", "kwargs", "name"),
    [
        ("dlfrontier/Inventory-v0", {"periods": 0}, "periods"),
        ("dlfrontier/Inventory-v0", {"capacity": (100, 0, 80)}, "capacity"),
        ("dlfrontier/Inventory-v0", {"lead_time": (1, 2)}, "lead_time"),
        ("dlfrontier/Inventory-v0", {"holding_cost": (0.1, -1, 0.1)}, "holding_cost"),
        ("dlfrontier/Inventory-v0", {"demand": "normal"}, "demand"),
        ("dlfrontier/Inventory-v0", {"demand_params": {"sigma": 1}}, "demand_params"),
        ("dlfrontier/Inventory-v0", {"discount": 1.5}, "discount"),
        ("dlfrontier/Portfolio-v0", {"cost": 1.0}, "cost"),
        ("dlfrontier/Portfolio-v0", {"window": 0}, "window"),
        ("dlfrontier/Portfolio-v0", {"regimes": ((0.0, -0.1, 0.0),)}, "regime"),
        ("dlfrontier/Portfolio-v0", {"switch": (0.1,)}, "switch"),
        ("dlfrontier/Portfolio-v0", {"prices_csv": "/nonexistent/prices.csv"}, "prices_csv"),
        ("dlfrontier/RideDispatch-v0", {"n_drivers": 0}, "n_drivers"),
        ("dlfrontier/RideDispatch-v0", {"rate": -1.0}, "rate"),
        ("dlfrontier/RideDispatch-v0", {"patience": 0}, "patience"),
    ],
)
def test_bad_parameters_name_the_value(env_id: str, kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        gym.make(env_id, **kwargs)


@pytest.mark.parametrize("env_id", IDS)
def test_step_after_end_raises(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    done = False
    while not done:
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        done = term or trunc
    with pytest.raises(RuntimeError, match="reset"):
        env.step(env.action_space.sample())

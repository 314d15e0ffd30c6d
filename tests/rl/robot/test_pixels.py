"""The camera-image wrapper on MuJoCo envs: shapes, stacking order, determinism, visible frames, action repeat."""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
import pytest

import dlfrontier.rl.robot  # noqa: F401  (registers the pixel tasks)
from dlfrontier.rl.robot import PIXEL_TASKS, PixelObservation, make_pixel_env

IP = "dlfrontier/InvertedPendulumPixels-v5"
REACHER = "dlfrontier/ReacherPixels-v5"


def test_headless_backend_is_set():
    assert os.environ.get("MUJOCO_GL")  # egl unless the user chose another backend


@pytest.mark.parametrize("task,height,width", [(IP, 48, 96), (REACHER, 64, 64)])
def test_shapes_dtype_and_render(task: str, height: int, width: int):
    assert PIXEL_TASKS[task][2:] == (width, height)
    env = gym.make(task)
    assert env.observation_space == gym.spaces.Box(0, 255, (9, height, width), np.uint8)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (9, height, width) and obs.dtype == np.uint8 and env.observation_space.contains(obs)
    obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
    assert obs.shape == (9, height, width) and obs.dtype == np.uint8 and isinstance(reward, float)
    frame = env.render()
    assert frame.shape == (height, width, 3) and frame.dtype == np.uint8


def test_whole_rail_and_pole_in_the_pendulum_frame():
    """The cart at either end of its range is still in view, and the upright pole is a tall bright column."""
    env = gym.make(IP)
    env.reset(seed=0)
    u = env.unwrapped
    for x in (-1.0, 1.0):
        u.set_state(np.array([x, 0.0]), np.zeros(2))
        frame = u.render()
        assert ((frame[..., 0] > 150) & (frame[..., 2] < 100)).any()  # the cart (yellow): red high, blue low
    u.set_state(np.array([0.0, 0.0]), np.zeros(2))
    frame = u.render()
    cyan = (frame[..., 1] > 150) & (frame[..., 0] < 100)  # the pole (cyan): green high, red low
    rows = np.flatnonzero(cyan.any(axis=1))
    assert rows.max() - rows.min() >= 24  # about 30 pixels tall


def test_invalid_frame_size_is_a_clear_error():
    with pytest.raises(ValueError, match="width and height"):
        make_pixel_env("InvertedPendulum-v5", size=(0, 48))


def test_size_frame_stack_and_repeat_can_be_overridden():
    env = gym.make(IP, size=32, frame_stack=2, action_repeat=1)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (6, 32, 32)
    assert env.unwrapped.frame_skip == 2 and env.get_wrapper_attr("action_repeat") == 1


def test_frames_are_stacked_oldest_first_newest_last():
    env = gym.make(IP, action_repeat=1)
    obs, _ = env.reset(seed=1)
    assert np.array_equal(obs[0:3], obs[3:6]) and np.array_equal(obs[3:6], obs[6:9])  # a reset repeats its frame
    history = [obs]
    for a in (3.0, 3.0, -3.0):
        obs, *_ = env.step(np.array([a], np.float32))
        history.append(obs)
        assert np.array_equal(obs[6:9], env.render().transpose(2, 0, 1))  # the newest frame is the current state
    for prev, cur in zip(history, history[1:], strict=False):
        assert np.array_equal(cur[0:6], prev[3:9])  # shifted by one frame
        assert not np.array_equal(cur[6:9], prev[6:9])  # the cart moved


def test_same_seed_same_observations():
    def rollout(seed: int) -> list[np.ndarray]:
        env = gym.make(REACHER)
        obs, _ = env.reset(seed=seed)
        out = [obs]
        for a in np.linspace(-1, 1, 8).reshape(4, 2):
            out.append(env.step(a.astype(np.float32))[0])
        return out

    a, b, c = rollout(5), rollout(5), rollout(6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])  # another target position


@pytest.mark.parametrize("task,min_std", [(IP, 20.0), (REACHER, 10.0)])
def test_frames_are_not_blank(task: str, min_std: float):
    """The chosen cameras show the scene: the default InvertedPendulum camera gives a std of about 14 (dark)."""
    env = gym.make(task)
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        obs, *_ = env.step(env.action_space.sample())
    frame = obs[6:9].astype(np.float64)
    assert frame.std() > min_std
    assert (frame.max(axis=0) > 150).mean() > 0.01  # some bright pixels (the cart, the pole / the arm)


def test_action_repeat_sums_rewards_of_the_underlying_env():
    actions = [np.array([0.3, -0.2], np.float32), np.array([-0.5, 0.4], np.float32)]
    wrapped = make_pixel_env("Reacher-v5", size=32, action_repeat=3)
    raw = gym.make("Reacher-v5")
    wrapped.reset(seed=2)
    raw.reset(seed=2)
    for a in actions:
        _, reward, *_ = wrapped.step(a)
        expected = sum(float(raw.step(a)[1]) for _ in range(3))
        assert reward == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_action_repeat_stops_at_episode_end():
    env = make_pixel_env("InvertedPendulum-v5", size=32, action_repeat=50)
    env.reset(seed=0)
    _, reward, terminated, truncated, _ = env.step(np.array([3.0], np.float32))  # full push: the pole falls
    assert terminated and not truncated and 1.0 <= reward < 50.0


def test_needs_rgb_array_rendering():
    with pytest.raises(ValueError, match="rgb_array"):
        PixelObservation(gym.make("InvertedPendulum-v5"))

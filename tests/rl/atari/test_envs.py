"""MinAtar and ALE envs: Gymnasium's env checker, seeding, rendering, the Nature preprocessing on real Breakout."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from dlfrontier.rl.atari.minatar import GAMES, PALETTE, minatar_id, render_grid
from dlfrontier.rl.atari.networks import MinAtarCNN, NatureCNN
from dlfrontier.rl.atari.wrappers import atari_id, make_atari_env


@pytest.mark.parametrize("game", sorted(GAMES))
def test_minatar_env_passes_the_checker_and_is_seeded(game: str):
    env = gym.make(minatar_id(game))
    check_env(env.unwrapped, skip_render_check=True)
    runs = []
    for _ in range(2):
        obs, _ = env.reset(seed=3)
        trace = [obs]
        for a in [1, 3, 5, 0, 2, 4] * 5:
            obs, r, term, trunc, _ = env.step(a)
            trace.append(obs)
            if term:
                break
        runs.append(np.stack(trace))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert runs[0].dtype == np.uint8 and set(np.unique(runs[0])) <= {0, 1}


def test_minatar_renders_a_coloured_upscaled_grid():
    env = gym.make(minatar_id("Breakout"), render_mode="rgb_array")
    env.reset(seed=0)
    img = env.render()
    assert img.shape == (160, 160, 3) and img.dtype == np.uint8 and len(np.unique(img.reshape(-1, 3), axis=0)) >= 4
    state = np.zeros((10, 10, 2), np.uint8)
    state[0, 0, 0] = state[0, 0, 1] = 1
    np.testing.assert_array_equal(render_grid(state, scale=1)[0, 0], PALETTE[1])  # the highest channel wins


def test_unknown_minatar_game_names_the_choices():
    with pytest.raises(ValueError, match="Breakout"):
        minatar_id("Pong")


def test_feature_extractors_take_raw_uint8_observations():
    space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    net = NatureCNN(space)
    x = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    assert net(x).shape == (2, 512) and net.out_dim == 512
    grid = MinAtarCNN(gym.spaces.Box(0, 1, (10, 10, 7), np.uint8))
    assert grid(torch.ones(3, 10, 10, 7, dtype=torch.uint8)).shape == (3, 128)
    with pytest.raises(TypeError, match="C, H, W"):
        NatureCNN(gym.spaces.Box(0, 1, (5,)))


def test_ale_breakout_with_the_nature_preprocessing():
    env = make_atari_env("Breakout", training=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8 and env.observation_space.contains(obs)
    rewards, terminated = [], False
    for _ in range(400):
        obs, r, terminated, truncated, info = env.step(env.action_space.sample())
        rewards.append(r)
        if terminated:
            break
    assert terminated and info["lives"] == 4  # episodic life: the first lost life ends the learner's episode
    assert set(rewards) <= {0.0, 1.0}
    ev = gym.make(atari_id("Breakout"), training=False)
    assert ev.observation_space.shape == (4, 84, 84)


def test_actor_critic_initialises_the_cnn_orthogonally():
    """PPO's implementation detail covers the convolutions: orthogonal with gain sqrt(2), zero bias; heads 0.01 / 1."""
    from dlfrontier.rl.common.networks import ActorCritic

    torch.manual_seed(0)
    obs = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    net = ActorCritic(obs, gym.spaces.Discrete(4), lambda space: NatureCNN(space), share_features=True)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 3
    for conv in convs:
        w = conv.weight.flatten(1)  # [out, in*k*k]: rows orthonormal up to the gain (out <= in*k*k here)
        torch.testing.assert_close(w @ w.T, 2.0 * torch.eye(w.shape[0]), atol=1e-4, rtol=0)
        assert not conv.bias.any()
    pi = net.pi_head.weight
    torch.testing.assert_close(pi @ pi.T, 1e-4 * torch.eye(pi.shape[0]), atol=1e-8, rtol=0)
    # the features of a real-looking frame are O(1), not the ~0.02 of PyTorch's default init
    x = torch.randint(0, 256, (8, 4, 84, 84), dtype=torch.uint8)
    assert float(net.pi_features(x).detach().std()) > 0.1

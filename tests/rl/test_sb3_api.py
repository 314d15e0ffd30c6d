"""The Stable-Baselines3 conventions users rely on: ``predict -> (action, state)``, ``learn(total_timesteps,
callback=..., progress_bar=...)``, ``verbose`` and a readable ``repr`` (issue 16)."""

from __future__ import annotations

import inspect

import gymnasium as gym
import numpy as np
import pytest
import torch

from dlfrontier.errors import ConfigError
from dlfrontier.rl import ALGORITHMS, DQN, PPO, SAC
from dlfrontier.rl.envs.baselines import BaseStockPolicy, RandomPolicy

TINY = {"n_envs": 1, "n_steps": 32, "batch_size": 32, "n_epochs": 1, "hidden": (8,)}


def test_predict_has_sb3_signature_and_returns_action_and_state():
    for name in ALGORITHMS:
        params = inspect.signature(ALGORITHMS.get(name).predict).parameters
        assert list(params)[:5] == ["self", "obs", "state", "episode_start", "deterministic"], name
        assert params["deterministic"].default is False and params["state"].default is None
    agent = PPO("CartPole-v1", seed=0, **TINY)
    obs = np.zeros(4, np.float32)
    action, state = agent.predict(obs, deterministic=True)
    assert state is None and agent.action_space.contains(int(action))
    batch, state = agent.predict(np.zeros((3, 4), np.float32), state=None, episode_start=np.ones(3, bool),
                                 deterministic=True)
    assert batch.shape == (3,) and state is None
    marker = object()  # a recurrent caller's state comes back unchanged, as SB3's feed-forward policies do
    assert agent.predict(obs, state=marker, deterministic=True)[1] is marker


def test_predict_samples_by_default_and_is_greedy_when_asked():
    agent = SAC("Pendulum-v1", seed=0, hidden=(8,))
    obs = np.array([1.0, 0.0, 0.0], np.float32)
    greedy = {float(agent.predict(obs, deterministic=True)[0][0]) for _ in range(5)}
    sampled = {float(agent.predict(obs)[0][0]) for _ in range(5)}
    assert len(greedy) == 1 and len(sampled) == 5


def test_baseline_policies_share_the_agent_interface():
    space = gym.spaces.Discrete(3)
    action, state = RandomPolicy(space).predict(np.zeros(2), deterministic=True)
    assert state is None and space.contains(action)
    env = gym.make("dlfrontier/Inventory-v0")
    obs, _ = env.reset(seed=0)
    action, state = BaseStockPolicy(env, [15, 60, 100]).predict(obs)
    assert state is None and env.action_space.contains(np.asarray(action, dtype=env.action_space.dtype))


def _params(agent) -> list[torch.Tensor]:
    return [p.detach().clone() for m in agent._modules().values() if isinstance(m, torch.nn.Module)
            for p in m.parameters()]


@pytest.mark.parametrize("cls,kw", [(PPO, TINY), (DQN, {"hidden": (8,), "learning_starts": 20, "batch_size": 8,
                                                          "buffer_size": 200, "train_freq": 4})])
def test_learn_takes_callback_positionally_and_a_progress_bar_changes_nothing(cls, kw, capsys):
    seen: list[int] = []
    plain = cls("CartPole-v1", seed=3, **kw).learn(128)
    with_bar = cls("CartPole-v1", seed=3, **kw).learn(total_timesteps=128, callback=None, progress_bar=True)
    called = cls("CartPole-v1", seed=3, **kw)
    assert called.learn(128, lambda a: seen.append(a.num_steps), callback_every=64) is called
    assert seen and all(s >= 64 for s in seen)
    for a, b, c in zip(_params(plain), _params(with_bar), _params(called), strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)
    assert "128/128" in capsys.readouterr().err  # the rich bar, on stderr


def test_verbose_prints_one_summary_line_per_interval(capsys):
    PPO("CartPole-v1", seed=0, verbose=1, **TINY).learn(128, callback_every=64)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("PPO CartPole-v1 | steps ") for line in lines), lines
    assert "steps 64 |" in lines[0] and "steps 128 |" in lines[1] and "train/policy_loss" in lines[1]
    PPO("CartPole-v1", seed=0, **TINY).learn(128, callback_every=64)
    assert capsys.readouterr().out == ""
    PPO("CartPole-v1", seed=0, verbose=1, **TINY).learn(320)  # no interval: about every tenth of the run
    assert 5 <= len(capsys.readouterr().out.strip().splitlines()) <= 11
    with pytest.raises(ConfigError, match="verbose"):
        PPO("CartPole-v1", verbose=2)


def test_repr_names_algorithm_env_settings_and_steps():
    agent = PPO("CartPole-v1", seed=7, **TINY).learn(64)
    text = repr(agent)
    assert text.startswith("PPO(env='CartPole-v1', ") and "learning_rate=0.0003" in text and "seed=7" in text
    assert "num_steps=64" in text and len(text) < 160

"""Contract tests parametrized over every algorithm: learn, predict, save/load round trip, seeding, errors."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from dlfrontier import CheckpointError, ConfigError
from dlfrontier.rl import A2C, ALGORITHMS, DQN, PPO, REINFORCE, SAC, Algorithm

# tiny settings so a few hundred steps exercise every code path (training included)
SMALL: dict[str, dict] = {
    "DQN": {"learning_starts": 64, "train_freq": 4, "gradient_steps": 2, "batch_size": 16, "hidden": (16,),
            "target_update_interval": 20, "buffer_size": 1000},
    "PPO": {"n_envs": 2, "n_steps": 32, "batch_size": 16, "n_epochs": 2, "hidden": (16,)},
    "A2C": {"n_envs": 2, "n_steps": 5, "hidden": (16,)},
    "REINFORCE": {"episodes_per_update": 1, "hidden": (16,)},
    "SAC": {"learning_starts": 64, "batch_size": 16, "hidden": (16,), "buffer_size": 1000},
    "TD3": {"learning_starts": 64, "batch_size": 16, "hidden": (16,), "buffer_size": 1000},
}
PIXELS_ONLY = {"DrQ"}  # learns from camera images: its contract tests are in tests/rl/test_drq.py
CASES = [
    (name, env_id)
    for name in ALGORITHMS
    if name not in PIXELS_ONLY
    for cls in [ALGORITHMS.get(name)]
    for env_id, space in (("CartPole-v1", gym.spaces.Discrete), ("Pendulum-v1", gym.spaces.Box))
    if space in cls.action_spaces
]


def _params(agent: Algorithm) -> list[torch.Tensor]:
    modules = [m for m in agent._modules().values() if isinstance(m, torch.nn.Module)]
    return [p.detach().clone() for m in modules for p in m.parameters()]


def _probe_obs(env_id: str) -> np.ndarray:
    space = gym.make(env_id).observation_space
    space.seed(0)
    return np.stack([space.sample() for _ in range(16)]).astype(np.float32)


def test_every_algorithm_is_covered():
    assert {name for name, _ in CASES} == set(ALGORITHMS) - PIXELS_ONLY
    assert set(ALGORITHMS) == {"DQN", "PPO", "A2C", "REINFORCE", "SAC", "TD3", "DrQ"}
    assert len(CASES) == 9


@pytest.mark.parametrize("name,env_id", CASES)
def test_learn_predict_save_load_round_trip(name: str, env_id: str, tmp_path: Path):
    cls = ALGORITHMS.get(name)
    agent = cls(env_id, seed=0, **SMALL[name])
    before = _params(agent)
    agent.learn(300)
    assert agent.num_steps >= 300 and agent.num_updates > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, _params(agent), strict=True)), "learn changed nothing"
    obs = _probe_obs(env_id)
    actions, state = agent.predict(obs, deterministic=True)
    assert state is None
    space = agent.action_space
    assert all(space.contains(np.asarray(a, dtype=space.dtype)) for a in actions)
    single, _ = agent.predict(obs[0], deterministic=True)
    assert np.allclose(np.asarray(single), np.asarray(actions[0]), atol=1e-5)  # batched matmul may round differently
    path = agent.save(tmp_path / "agent.pt")
    loaded = cls.load(path)
    assert np.array_equal(loaded.predict(obs, deterministic=True)[0], actions)
    assert loaded.num_steps == agent.num_steps and loaded.config == agent.config
    for a, b in zip(_params(agent), _params(loaded), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name,env_id", CASES)
def test_same_seed_same_result(name: str, env_id: str):
    cls = ALGORITHMS.get(name)
    runs = [cls(env_id, seed=3, **SMALL[name]).learn(200) for _ in range(2)]
    for a, b in zip(_params(runs[0]), _params(runs[1]), strict=True):
        assert torch.equal(a, b)
    assert runs[0].episode_returns == runs[1].episode_returns
    other = cls(env_id, seed=4, **SMALL[name]).learn(200)
    assert any(not torch.equal(a, b) for a, b in zip(_params(runs[0]), _params(other), strict=True))


def test_training_state_round_trip_continues_identically():
    """A DQN resumed from its full state (buffer included) trains to the same parameters."""
    a = DQN("CartPole-v1", seed=1, **SMALL["DQN"]).learn(200)
    b = DQN("CartPole-v1", seed=1, **SMALL["DQN"])
    b.load_state_dict(a.state_dict())
    b._obs, b._ep_return = a._obs, a._ep_return
    b.env = a.env  # share the env position: only the algorithm's state is under test
    a_params = [p.clone() for p in a.q_net.parameters()]
    for p, q in zip(a_params, b.q_net.parameters(), strict=True):
        assert torch.equal(p, q)
    assert np.array_equal(b.buffer.obs, a.buffer.obs) and b.rng.random() == a.rng.random()


def test_unsupported_action_space_names_alternatives():
    with pytest.raises(TypeError, match=r"DQN supports Discrete.*not Box.*PPO.*SAC"):
        DQN("Pendulum-v1")
    with pytest.raises(TypeError, match=r"SAC supports Box.*not Discrete.*A2C.*DQN"):
        SAC("CartPole-v1")


def test_config_errors_and_bad_files(tmp_path: Path):
    with pytest.raises(ConfigError, match="valid: learning_rate"):
        PPO("CartPole-v1", learning_rat=1e-3)
    with pytest.raises(ConfigError, match="cannot make env"):
        PPO("NoSuchEnv-v0")
    path = A2C("CartPole-v1", **SMALL["A2C"]).save(tmp_path / "a2c.pt")
    with pytest.raises(CheckpointError, match="A2C"):
        PPO.load(path)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        PPO.load(tmp_path / "bad.pt")


class _Chain(gym.Env):
    """An unregistered toy env: walk right along a chain of 5 states for reward 1 at the end."""

    observation_space = gym.spaces.Box(0.0, 1.0, (5,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos, self.t = 0, 0
        return self._obs(), {}

    def _obs(self):
        o = np.zeros(5, np.float32)
        o[self.pos] = 1.0
        return o

    def step(self, action):
        self.pos = min(4, self.pos + 1) if action == 1 else max(0, self.pos - 1)
        self.t += 1
        done = self.pos == 4
        return self._obs(), float(done), done, self.t >= 20, {}


@pytest.mark.parametrize("cls", [DQN, PPO, REINFORCE])
def test_env_instance_without_spec(cls: type[Algorithm], tmp_path: Path):
    small = {k: v for k, v in SMALL[cls.name].items() if k != "n_envs"}
    agent = cls(_Chain(), seed=0, **small).learn(200)
    path = agent.save(tmp_path / "agent.pt")
    with pytest.raises(CheckpointError, match="pass env="):
        cls.load(path)
    obs = np.eye(5, dtype=np.float32)
    loaded = cls.load(path, env=_Chain())
    assert np.array_equal(loaded.predict(obs, deterministic=True)[0], agent.predict(obs, deterministic=True)[0])


def test_custom_features_factory_is_used():
    class Tiny(torch.nn.Module):
        def __init__(self, space: gym.Space) -> None:
            super().__init__()
            self.out_dim = 3
            self.lin = torch.nn.Linear(int(np.prod(space.shape)), 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.lin(x.float()))

    agent = PPO("CartPole-v1", features=Tiny, **SMALL["PPO"]).learn(64)
    assert isinstance(agent.policy.pi_features, Tiny) and isinstance(agent.policy.vf_features, Tiny)
    dqn = DQN("CartPole-v1", features=Tiny, dueling=True, **SMALL["DQN"]).learn(100)
    assert dqn.q_net(torch.zeros(2, 4)).shape == (2, 2)

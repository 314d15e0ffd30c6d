"""Observation normalization and reward scaling (VecNormalize semantics) against naive references."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch

from dlfrontier.rl import PPO
from dlfrontier.rl.common.env import make_vec_env
from dlfrontier.rl.common.networks import ActorCritic, mlp_features
from dlfrontier.rl.common.normalize import ObsNormalizer, RewardScaler, RunningMeanStd
from dlfrontier.rl.common.rollout import RolloutCollector
from dlfrontier.rl.population import PopulationPPO
from dlfrontier.rl.population.runs import supports


def test_running_stats_merge_batches_like_one_pass():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=(n, 4)) for n in (1, 7, 50, 3)]
    rms = RunningMeanStd((4,))
    rms.count.fill_(0.0)  # no prior pseudo-sample: the exact sample mean and variance
    for b in batches:
        rms.update(b)
    every = np.concatenate(batches)
    assert np.allclose(rms.mean.numpy(), every.mean(0), rtol=0, atol=1e-12)
    assert np.allclose(rms.var.numpy(), every.var(0), rtol=0, atol=1e-12)
    assert float(rms.count) == len(every)


def _naive_scale(rewards: np.ndarray, dones: np.ndarray, gamma: float, clip: float) -> np.ndarray:
    """VecNormalize's reward scaling written out: every return seen so far, its variance from scratch."""
    g = np.zeros(rewards.shape[1])
    out = np.zeros_like(rewards)
    history: list[np.ndarray] = []
    for t in range(len(rewards)):
        g = g * gamma + rewards[t]
        history.append(g.copy())
        x = np.concatenate(history)
        w = 1e-4  # the prior pseudo-sample: mean 0, variance 1, weight 1e-4
        mean = x.sum() / (len(x) + w)
        var = (w * (1.0 + mean ** 2) + ((x - mean) ** 2).sum()) / (len(x) + w)
        out[t] = np.clip(rewards[t] / np.sqrt(var + 1e-8), -clip, clip)
        g[dones[t]] = 0.0
    return out


def test_reward_scaling_matches_a_naive_reference():
    rng = np.random.default_rng(1)
    rewards = rng.normal(0.5, 3.0, size=(40, 3))
    rewards[7, 1] = 500.0  # a reward the clip must catch
    dones = rng.random((40, 3)) < 0.1
    scaler = RewardScaler(3, gamma=0.9, clip=5.0)
    got = np.stack([scaler(rewards[t], dones[t]) for t in range(40)])
    assert np.allclose(got, _naive_scale(rewards, dones, 0.9, 5.0), rtol=1e-5, atol=1e-6)
    assert got.max() <= 5.0 and np.sign(got[rewards > 0]).min() > 0  # scaled, not centred


def test_observation_normalizer_centres_scales_and_clips():
    norm = ObsNormalizer((2,), clip=3.0)
    norm.update(np.array([[0.0, 10.0], [2.0, 30.0], [4.0, 20.0]]))
    obs = np.array([[2.0, 20.0], [100.0, -1000.0]], np.float32)
    z = norm.normalize(obs)
    assert np.allclose(z[0], [0.0, 0.0], atol=1e-4) and z[1].tolist() == [3.0, -3.0]
    assert z.dtype == np.float32 and float(norm.count) == pytest.approx(3, abs=1e-3)  # normalize leaves the stats


def _zero_policy(envs: gym.vector.VectorEnv) -> ActorCritic:
    """All weights zero: the same actions from the same torch seed whatever the observations."""
    policy = ActorCritic(envs.single_observation_space, envs.single_action_space, mlp_features((8,)))
    for p in policy.parameters():
        torch.nn.init.zeros_(p)
    return policy


def test_rollouts_store_normalized_observations_and_scaled_rewards():
    cpu = torch.device("cpu")
    plain_envs, norm_envs = make_vec_env("Pendulum-v1", 2), make_vec_env("Pendulum-v1", 2)
    torch.manual_seed(0)
    raw = RolloutCollector(plain_envs, _zero_policy(plain_envs), seed=5, device=cpu).collect(30)
    torch.manual_seed(0)
    obs_norm, reward_norm = ObsNormalizer((3,)), RewardScaler(2, gamma=0.99)
    ro = RolloutCollector(norm_envs, _zero_policy(norm_envs), seed=5, device=cpu, obs_norm=obs_norm,
                          reward_norm=reward_norm).collect(30)
    assert np.array_equal(ro.actions, raw.actions)
    ref = ObsNormalizer((3,))
    for t in range(30):  # each step's observations update the stats, then are stored normalized
        ref.update(raw.obs[t])
        assert np.allclose(ro.obs[t], ref.normalize(raw.obs[t]), atol=1e-6)
    assert np.allclose(obs_norm.mean.numpy(), ref.mean.numpy())
    assert np.allclose(ro.rewards, _naive_scale(raw.rewards.astype(np.float64), raw.episode_end, 0.99, 10.0),
                       rtol=1e-5, atol=1e-6)


def test_ppo_saves_its_statistics_and_evaluates_with_them_frozen(tmp_path: Path):
    agent = PPO("Pendulum-v1", seed=0, n_envs=2, n_steps=32, batch_size=16, n_epochs=1, hidden=(16,),
                normalize_obs=True, normalize_reward=True).learn(128)
    assert agent.obs_norm is not None and float(agent.obs_norm.count) == pytest.approx(128, abs=1)
    assert agent.reward_norm is not None and float(agent.reward_norm.var) != 1.0
    obs = np.random.default_rng(0).uniform(-1, 1, size=(5, 3)).astype(np.float32)
    actions, _ = agent.predict(obs, deterministic=True)
    with torch.no_grad():
        by_hand = agent.policy.mode(torch.as_tensor(agent.obs_norm.normalize(obs))).numpy()
    assert np.allclose(actions, np.clip(by_hand, -2, 2), atol=1e-5)
    mean = agent.obs_norm.mean.clone()
    agent.predict(obs * 100, deterministic=True)
    assert torch.equal(agent.obs_norm.mean, mean)  # evaluation does not move the stats
    loaded = PPO.load(agent.save(tmp_path / "a.pt"))
    assert torch.equal(loaded.obs_norm.mean, mean) and torch.equal(loaded.obs_norm.var, agent.obs_norm.var)
    assert np.array_equal(loaded.predict(obs, deterministic=True)[0], actions)


def test_population_ppo_trains_normalized_configs_so_runs_stay_batched():
    check = supports(PopulationPPO)
    for option in ("normalize_obs", "normalize_reward"):
        cfg = PPO.config_cls(**{option: True})
        assert PopulationPPO.unsupported(cfg) is None and check(SimpleNamespace(algo=cfg))


def test_runs_saved_before_the_normalization_fields_still_match_their_config():
    from dlfrontier.experiments import EXPERIMENTS
    from dlfrontier.experiments.runner import RunPlan, saved_config

    for name in EXPERIMENTS.names():  # every config class (nested ones too) can be filled
        e = EXPERIMENTS.get(name)
        plan = RunPlan(name, 0, "quick", e.make_config("quick"), "cpu", "runs", False)
        assert saved_config(e, {"config": plan.config_dict}) == plan.config_dict
    e = EXPERIMENTS.get("ppo-cartpole")
    plan = RunPlan("ppo-cartpole", 0, "quick", e.make_config("quick"), "cpu", "runs", False)
    added = ("normalize_obs", "normalize_reward", "norm_clip")
    old = {**plan.config_dict, "algo": {k: v for k, v in plan.config_dict["algo"].items() if k not in added}}
    assert old != plan.config_dict and saved_config(e, {"config": old}) == plan.config_dict
    kept = {**old, "algo": {**old["algo"], "normalize_obs": True}}
    assert saved_config(e, {"config": kept})["algo"]["normalize_obs"] is True  # a saved value is kept

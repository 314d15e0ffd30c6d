"""Population PPO: member k of a population run equals the single run ``PPO(seed=k)`` (identical episode returns,
parameters and Adam state within float tolerance) for Discrete and Box actions; extraction, save/load, refusals."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from dlfrontier import ConfigError
from dlfrontier.rl import PPO
from dlfrontier.rl.population import PopulationPPO
from tests.rl.population.common import same_returns

CASES = {
    # anneal, value clipping, entropy bonus, a last minibatch smaller than the others (2 x 40 = 80 = 64 + 16)
    "cartpole": ("CartPole-v1", dict(n_envs=2, n_steps=40, batch_size=64, n_epochs=3, anneal=True,
                                     clip_range_vf=0.2, ent_coef=0.01, hidden=(32, 32)), 800),
    # Gaussian policy (a log std per member), time-limit truncations every 200 steps (bootstrapped values)
    "pendulum": ("Pendulum-v1", dict(n_envs=2, n_steps=128, batch_size=64, n_epochs=2, hidden=(32, 32)), 1_024),
    # each member's own observation statistics and return scaling (VecNormalize semantics), truncations included
    "pendulum-normalized": ("Pendulum-v1", dict(n_envs=2, n_steps=128, batch_size=64, n_epochs=2, hidden=(32, 32),
                                                normalize_obs=True, normalize_reward=True), 1_024),
}


def _max_diff(a: nn.Module, b: nn.Module) -> float:
    return max(float((p - q).detach().abs().max()) for p, q in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize("case", list(CASES))
def test_member_k_equals_the_single_run_with_seed_k(case: str) -> None:
    env, options, steps = CASES[case]
    seeds = [0, 1, 2]
    pop = PopulationPPO(env, seeds=seeds, **options).learn(steps)
    for k, seed in enumerate(seeds):
        single = PPO(env, seed=seed, **options).learn(steps)
        member = pop.member(k)
        assert len(single.episode_returns) >= 4
        same_returns(member.episode_returns, single.episode_returns, env)  # the same actions all along
        assert (member.num_steps, member.num_updates) == (single.num_steps, single.num_updates)
        assert _max_diff(member.policy, single.policy) < 1e-5
        for p, q in zip(member.policy.parameters(), single.policy.parameters(), strict=True):
            s_m, s_s = member.optimizer.state[p], single.optimizer.state[q]
            assert float(s_m["step"]) == float(s_s["step"])
            torch.testing.assert_close(s_m["exp_avg_sq"], s_s["exp_avg_sq"], atol=1e-6, rtol=1e-4)
        assert member.optimizer.param_groups[0]["lr"] == single.optimizer.param_groups[0]["lr"]
        for key in ("train/policy_loss", "train/value_loss", "train/explained_variance"):
            assert member.stats[key] == pytest.approx(single.stats[key], rel=1e-4, abs=1e-6)
        for name, option in (("obs_norm", "normalize_obs"), ("reward_norm", "normalize_reward")):
            a, b = getattr(member, name), getattr(single, name)  # normalization statistics: the single run's
            assert (a is None) == (b is None) == (option not in options)
            if a is not None:
                for key, value in a.state_dict().items():  # (continuous actions: see same_returns)
                    torch.testing.assert_close(value, b.state_dict()[key], rtol=1e-6, atol=1e-9, msg=f"{name} {key}")
        # the member's torch generator stands where the single run's global one does
        assert torch.equal(pop.torch_rng_state(k), torch.get_rng_state())


def test_extracted_member_continues_as_the_single_run() -> None:
    env, options, _ = CASES["cartpole"]
    pop = PopulationPPO(env, seeds=[3, 5], **options).learn(400)
    member = pop.member(1)
    torch.set_rng_state(pop.torch_rng_state(1))
    member.learn(400)  # its envs (mid-episode), generator and optimizer came along
    single = PPO(env, seed=5, **options).learn(400).learn(400)
    assert member.episode_returns == single.episode_returns
    assert _max_diff(member.policy, single.policy) < 1e-5
    pop.learn(80)  # the population is not affected by the extracted copy
    assert pop.num_steps == 480 and pop.member(1).num_steps == 480


@pytest.mark.parametrize("case", ["pendulum", "pendulum-normalized"])
def test_saved_member_loads_as_an_ordinary_ppo(tmp_path: Path, case: str) -> None:
    env, options, _ = CASES[case]
    pop = PopulationPPO(env, seeds=[0, 1], **options).learn(256)
    obs = np.random.default_rng(0).uniform(-1, 1, size=(2, 5, 3)).astype(np.float32)
    means = pop.predict(obs)  # [K, B, 1]
    for k in range(2):
        loaded = PPO.load(pop.member(k).save(tmp_path / f"m{k}.pt"))
        assert loaded.seed == k and loaded.num_steps == 256
        actions, _ = loaded.predict(obs[k], deterministic=True)
        np.testing.assert_allclose(actions, np.clip(means[k], -2, 2), atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(target_kl=0.01), "target_kl"),
    (dict(share_features=True), "share_features"),
    (dict(seeds=[]), "at least one seed"),
    (dict(bogus=1), "unknown option"),
])
def test_unsupported_options_are_one_line_errors(kwargs: dict, match: str) -> None:
    seeds = kwargs.pop("seeds", [0])
    with pytest.raises(ConfigError, match=match):
        PopulationPPO("CartPole-v1", seeds=seeds, **kwargs)
    with pytest.raises(ConfigError, match="registered env id"):
        PopulationPPO(gym.make("CartPole-v1"), seeds=[0])  # type: ignore[arg-type]

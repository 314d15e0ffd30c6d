"""Population A2C: member k of a population run equals the single run ``A2C(seed=k)`` (identical episode returns,
parameters and RMSprop state within float tolerance) for Discrete and Box actions."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dlfrontier.rl import A2C
from dlfrontier.rl.population import PopulationA2C
from tests.rl.population.common import same_returns

CASES = {
    "cartpole": ("CartPole-v1", dict(n_envs=4, n_steps=5, hidden=(32, 32), ent_coef=0.01, normalize_advantage=True),
                 2_000),
    "pendulum": ("Pendulum-v1", dict(n_envs=2, n_steps=8, hidden=(32, 32), gae_lambda=0.9), 1_200),
}


def _max_diff(a: nn.Module, b: nn.Module) -> float:
    return max(float((p - q).detach().abs().max()) for p, q in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize("case", list(CASES))
def test_member_k_equals_the_single_run_with_seed_k(case: str) -> None:
    env, options, steps = CASES[case]
    seeds = [0, 1, 2]
    pop = PopulationA2C(env, seeds=seeds, **options).learn(steps)
    for k, seed in enumerate(seeds):
        single = A2C(env, seed=seed, **options).learn(steps)
        member = pop.member(k)
        assert len(single.episode_returns) >= 5
        same_returns(member.episode_returns, single.episode_returns, env)
        assert (member.num_steps, member.num_updates) == (single.num_steps, single.num_updates)
        assert _max_diff(member.policy, single.policy) < 1e-5
        for p, q in zip(member.policy.parameters(), single.policy.parameters(), strict=True):
            torch.testing.assert_close(member.optimizer.state[p]["square_avg"], single.optimizer.state[q]["square_avg"],
                                       atol=1e-7, rtol=1e-4)
        for key in ("train/policy_loss", "train/value_loss", "train/entropy"):
            assert member.stats[key] == pytest.approx(single.stats[key], rel=1e-4, abs=1e-6)
        assert torch.equal(pop.torch_rng_state(k), torch.get_rng_state())

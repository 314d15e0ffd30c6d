"""Population SAC: member k of a population run equals the single run ``SAC(seed=k)`` (identical episode returns,
parameters, temperatures and optimizer state within float tolerance); extraction, save/load, refusals."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from dlfrontier import ConfigError
from dlfrontier.rl import SAC
from dlfrontier.rl.population import PopulationSAC

# warm-up, then 2 gradient steps every 2 env steps; no autotune in the second case (a fixed temperature), with
# 3-step returns (flushed at the truncations) and a critic learning rate of its own; LayerNorms in the critics in
# the third
CASES = {
    "autotune": (dict(hidden=(32, 32), learning_starts=100, batch_size=32, buffer_size=2_000, train_freq=2,
                      gradient_steps=2), 600),
    "fixed-alpha": (dict(hidden=(32, 32), learning_starts=64, batch_size=32, autotune=False, init_alpha=0.2,
                         tau=0.02, n_step=3, critic_learning_rate=3e-3), 500),
    "critic-layer-norm": (dict(hidden=(32, 32), learning_starts=64, batch_size=32, n_step=3,
                               critic_layer_norm=True), 400),
}


def _max_diff(a: nn.Module, b: nn.Module) -> float:
    return max(float((p - q).detach().abs().max()) for p, q in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize("case", list(CASES))
def test_member_k_equals_the_single_run_with_seed_k(case: str) -> None:
    options, steps = CASES[case]
    seeds = [0, 1, 2]
    pop = PopulationSAC("Pendulum-v1", seeds=seeds, **options).learn(steps)
    for k, seed in enumerate(seeds):
        single = SAC("Pendulum-v1", seed=seed, **options).learn(steps)
        member = pop.member(k)
        assert len(single.episode_returns) == steps // 200 and member.episode_returns == single.episode_returns
        assert (member.num_steps, member.num_updates) == (single.num_steps, single.num_updates)
        for name in ("actor", "critic", "critic_target"):
            assert _max_diff(getattr(member, name), getattr(single, name)) < 1e-5, name
        assert float(member.log_alpha.detach()) == pytest.approx(float(single.log_alpha.detach()), abs=1e-6)
        for p, q in zip(member.critic.parameters(), single.critic.parameters(), strict=True):
            s_m, s_s = member.critic_opt.state[p], single.critic_opt.state[q]
            assert float(s_m["step"]) == float(s_s["step"])
            torch.testing.assert_close(s_m["exp_avg"], s_s["exp_avg"], atol=1e-6, rtol=1e-4)
        for key in ("train/critic_loss", "train/actor_loss", "train/alpha"):
            assert member.stats[key] == pytest.approx(single.stats[key], rel=1e-4, abs=1e-6)
        assert torch.equal(pop.torch_rng_state(k), torch.get_rng_state())  # the same number of noise draws
        critic_lr = options.get("critic_learning_rate", single.config.learning_rate)
        for agent in (single, member, pop):
            assert agent.critic_opt.param_groups[0]["lr"] == critic_lr
            assert agent.actor_opt.param_groups[0]["lr"] == single.config.learning_rate == 1e-3


def test_extracted_member_continues_and_loads_as_a_single_sac(tmp_path: Path) -> None:
    options, _ = CASES["autotune"]
    pop = PopulationSAC("Pendulum-v1", seeds=[2, 9], **options).learn(300)
    member = pop.member(1)
    torch.set_rng_state(pop.torch_rng_state(1))
    member.learn(300)
    single = SAC("Pendulum-v1", seed=9, **options).learn(300).learn(300)
    assert member.episode_returns == single.episode_returns
    assert _max_diff(member.actor, single.actor) < 1e-5
    loaded = SAC.load(pop.member(0).save(tmp_path / "m0.pt"))
    obs = np.random.default_rng(0).uniform(-1, 1, size=(4, 3)).astype(np.float32)
    with torch.no_grad():
        mean, _ = pop.member(0).actor(torch.as_tensor(obs), True)
    np.testing.assert_allclose(loaded.predict(obs, deterministic=True)[0], mean.numpy(), atol=1e-6)
    assert loaded.num_steps == 300 and loaded.seed == 2


def test_refusals_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match="at least one seed"):
        PopulationSAC("Pendulum-v1", seeds=[])
    with pytest.raises(ConfigError, match="registered env id"):
        PopulationSAC(gym.make("Pendulum-v1"), seeds=[0])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown option"):
        PopulationSAC("Pendulum-v1", seeds=[0], bogus=1)

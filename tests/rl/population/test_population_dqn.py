"""Population DQN: stacked layers equal nn.Linear, per-member clipping and loss, and member k of a population run
equals the single run ``DQN(seed=k)`` (parameters within float tolerance, identical episode returns)."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from dlfrontier import ConfigError
from dlfrontier.rl import DQN
from dlfrontier.rl.common.buffers import ReplayBatch
from dlfrontier.rl.dqn import dqn_loss
from dlfrontier.rl.population import PopulationDQN, StackedLinear, StackedSequential, clip_grad_norm_per_member_
from dlfrontier.rl.population.dqn import population_dqn_loss
from dlfrontier.rl.population.layers import slot_tensor

SMALL = {"hidden": (64, 64), "learning_starts": 100, "buffer_size": 5_000}
CASES = {
    # DQNConfig defaults (rl-zoo CartPole: train_freq 256, 128 gradient steps, target sync every 10 steps)
    "defaults": (dict(SMALL), 800),
    # the dqn-cartpole experiment's switches, with frequent training phases and target syncs
    "double-dueling-nstep": (dict(SMALL, double=True, dueling=True, n_step=3, learning_rate=1e-3, lr_decay=True,
                                  train_freq=40, gradient_steps=8, target_update_interval=100), 1_500),
}


def _max_diff(a: nn.Module, b: nn.Module) -> float:
    return max(float((p - q).detach().abs().max()) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_stacked_sequential_equals_member_mlps() -> None:
    torch.manual_seed(0)
    members = [nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)) for _ in range(3)]
    stacked = StackedSequential.from_sequentials(members)
    assert isinstance(stacked[0], StackedLinear) and stacked[0].weight().shape == (3, 16, 4)
    assert stacked[2].bias.split and not stacked[2].weight.split  # 3 floats per member: a tensor each
    x = torch.randn(3, 5, 4)
    out = stacked(x)
    out.square().sum().backward()
    for k, m in enumerate(members):
        ref = m(x[k])
        ref.square().sum().backward()
        torch.testing.assert_close(out[k], ref, atol=1e-6, rtol=0)
        for slot, param in zip(stacked.slots(k), m.parameters(), strict=True):
            torch.testing.assert_close(slot_tensor(slot, slot[0].grad).reshape(param.shape), param.grad,
                                       atol=1e-5, rtol=1e-6)
    copy = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    stacked.copy_member_to(1, copy)
    assert _max_diff(copy, members[1]) == 0.0
    # with LayerNorms: each member's own pass gives its nn.Sequential's numbers exactly, the stacked pass within 1e-6
    torch.manual_seed(1)
    normed = [nn.Sequential(nn.Linear(4, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 3)) for _ in range(3)]
    for m in normed:
        nn.init.normal_(m[1].weight)
        nn.init.normal_(m[1].bias)
    stacked_ln = StackedSequential.from_sequentials(normed)
    x = torch.randn(3, 5, 4)
    with torch.no_grad():
        out = stacked_ln(x)
        for k, m in enumerate(normed):
            assert torch.equal(stacked_ln.member_forward(k, x[k]), m(x[k]))
            torch.testing.assert_close(out[k], m(x[k]), atol=1e-6, rtol=0)
    assert len(stacked_ln.slots(0)) == 6
    with pytest.raises(TypeError, match="cannot stack"):
        StackedSequential.from_sequentials([nn.Sequential(nn.BatchNorm1d(3))])
    with pytest.raises(TypeError, match="only LayerNorm"):  # LayerNorms stack with their weight and bias only
        StackedSequential.from_sequentials([nn.Sequential(nn.LayerNorm(3, elementwise_affine=False))])


def test_clipping_uses_each_members_own_norm() -> None:
    torch.manual_seed(1)
    scale = torch.tensor([0.01, 1.0, 100.0]).view(3, 1, 1)  # member norms ~0.05, ~6, ~600
    grads = [torch.randn(3, 6, 5) * scale, torch.randn(3, 1, 6) * scale]
    params = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    norms = clip_grad_norm_per_member_([[(p, k) for p in params] for k in range(3)], max_norm=2.0)
    for k in range(3):
        single = [torch.zeros_like(g[k], requires_grad=True) for g in grads]
        for p, g in zip(single, grads, strict=True):
            p.grad = g[k].clone()
        norm = nn.utils.clip_grad_norm_(single, 2.0)
        torch.testing.assert_close(norms[k], norm)
        for p, s in zip(params, single, strict=True):
            torch.testing.assert_close(p.grad[k], s.grad)
    assert float(norms[0]) < 2.0 < float(norms[2])  # one member left alone, another scaled down


@pytest.mark.parametrize("double", [False, True])
def test_population_loss_is_the_members_losses(double: bool) -> None:
    pop = PopulationDQN("CartPole-v1", seeds=[0, 1], dueling=True, **SMALL)
    pop.learn(150)
    batch = pop.buffer.sample(16, [np.random.default_rng(0), np.random.default_rng(1)])
    loss, member_losses, _ = population_dqn_loss(pop.q_net, pop.target_net, batch, double=double)
    torch.testing.assert_close(loss, member_losses.sum())
    for k in range(2):
        m = pop.member(k)
        single = ReplayBatch(*(field[k] for field in batch[:7]), batch.indices[k])
        ref, _, _ = dqn_loss(m.q_net, m.target_net, single, double=double)
        torch.testing.assert_close(member_losses[k], ref.detach(), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("case", list(CASES))
def test_member_k_equals_the_single_run_with_seed_k(case: str) -> None:
    options, steps = CASES[case]
    seeds = [0, 1, 2]
    pop = PopulationDQN("CartPole-v1", seeds=seeds, **options).learn(steps)
    assert pop.num_updates > 0
    for k, seed in enumerate(seeds):
        single = DQN("CartPole-v1", seed=seed, **options).learn(steps)
        member = pop.member(k)
        # same actions all along: identical trajectories, hence identical episode returns
        assert member.episode_returns == single.episode_returns
        assert len(single.episode_returns) > 10
        assert (member.num_steps, member.num_updates) == (single.num_steps, single.num_updates)
        assert _max_diff(member.q_net, single.q_net) < 1e-5  # baddbmm vs addmm rounding only
        assert _max_diff(member.target_net, single.target_net) < 1e-5
        for p, q in zip(member.q_net.parameters(), single.q_net.parameters(), strict=True):
            s_m, s_s = member.optimizer.state[p], single.optimizer.state[q]
            assert float(s_m["step"]) == float(s_s["step"])
            torch.testing.assert_close(s_m["exp_avg"], s_s["exp_avg"], atol=1e-5, rtol=1e-4)
        assert member.optimizer.param_groups[0]["lr"] == single.optimizer.param_groups[0]["lr"]
        assert len(member.buffer) == len(single.buffer)
        np.testing.assert_array_equal(member.buffer.obs[: len(single.buffer)], single.buffer.obs[: len(single.buffer)])


def test_extracted_member_continues_as_the_single_run() -> None:
    options = dict(SMALL, train_freq=20, gradient_steps=4, target_update_interval=50, n_step=2)
    pop = PopulationDQN("CartPole-v1", seeds=[4, 7], **options).learn(300)
    member = pop.member(1).learn(200)  # its env, generator, n-step adder, buffer and optimizer came along
    single = DQN("CartPole-v1", seed=7, **options).learn(300).learn(200)
    assert member.episode_returns == single.episode_returns
    assert _max_diff(member.q_net, single.q_net) < 1e-5
    pop.learn(10)  # the population is not affected by the extracted copy
    assert pop.num_steps == 310 and pop.member(1).num_steps == 310


def test_saved_member_loads_as_an_ordinary_dqn(tmp_path: Path) -> None:
    pop = PopulationDQN("CartPole-v1", seeds=[0, 1, 2], dueling=True, train_freq=20, gradient_steps=4,
                        **SMALL).learn(300)
    obs = pop.buffer.obs[0, :32].copy()  # observations the members have seen
    batched = np.broadcast_to(obs, (3, *obs.shape))
    pop_actions = pop.predict(batched)
    pop_q = pop.q_values(batched)
    for k in range(3):
        path = pop.member(k).save(tmp_path / f"member{k}.pt")
        loaded = DQN.load(path)
        assert loaded.seed == k and loaded.num_steps == 300
        actions, _ = loaded.predict(obs, deterministic=True)
        np.testing.assert_array_equal(actions, pop_actions[k])
        with torch.no_grad():
            torch.testing.assert_close(loaded.q_net(torch.as_tensor(obs)), pop_q[k], atol=1e-5, rtol=1e-6)
    assert pop.predict(batched[:, 0]).shape == (3,)


def test_equal_seeds_give_equal_members_and_distinct_seeds_differ() -> None:
    pop = PopulationDQN("CartPole-v1", seeds=[3, 3, 5], train_freq=20, gradient_steps=4, **SMALL).learn(250)
    a, b, c = (pop.member(k) for k in range(3))
    assert a.episode_returns == b.episode_returns and _max_diff(a.q_net, b.q_net) == 0.0
    assert _max_diff(a.q_net, c.q_net) > 1e-3


def test_refuses_what_it_does_not_support() -> None:
    with pytest.raises(ConfigError, match="prioritized=True is not supported yet"):
        PopulationDQN("CartPole-v1", seeds=[0, 1], prioritized=True)
    with pytest.raises(ConfigError, match="unknown option"):
        PopulationDQN("CartPole-v1", seeds=[0], n_stepz=3)
    with pytest.raises(ConfigError, match="env id"):
        PopulationDQN(gym.make("CartPole-v1"), seeds=[0])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="at least one seed"):
        PopulationDQN("CartPole-v1", seeds=[])
    with pytest.raises(TypeError, match="Discrete"):
        PopulationDQN("Pendulum-v1", seeds=[0])
    with pytest.raises(ConfigError):
        PopulationDQN("CartPole-v1", seeds=[0]).learn(-1)
    with pytest.raises(IndexError):
        PopulationDQN("CartPole-v1", seeds=[0]).member(1)


@pytest.mark.parametrize(("in_dim", "out_dim", "batch"), [(4, 64, 1), (64, 1, 1), (64, 1, 32), (64, 2, 128)])
def test_stacked_linear_matches_linear_in_the_acting_and_value_head_paths(in_dim: int, out_dim: int,
                                                                          batch: int) -> None:
    torch.manual_seed(2)
    members = [nn.Linear(in_dim, out_dim) for _ in range(3)]
    stacked = StackedLinear.from_linears(members)
    x = torch.randn(3, batch, in_dim, requires_grad=True)
    out = stacked(x)
    out.sum().backward()
    for k, m in enumerate(members):
        xk = x[k].detach().clone().requires_grad_()
        ref = m(xk)
        ref.sum().backward()
        torch.testing.assert_close(out[k], ref, atol=1e-6, rtol=0)
        torch.testing.assert_close(slot_tensor(stacked.weight.slot(k), stacked.weight.slot(k)[0].grad).reshape(
            m.weight.shape), m.weight.grad, atol=1e-5, rtol=1e-6)
        torch.testing.assert_close(x.grad[k], xk.grad, atol=1e-6, rtol=0)

"""TD3: target policy smoothing, the clipped double-Q target and the losses against hand-computed values; delayed
actor and target updates; exploration; exact resume; a short learning test on InvertedPendulum-v5 (MuJoCo)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from dlfrontier.rl import SAC, TD3, TD3Config
from dlfrontier.rl.common.evaluation import evaluate_policy, greedy
from dlfrontier.rl.td3 import actor_loss, critic_loss, smoothed_target_action, td3_target
from tests.rl.nstep_reference import assert_n_step_matches_one_step

SMALL = {"learning_starts": 50, "batch_size": 16, "hidden": (16,), "buffer_size": 1000}


def _params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _changed(before: list[torch.Tensor], module: torch.nn.Module) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))


def test_smoothed_target_action_hand_values():
    low, high = torch.tensor([-1.0, -2.0]), torch.tensor([1.0, 2.0])  # half-ranges 1 and 2
    next_action = torch.tensor([[0.5, -1.9], [0.0, 0.5]])
    noise = torch.tensor([[0.7, -0.3], [-0.2, 0.6]])
    # row 0: noise clipped to [0.5, -0.3], scaled [0.5, -0.6] -> [1.0, -2.5] -> bounds [1.0, -2.0]
    # row 1: noise clipped to [-0.2, 0.5], scaled [-0.2, 1.0] -> [-0.2, 1.5] (inside the bounds)
    out = smoothed_target_action(next_action, noise, 0.5, low, high)
    assert torch.allclose(out, torch.tensor([[1.0, -2.0], [-0.2, 1.5]]))
    assert torch.equal(smoothed_target_action(next_action, torch.zeros(2, 2), 0.5, low, high), next_action)


def test_td3_target_takes_the_smaller_critic_and_stops_at_termination():
    rewards, dones = torch.tensor([1.0, 0.5, -1.0]), torch.tensor([0.0, 1.0, 0.0])
    q1, q2 = torch.tensor([2.0, 3.0, 4.0]), torch.tensor([3.0, 1.0, 2.0])
    discounts = torch.tensor([0.99, 0.99, 0.9801])  # the last one a 2-step transition's gamma^2
    # 1 + 0.99 * 2 = 2.98; terminated: 0.5; -1 + 0.9801 * 2 = 0.9602
    y = td3_target(rewards, q1, q2, dones, discounts)
    assert torch.allclose(y, torch.tensor([2.98, 0.5, 0.9602]))


def test_critic_and_actor_loss_hand_values():
    q1, q2, y = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 4.0]), torch.tensor([1.0, 1.0])
    # mean([0, 1]) + mean([1, 9]) = 0.5 + 5
    assert torch.isclose(critic_loss(q1, q2, y), torch.tensor(5.5))
    assert torch.isclose(actor_loss(torch.tensor([1.0, -3.0])), torch.tensor(1.0))


def test_config_defaults_are_the_papers():
    c = TD3Config()
    assert (c.learning_rate, c.gamma, c.tau, c.policy_delay) == (1e-3, 0.99, 0.005, 2)
    assert (c.target_policy_noise, c.target_noise_clip, c.exploration_noise) == (0.2, 0.5, 0.1)
    assert (c.batch_size, c.learning_starts, c.hidden) == (256, 100, (256, 256))


@pytest.mark.parametrize("algo", [TD3, SAC])
def test_n_step_transitions_against_the_one_step_stream(algo):
    """``n_step=3`` (TD3 and SAC) stores, per start, the discounted sum of up to 3 one-step rewards (cut at a
    termination), the bootstrap discount ``gamma^k`` and the k-th next observation; same seed, same random actions."""
    steps, gamma = 60, 0.9  # all before learning_starts: uniform random actions from the same generator
    kw = dict(learning_starts=100, hidden=(8,), gamma=gamma)
    one = algo("InvertedPendulum-v5", seed=5, **kw).learn(steps)
    three = algo("InvertedPendulum-v5", seed=5, n_step=3, **kw).learn(steps)
    b1, b3 = one.buffer._batch(np.arange(steps), None), three.buffer._batch(np.arange(len(three.buffer)), None)
    assert b1.dones.sum() >= 2, "the test needs terminations in the stream"
    assert len(three.buffer) == steps - len(three.adder.pending) and len(three.adder.pending) <= 2
    assert_n_step_matches_one_step(b1, b3, len(three.buffer), 3, gamma)


def test_actor_and_targets_update_once_every_policy_delay_critic_updates():
    agent = TD3("Pendulum-v1", seed=0, policy_delay=3, **SMALL)
    agent.learn(SMALL["learning_starts"] - 1)  # fills the buffer, no update yet
    assert agent.num_updates == 0
    actor_updates = 0
    for n in range(1, 10):
        before = {k: _params(getattr(agent, k)) for k in ("actor", "actor_target", "critic", "critic_target")}
        _, lpi = agent._train_step()
        changed = {k: _changed(v, getattr(agent, k)) for k, v in before.items()}
        assert agent.num_updates == n and changed["critic"]
        delayed = n % 3 == 0
        assert changed["actor"] == changed["actor_target"] == changed["critic_target"] == delayed == (lpi is not None)
        actor_updates += changed["actor"]
        assert actor_updates == n // 3


def test_learn_counts_critic_updates_and_delays_the_actor():
    agent = TD3("Pendulum-v1", seed=0, policy_delay=2, gradient_steps=3, **SMALL)
    steps: list[int] = []
    agent.actor_opt.register_step_post_hook(lambda *_: steps.append(1))
    agent.learn(100)
    # training phases at steps 50..100 (51 of them), 3 critic updates each
    assert agent.num_updates == 51 * 3 and len(steps) == agent.num_updates // 2
    assert set(agent.stats) == {"train/critic_loss", "train/actor_loss"}


def test_exploration_is_uniform_first_then_the_actor_plus_clipped_gaussian_noise():
    # policy_delay beyond the run: the actor never changes, so buffer actions can be compared with mu(s)
    agent = TD3("Pendulum-v1", seed=0, policy_delay=10_000, exploration_noise=0.0, **SMALL).learn(300)
    n = SMALL["learning_starts"]
    actions, obs = torch.from_numpy(agent.buffer.actions[:300]), torch.from_numpy(agent.buffer.obs[:300])
    assert actions[:n].abs().max() > 1.5 and actions[:n].std() > 0.8  # uniform on [-2, 2]: std 1.15
    with torch.no_grad():
        mu = agent.actor(obs[n:])
    assert torch.allclose(actions[n:], mu, atol=1e-6)

    noisy = TD3("Pendulum-v1", seed=0, policy_delay=10_000, **SMALL).learn(1050)
    a, o = torch.from_numpy(noisy.buffer.actions[n:1050]), torch.from_numpy(noisy.buffer.obs[n:1050])
    with torch.no_grad():
        residual = a - noisy.actor(o)
    assert a.abs().max() <= 2.0
    assert 0.17 < float(residual.std()) < 0.23  # 0.1 of the half-range 2 (the untrained mu stays far from bounds)


def test_predict_deterministic_is_mu_and_sampled_is_noisy_within_bounds():
    agent = TD3("Pendulum-v1", seed=0, hidden=(8,))
    obs = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 3.0]], np.float32)
    with torch.no_grad():
        mu = agent.actor(torch.from_numpy(obs)).numpy()
    assert np.array_equal(agent.predict(obs, deterministic=True)[0], mu)
    sampled = np.stack([agent.predict(obs)[0] for _ in range(50)])
    assert np.all(np.abs(sampled) <= 2.0) and 0.1 < sampled.std(axis=0).mean() < 0.3


def test_resume_from_a_saved_state_trains_identically(tmp_path: Path):
    a = TD3("Pendulum-v1", seed=1, **SMALL).learn(120)
    path = a.save(tmp_path / "td3.pt", include_buffer=True)
    b = TD3.load(path)
    b.env, b._obs, b._ep_return = copy.deepcopy(a.env), a._obs.copy(), a._ep_return  # the env's position
    for agent in (a, b):
        torch.manual_seed(7)  # the target-smoothing noise comes from torch's generator
        agent.learn(80)
    for name in ("actor", "actor_target", "critic", "critic_target"):
        for p, q in zip(getattr(a, name).parameters(), getattr(b, name).parameters(), strict=True):
            assert torch.equal(p, q), name
    assert a.num_updates == b.num_updates == 151 and a.episode_returns == b.episode_returns


# InvertedPendulum-v5: a uniform random policy scores 5.5 (100 episodes from seed 123; std 4.4, max 26), a perfect
# one 1,000 (+1 per step upright, 1,000 steps). With the paper's tau 0.005 (64x64) the evaluation sat at 40-110 for
# 10k steps (seeds 0-1; seed 0 reached 1,000 at 14k); tau 0.05 carries the value to the targets faster: after 10k
# steps seeds 0-9 all score 1,000 (measured; at 8k seed 1 scored 115, the others 1,000). ~20 s on one core.
@pytest.mark.slow
def test_td3_balances_the_inverted_pendulum():
    agent = TD3("InvertedPendulum-v5", seed=3, hidden=(64, 64), learning_starts=1000, tau=0.05).learn(10_000)
    returns = evaluate_policy(greedy(agent), agent.make_eval_env(), 10, seed=123)
    assert returns.mean() >= 500, returns

"""Losses as pure functions: PPO clip and value clipping, SAC temperature and target, DQN and REINFORCE."""

import math

import torch

from dlfrontier.rl.a2c import a2c_loss
from dlfrontier.rl.ppo import ppo_clip_loss, value_loss
from dlfrontier.rl.reinforce import reinforce_loss
from dlfrontier.rl.sac import soft_q_target, temperature_loss


def test_ppo_clip_loss_hand_values():
    old = torch.zeros(3)
    new = torch.full((3,), math.log(1.5))  # ratio 1.5
    adv = torch.tensor([1.0, -1.0, 2.0])
    # min(1.5*1, 1.2*1)=1.2; min(-1.5, -1.2)=-1.5; min(3, 2.4)=2.4 -> mean 0.7, loss -0.7
    assert torch.isclose(ppo_clip_loss(new, old, adv, 0.2), torch.tensor(-0.7))
    # ratio 1 (on-policy) is the plain policy-gradient surrogate -mean(A)
    assert torch.isclose(ppo_clip_loss(old, old, adv, 0.2), -adv.mean())


def test_ppo_clip_gradient_vanishes_outside_the_trust_region():
    new = torch.full((1,), math.log(1.5), requires_grad=True)
    ppo_clip_loss(new, torch.zeros(1), torch.ones(1), 0.2).backward()
    assert new.grad is not None and new.grad.abs().item() == 0.0


def test_value_loss_clipping_takes_the_pessimistic_error():
    v, old, ret = torch.tensor([2.0]), torch.tensor([0.0]), torch.tensor([3.0])
    assert torch.isclose(value_loss(v, old, ret, None), torch.tensor(0.5))  # 0.5 * 1^2
    assert torch.isclose(value_loss(v, old, ret, 0.5), torch.tensor(3.125))  # clipped to 0.5: 0.5 * 2.5^2


def test_sac_temperature_loss_value_and_gradient_direction():
    log_alpha = torch.tensor([0.5], requires_grad=True)
    logp = torch.tensor([-1.0, -3.0])  # entropy estimate 2
    loss = temperature_loss(log_alpha, logp, -1.0)
    assert torch.isclose(loss, torch.tensor(1.5))  # -(0.5 * mean([-2, -4]))
    loss.backward()
    assert torch.isclose(log_alpha.grad, torch.tensor([3.0]))  # positive: descent lowers alpha (entropy > target)
    log_alpha.grad = None
    temperature_loss(log_alpha, torch.tensor([2.0]), -1.0).backward()  # entropy -2 < target -1: raise alpha
    assert log_alpha.grad.item() < 0


def test_soft_q_target_hand_values():
    y = soft_q_target(torch.tensor([1.0, 1.0]), torch.tensor([4.0, 4.0]), torch.tensor([3.0, 5.0]),
                      torch.tensor([-1.0, -1.0]), torch.tensor([0.0, 1.0]), torch.tensor([0.5, 0.5]), torch.tensor(2.0))
    assert torch.allclose(y, torch.tensor([1.0 + 0.5 * (3.0 + 2.0), 1.0]))


def test_reinforce_and_a2c_losses():
    logp = torch.tensor([-1.0, -2.0])
    pg, vl = reinforce_loss(logp, torch.tensor([1.0, 1.0]), torch.tensor([3.0, 1.0]), normalize=False)
    assert torch.isclose(pg, torch.tensor(1.0)) and torch.isclose(vl, torch.tensor(2.0))  # -mean([-2, 0]); mean([4, 0])
    loss, pg, vl = a2c_loss(logp, torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0]),
                            torch.tensor([2.0, 0.0]), vf_coef=0.5, ent_coef=0.1)
    assert torch.isclose(pg, torch.tensor(1.5)) and torch.isclose(vl, torch.tensor(0.5))
    assert torch.isclose(loss, torch.tensor(1.5 + 0.25 - 0.05))


def test_dqn_loss_matches_a_naive_per_sample_computation():
    import gymnasium as gym
    import numpy as np

    from dlfrontier.rl.common.buffers import ReplayBatch
    from dlfrontier.rl.common.networks import MLPFeatures, QNetwork
    from dlfrontier.rl.dqn import dqn_loss

    torch.manual_seed(0)
    space = gym.spaces.Box(-1, 1, (3,), np.float32)
    online, target = QNetwork(MLPFeatures(space, (8,)), 2), QNetwork(MLPFeatures(space, (8,)), 2, dueling=True)
    B = 5
    batch = ReplayBatch(torch.randn(B, 3), torch.tensor([0, 1, 1, 0, 1]), torch.randn(B), torch.randn(B, 3),
                        torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0]), torch.full((B,), 0.9), torch.rand(B), np.arange(B))
    for double in (False, True):
        loss, td, _ = dqn_loss(online, target, batch, double=double)
        expected = []
        for i in range(B):
            q = online(batch.obs[i : i + 1])[0, batch.actions[i]]
            nt = target(batch.next_obs[i : i + 1])[0]
            best = online(batch.next_obs[i : i + 1])[0].argmax() if double else nt.argmax()
            y = batch.rewards[i] + 0.9 * (1 - batch.dones[i]) * nt[best]
            err = (q - y).abs()
            huber = 0.5 * err**2 if err < 1 else err - 0.5
            expected.append(batch.weights[i] * huber)
            assert torch.isclose(td[i], (y - q).detach(), atol=1e-6)
        assert torch.isclose(loss, torch.stack(expected).mean(), atol=1e-6)

"""DrQ: the random-shift augmentation against a naive reference, the Polyak update, and contract-style tests.

DrQ needs image observations, so it is not in ``test_contract.py``'s ``CASES`` (CartPole/Pendulum vectors); these
tests run the same contract on the pixel task: learn, predict, save/load round trip, same seed same parameters.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlfrontier.rl import sac
from dlfrontier.rl.drq import DrQ, polyak, random_shift, shift_images, shift_offsets
from tests.rl.nstep_reference import assert_n_step_matches_one_step

TASK = "dlfrontier/InvertedPendulumPixels-v5"
SMALL = {"learning_starts": 40, "batch_size": 8, "filters": 4, "feature_dim": 8, "hidden": (16,),
         "buffer_size": 500}


def naive_shift(images: torch.Tensor, offsets: torch.Tensor, pad: int) -> torch.Tensor:
    """One image at a time: replicate-pad by ``pad``, crop the original size at ``(dy, dx)``."""
    _, _, h, w = images.shape
    out = []
    for img, (dy, dx) in zip(images, offsets.tolist(), strict=True):
        padded = F.pad(img[None].double(), (pad, pad, pad, pad), mode="replicate")[0]
        out.append(padded[:, dy:dy + h, dx:dx + w])
    return torch.stack(out).to(images.dtype)


def test_shift_by_hand():
    img = torch.arange(9, dtype=torch.uint8).reshape(1, 1, 3, 3)  # [[0 1 2] [3 4 5] [6 7 8]]
    # offset (0, 0) with pad 1: the crop starts one pixel up and left of the image, the border replicated
    expected = torch.tensor([[0, 0, 1], [0, 0, 1], [3, 3, 4]], dtype=torch.uint8)
    assert torch.equal(shift_images(img, torch.tensor([[0, 0]]), 1)[0, 0], expected)
    expected = torch.tensor([[4, 5, 5], [7, 8, 8], [7, 8, 8]], dtype=torch.uint8)  # (2, 2): down and right
    assert torch.equal(shift_images(img, torch.tensor([[2, 2]]), 1)[0, 0], expected)
    assert torch.equal(shift_images(img, torch.tensor([[1, 1]]), 1), img)  # the centre offset is no shift


@pytest.mark.parametrize("pad", [1, 4])
def test_random_shift_equals_naive_pad_and_crop(pad: int):
    images = torch.randint(0, 256, (16, 9, 20, 24), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    out = random_shift(images, pad, torch.Generator().manual_seed(7))
    offsets = shift_offsets(16, pad, torch.Generator().manual_seed(7))  # the offsets random_shift drew
    assert out.dtype == torch.uint8 and out.shape == images.shape
    assert torch.equal(out, naive_shift(images, offsets, pad))
    assert int(offsets.min()) >= 0 and int(offsets.max()) <= 2 * pad


def test_each_image_gets_its_own_shift():
    one = torch.randint(0, 256, (1, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    out = random_shift(one.expand(64, -1, -1, -1).contiguous(), 4, torch.Generator().manual_seed(2))
    distinct = {out[i].numpy().tobytes() for i in range(64)}
    assert len(distinct) > 20  # 81 possible offsets
    assert torch.equal(random_shift(one, 0), one)  # pad 0: no augmentation


def test_polyak_by_hand():
    net, target = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    with torch.no_grad():
        net.weight.fill_(1.0), net.bias.fill_(2.0), target.weight.fill_(0.0), target.bias.fill_(0.0)
    polyak(net, target, 0.25)
    assert target.weight.item() == 0.25 and target.bias.item() == 0.5


def test_losses_are_sacs():
    from dlfrontier.rl import drq

    assert drq.critic_loss is sac.critic_loss and drq.soft_q_target is sac.soft_q_target
    assert drq.actor_loss is sac.actor_loss and drq.temperature_loss is sac.temperature_loss


def _params(agent: DrQ) -> list[torch.Tensor]:
    modules = [m for m in agent._modules().values() if isinstance(m, torch.nn.Module)]
    return [p.detach().clone() for m in modules for p in m.parameters()]


def _probe_obs(agent: DrQ) -> np.ndarray:
    env = agent.make_eval_env()
    obs, _ = env.reset(seed=0)
    out = [obs]
    for _ in range(5):
        out.append(env.step(env.action_space.sample())[0])
    return np.stack(out)


def test_learn_predict_save_load_round_trip(tmp_path: Path):
    agent = DrQ(TASK, seed=0, **SMALL)
    before = _params(agent)
    target_before = [p.clone() for p in agent.encoder_target.parameters()]
    agent.learn(80)
    assert agent.num_steps == 80 and agent.num_updates == 41  # updates from step 40 on
    assert any(not torch.equal(a, b) for a, b in zip(before, _params(agent), strict=True)), "learn changed nothing"
    assert any(not torch.equal(a, b) for a, b in zip(target_before, agent.encoder_target.parameters(), strict=True))
    obs = _probe_obs(agent)
    actions, state = agent.predict(obs, deterministic=True)
    assert state is None and actions.shape == (6, 1)
    assert all(agent.action_space.contains(a.astype(np.float32)) for a in actions)
    single, _ = agent.predict(obs[0], deterministic=True)
    assert np.allclose(single, actions[0], atol=1e-5)
    path = agent.save(tmp_path / "drq.pt")
    loaded = DrQ.load(path)
    assert np.array_equal(loaded.predict(obs, deterministic=True)[0], actions)
    assert loaded.num_steps == agent.num_steps and loaded.config == agent.config
    for a, b in zip(_params(agent), _params(loaded), strict=True):
        assert torch.equal(a, b)


def test_same_seed_same_result():
    runs = [DrQ(TASK, seed=3, **SMALL).learn(60) for _ in range(2)]
    for a, b in zip(_params(runs[0]), _params(runs[1]), strict=True):
        assert torch.equal(a, b)
    assert runs[0].episode_returns == runs[1].episode_returns
    other = DrQ(TASK, seed=4, **SMALL).learn(60)
    assert any(not torch.equal(a, b) for a, b in zip(_params(runs[0]), _params(other), strict=True))


def test_full_state_round_trip_includes_the_buffer_and_augmentation_rng():
    a = DrQ(TASK, seed=1, **SMALL).learn(50)
    b = DrQ(TASK, seed=1, **SMALL)
    b.load_state_dict(a.state_dict())
    assert b.buffer.size == a.buffer.size == 50 and np.array_equal(b.buffer.frames, a.buffer.frames)
    assert torch.equal(b.aug_rng.get_state(), a.aug_rng.get_state())
    assert b.log_alpha.item() == a.log_alpha.item()


def test_needs_image_observations():
    with pytest.raises(TypeError, match=r"uint8 images.*InvertedPendulumPixels"):
        DrQ("Pendulum-v1")
    with pytest.raises(TypeError, match="DrQ supports Box"):
        DrQ("CartPole-v1")
    assert isinstance(DrQ(TASK, **SMALL).observation_space, gym.spaces.Box)


def test_n_step_transitions_against_the_one_step_stream():
    """``n_step=3`` stores, for each start, the discounted sum of up to 3 one-step rewards (cut at termination)
    and the bootstrap discount ``gamma^k``, with the 3rd next observation; same seed, same random actions."""
    steps, gamma = 30, 0.9  # all before learning_starts (40): uniform random actions from the same rng
    one = DrQ(TASK, seed=5, gamma=gamma, **SMALL).learn(steps)
    three = DrQ(TASK, seed=5, gamma=gamma, n_step=3, **SMALL).learn(steps)
    b1, b3 = one.buffer.batch(np.arange(steps)), three.buffer.batch(np.arange(three.buffer.size))
    assert b1.dones.sum() >= 2, "the test needs episode ends in the stream"
    assert three.buffer.size == steps - len(three.adder.pending) and len(three.adder.pending) <= 2
    assert_n_step_matches_one_step(b1, b3, three.buffer.size, 3, gamma)

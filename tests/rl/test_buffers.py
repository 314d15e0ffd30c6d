"""Replay buffers: ring overwrite, n-step transitions, sum tree and prioritized sampling weights."""

import numpy as np
import torch

from dlfrontier.rl.common.buffers import NStepAdder, PrioritizedReplayBuffer, ReplayBuffer, SumTree


def _obs(i: float) -> np.ndarray:
    return np.full(2, i, np.float32)


def test_replay_ring_overwrites_oldest_and_round_trips_state():
    buf = ReplayBuffer(3, (2,))
    for i in range(5):
        buf.add(_obs(i), i % 2, float(i), _obs(i + 1), i == 4, 0.99)
    assert len(buf) == 3
    assert sorted(buf.rewards.tolist()) == [2.0, 3.0, 4.0]
    batch = buf.sample(8, np.random.default_rng(0))
    assert batch.obs.shape == (8, 2) and batch.actions.dtype.is_floating_point is False
    assert np.allclose(batch.next_obs.numpy() - batch.obs.numpy(), 1.0)
    other = ReplayBuffer(3, (2,))
    other.load_state_dict(buf.state_dict())
    assert np.array_equal(other.obs, buf.obs) and other.pos == buf.pos and other.size == buf.size


def test_replay_state_shares_memory_saves_only_the_stored_part_and_old_array_states_load(tmp_path):
    from dlfrontier.tracking import load_checkpoint, save_checkpoint

    buf = ReplayBuffer(1000, (250,))  # 2 MB of observations, 3 transitions stored
    for i in range(3):
        buf.add(np.full(250, i, np.float32), 1, float(i), np.full(250, i + 1, np.float32), False, 0.99)
    state = buf.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in state["arrays"].values())
    assert np.shares_memory(state["arrays"]["obs"].numpy(), buf.obs)  # no copy of a large buffer per checkpoint
    save_checkpoint(tmp_path / "c.pt", state)
    assert (tmp_path / "c.pt").stat().st_size < 50_000  # the 3 stored rows, not the 1000-row ring
    for loaded in (load_checkpoint(tmp_path / "c.pt"),
                   {**state, "arrays": {k: v.numpy().copy() for k, v in state["arrays"].items()}}):  # the old format
        other = ReplayBuffer(1000, (250,))
        other.load_state_dict(loaded)
        for k in ("obs", "next_obs", "actions", "rewards", "dones", "discounts"):
            assert np.array_equal(getattr(other, k), getattr(buf, k)), k
        assert (other.pos, other.size) == (buf.pos, buf.size)


def test_n_step_adder_emits_and_flushes_at_termination():
    adder = NStepAdder(2, 0.5)
    assert adder.push(_obs(0), 0, 1.0, _obs(1), False, False) == []
    (t,) = adder.push(_obs(1), 1, 2.0, _obs(2), False, False)
    assert t[0][0] == 0 and t[2] == 2.0 and t[3][0] == 2 and t[4] is False and t[5] == 0.25
    out = adder.push(_obs(2), 0, 3.0, _obs(3), True, False)
    got = [(o[0], g, n[0], d, disc) for o, _, g, n, d, disc in out]
    assert got == [(1, 3.5, 3, True, 0.25), (2, 3.0, 3, True, 0.5)]
    assert adder.pending == type(adder.pending)()


def test_n_step_adder_truncation_bootstraps():
    adder = NStepAdder(3, 0.5)
    adder.push(_obs(0), 0, 1.0, _obs(1), False, False)
    out = adder.push(_obs(1), 0, 1.0, _obs(2), False, True)
    assert [(g, d, disc) for _, _, g, _, d, disc in out] == [(1.5, False, 0.25), (1.0, False, 0.5)]


def test_sum_tree_find_and_total():
    tree = SumTree(4)
    tree.set(np.arange(4), np.array([1.0, 2.0, 3.0, 4.0]))
    assert tree.total == 10.0
    assert tree.find(np.array([0.0, 0.5, 1.0, 2.99, 3.0, 5.99, 6.0, 9.99])).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    tree.set(np.array([1]), np.array([0.0]))
    assert tree.total == 8.0 and tree.find(np.array([1.0])).tolist() == [2]


def test_prioritized_weights_and_sampling_frequencies():
    buf = PrioritizedReplayBuffer(4, (2,), alpha=1.0, eps=0.0)
    for i in range(4):
        buf.add(_obs(i), 0, 0.0, _obs(i), False, 0.99)
    buf.update_priorities(np.arange(4), np.array([1.0, -2.0, 3.0, 4.0]))
    # P = [.1, .2, .3, .4]; w = (N P)^-1 / max = [1, 1/2, 1/3, 1/4]
    assert np.allclose(buf.sampling_weights(np.arange(4), beta=1.0), [1.0, 0.5, 1 / 3, 0.25])
    assert np.allclose(buf.sampling_weights(np.arange(4), beta=0.0), 1.0)
    rng = np.random.default_rng(0)
    counts = np.zeros(4)
    for _ in range(200):
        counts += np.bincount(buf.sample(64, rng, beta=0.5).indices, minlength=4)
    assert np.allclose(counts / counts.sum(), [0.1, 0.2, 0.3, 0.4], atol=0.01)


def test_prioritized_new_transitions_get_max_priority():
    buf = PrioritizedReplayBuffer(8, (2,), alpha=0.6)
    buf.add(_obs(0), 0, 0.0, _obs(0), False, 0.99)
    buf.update_priorities(np.array([0]), np.array([5.0]))
    i = buf.add(_obs(1), 0, 0.0, _obs(1), False, 0.99)
    assert np.isclose(buf.tree.get(np.array([i]))[0], (5.0 + 1e-6) ** 0.6)

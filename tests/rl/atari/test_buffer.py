"""FrameReplayBuffer: each frame stored once, exact stacks back (across episode boundaries), memory per transition."""

from __future__ import annotations

import numpy as np
import pytest

from dlfrontier.rl.atari.buffer import FrameReplayBuffer
from dlfrontier.rl.common.buffers import ReplayBuffer

K, H, W = 4, 3, 2


def frame(v: int) -> np.ndarray:
    return np.full((H, W), v % 256, np.uint8)


def episodes(lengths: list[int], start: int = 1):
    """Stacked transitions of consecutive episodes; frame values are unique, so stacks can be compared."""
    v = start
    out = []
    for n in lengths:
        stack = [frame(v)] * K  # a reset repeats its first frame
        v += 1
        obs = np.stack(stack)
        for t in range(n):
            stack = stack[1:] + [frame(v)]
            v += 1
            nxt = np.stack(stack)
            out.append((obs, t % 3, float(v), nxt, t == n - 1, 0.99))
            obs = nxt
    return out


def test_stores_each_frame_once_and_returns_the_exact_stacks_across_episodes():
    trs = episodes([5, 1, 7])
    buf = FrameReplayBuffer(100, (K, H, W))
    for tr in trs:
        buf.add(*tr)
    # one new frame per step, plus the K frames of each episode's first stack
    assert buf.frames_written == len(trs) + 3 * K
    b = buf.batch(np.arange(len(trs)))
    for i, (obs, a, r, nxt, done, _) in enumerate(trs):
        np.testing.assert_array_equal(b.obs[i].numpy(), obs)
        np.testing.assert_array_equal(b.next_obs[i].numpy(), nxt)
        assert int(b.actions[i]) == a and float(b.rewards[i]) == pytest.approx(r)
        assert float(b.dones[i]) == float(done)


def test_matches_the_plain_buffer_after_wrapping_around():
    trs = episodes([30, 12, 25])
    frames = FrameReplayBuffer(20, (K, H, W))
    plain = ReplayBuffer(20, (K, H, W), np.uint8)
    for tr in trs:
        frames.add(*tr)
        plain.add(*tr)
    assert len(frames) == len(plain) == 20
    a = frames.sample(64, np.random.default_rng(0))
    idx = a.indices
    np.testing.assert_array_equal(a.obs.numpy(), plain.obs[idx])
    np.testing.assert_array_equal(a.next_obs.numpy(), plain.next_obs[idx])
    np.testing.assert_array_equal(a.rewards.numpy(), plain.rewards[idx])


def test_non_consecutive_transitions_are_stored_whole_and_still_exact():
    rng = np.random.default_rng(0)
    buf = FrameReplayBuffer(10, (K, H, W), frame_capacity=200)
    trs = []
    for _ in range(8):
        obs = rng.integers(0, 255, (K, H, W), dtype=np.uint8)
        nxt = rng.integers(0, 255, (K, H, W), dtype=np.uint8)  # not a shift of obs (as n-step transitions)
        trs.append((obs, 1, 0.0, nxt, False, 0.9))
        buf.add(*trs[-1])
    b = buf.batch(np.arange(8))
    for i, (obs, _, _, nxt, _, _) in enumerate(trs):
        np.testing.assert_array_equal(b.obs[i].numpy(), obs)
        np.testing.assert_array_equal(b.next_obs[i].numpy(), nxt)


def test_transitions_whose_frames_were_overwritten_are_dropped():
    rng = np.random.default_rng(0)
    buf = FrameReplayBuffer(10, (K, H, W), frame_capacity=3 * 2 * K)  # room for 3 whole transitions
    for _ in range(6):
        buf.add(rng.integers(0, 255, (K, H, W), dtype=np.uint8), 0, 0.0,
                rng.integers(0, 255, (K, H, W), dtype=np.uint8), False, 1.0)
    assert len(buf) == 3
    oldest = buf._indices(np.array([0]))
    assert buf.first_frame[oldest[0]] >= buf.frames_written - buf.frame_capacity


def test_memory_per_transition_is_one_frame_plus_a_little():
    buf = FrameReplayBuffer(100_000, (4, 84, 84))  # pages are mapped lazily: no 700 MB touched
    per = buf.bytes_per_transition()
    assert 84 * 84 < per < 84 * 84 + 100  # one frame (7056 bytes) + indices and scalars
    assert per * 1_000_000 / 2**30 < 7.5  # a 1M-transition replay memory under 7.5 GiB
    plain = ReplayBuffer(10, (4, 84, 84), np.uint8)
    assert plain.obs.nbytes / 10 * 2 / per > 7  # 8x less than stacked obs and next_obs


def test_state_dict_round_trip_continues_deduplication():
    trs = episodes([6, 9])
    buf = FrameReplayBuffer(50, (K, H, W))
    for tr in trs[:8]:
        buf.add(*tr)
    clone = FrameReplayBuffer(50, (K, H, W))
    state = buf.state_dict()
    assert np.shares_memory(state["frames"].numpy(), buf.frames)  # no copy of the frames per checkpoint
    clone.load_state_dict(state)
    old_format = FrameReplayBuffer(50, (K, H, W))  # NumPy arrays: checkpoints written before 2026-12-02
    old_format.load_state_dict({**state, "frames": state["frames"].numpy().copy(),
                                "arrays": {k: v.numpy().copy() for k, v in state["arrays"].items()}})
    np.testing.assert_array_equal(old_format.frames, clone.frames)
    for tr in trs[8:]:
        buf.add(*tr)
        clone.add(*tr)
    assert clone.frames_written == buf.frames_written
    idx = np.arange(len(trs))
    np.testing.assert_array_equal(clone.batch(idx).obs.numpy(), buf.batch(idx).obs.numpy())


def test_rejects_unstacked_observations():
    with pytest.raises(ValueError, match="stacked"):
        FrameReplayBuffer(10, (84,))

"""A replay buffer for stacked frames that stores each frame once.

Paper: Mnih et al., "Human-level control through deep reinforcement learning" (Nature 2015,
https://www.nature.com/articles/nature14236): a replay memory of 1M transitions of 4 stacked 84x84 frames.
Stored as stacks, obs and next obs, that is ``2 * 4 * 84 * 84 = 56 KiB`` per transition, 53 GiB per million;
stored frame by frame it is one 84x84 frame (6.9 KiB) plus a few indices, 6.6 GiB per million.

How: frames live in their own ring (``frames [F, 84, 84]``) and each transition keeps the ring positions of the
frames of its two stacks (``obs_idx``, ``next_idx``, ``[k]`` each). When a transition continues the previous
one (its ``obs`` is the previous ``next_obs``) and its ``next_obs`` is ``obs`` shifted by one frame, as in every
step of a frame-stacked episode, only the one new frame is written; anything else (an episode's first
transition, n-step transitions) writes the whole stack, so sampled stacks are always exactly the stacks added.
A transition whose oldest frame has been overwritten in the frame ring is dropped from the buffer; with
``frame_capacity`` of ``capacity + slack`` (the default) that only happens when most transitions write whole
stacks, so pass a larger ``frame_capacity`` for n-step returns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from dlfrontier.rl.common.buffers import ReplayBatch


class FrameReplayBuffer:
    """Uniform replay of ``[k, *frame]`` stacked observations, each frame stored once.

    Same interface as :class:`dlfrontier.rl.common.buffers.ReplayBuffer` (``add``, ``sample``, ``state_dict``).

    Args:
        capacity: transitions kept.
        obs_shape: one observation's shape ``(k, *frame)`` (``(4, 84, 84)`` for Atari).
        obs_dtype: the frames' dtype (uint8).
        action_shape, action_dtype: one action's shape and dtype.
        device: where sampled batches go.
        frame_capacity: frames kept (default ``capacity + 64 * k``).
    """

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        obs_dtype: Any = np.uint8,
        action_shape: tuple[int, ...] = (),
        action_dtype: Any = np.int64,
        device: torch.device | str = "cpu",
        frame_capacity: int | None = None,
    ) -> None:
        if len(obs_shape) < 2:
            raise ValueError(f"FrameReplayBuffer needs stacked observations (k, *frame), got shape {obs_shape}")
        self.capacity = int(capacity)
        self.k = int(obs_shape[0])
        self.frame_shape = tuple(obs_shape[1:])
        self.frame_capacity = int(frame_capacity or self.capacity + 64 * self.k)
        # np.zeros maps pages lazily: an empty 1M buffer costs no memory until frames are written
        self.frames = np.zeros((self.frame_capacity, *self.frame_shape), dtype=obs_dtype)
        self.obs_idx = np.zeros((self.capacity, self.k), dtype=np.int32)  # frame ring positions of obs
        self.next_idx = np.zeros((self.capacity, self.k), dtype=np.int32)  # ... and of next_obs
        self.first_frame = np.zeros(self.capacity, dtype=np.int64)  # sequence number of the oldest frame used
        self.actions = np.zeros((self.capacity, *action_shape), dtype=action_dtype)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.dones = np.zeros(self.capacity, dtype=np.float32)
        self.discounts = np.zeros(self.capacity, dtype=np.float32)
        self.pos = 0  # next transition slot
        self.size = 0  # valid transitions, the newest ones
        self.frames_written = 0  # frame sequence number; frame s lives at s % frame_capacity
        self.device = torch.device(device)
        # the previous transition's next_obs, as given and as frame sequence numbers
        self._last_next: np.ndarray | None = None
        self._last_next_seq: np.ndarray | None = None

    def __len__(self) -> int:
        return self.size

    def bytes_per_transition(self) -> float:
        """Allocated bytes per transition (frames ring and per-transition arrays, at full capacity)."""
        arrays = (self.frames, self.obs_idx, self.next_idx, self.first_frame, self.actions, self.rewards,
                  self.dones, self.discounts)
        return sum(a.nbytes for a in arrays) / self.capacity

    def _write(self, frame: np.ndarray) -> int:
        self.frames[self.frames_written % self.frame_capacity] = frame
        self.frames_written += 1
        return self.frames_written - 1

    def _write_stack(self, stack: np.ndarray) -> np.ndarray:
        return np.array([self._write(f) for f in stack], dtype=np.int64)

    def add(
        self, obs: np.ndarray, action: Any, reward: float, next_obs: np.ndarray, done: bool, discount: float
    ) -> int:
        """Store one transition (writing only the frames not stored yet); returns its index."""
        obs, next_obs = np.asarray(obs), np.asarray(next_obs)
        last = self._last_next
        if last is not None and (obs is last or np.array_equal(obs, last)):
            assert self._last_next_seq is not None
            obs_seq = self._last_next_seq
        else:
            obs_seq = self._write_stack(obs)
        if np.array_equal(next_obs[:-1], obs[1:]):
            next_seq = np.append(obs_seq[1:], self._write(next_obs[-1]))
        else:
            next_seq = self._write_stack(next_obs)
        self._last_next, self._last_next_seq = next_obs, next_seq
        i = self.pos
        self.obs_idx[i] = obs_seq % self.frame_capacity
        self.next_idx[i] = next_seq % self.frame_capacity
        self.first_frame[i] = obs_seq.min()
        self.actions[i] = action
        self.rewards[i] = reward
        self.dones[i] = float(done)
        self.discounts[i] = discount
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        # drop the oldest transitions whose frames the ring has overwritten since
        oldest_kept = self.frames_written - self.frame_capacity
        while self.size > 0 and self.first_frame[(self.pos - self.size) % self.capacity] < oldest_kept:
            self.size -= 1
        return i

    def _indices(self, idx: np.ndarray) -> np.ndarray:
        """Slot of the ``idx``-th valid transition (0 = oldest)."""
        return (self.pos - self.size + idx) % self.capacity

    def sample(self, batch_size: int, rng: np.random.Generator) -> ReplayBatch:
        """A uniform batch (with replacement); obs ``[B, k, *frame]`` gathered from the frame ring."""
        idx = self._indices(rng.integers(0, self.size, size=batch_size))
        return self.batch(idx)

    def batch(self, idx: np.ndarray) -> ReplayBatch:
        """The transitions in slots ``idx`` as a batch."""

        def t(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(x).to(self.device)

        obs = self.frames[self.obs_idx[idx]]  # [B, k, *frame]
        next_obs = self.frames[self.next_idx[idx]]
        w = np.ones(len(idx), dtype=np.float32)
        return ReplayBatch(t(obs), t(self.actions[idx]), t(self.rewards[idx]), t(next_obs), t(self.dones[idx]),
                           t(self.discounts[idx]), t(w), idx)

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """No-op (uniform replay)."""

    def state_dict(self) -> dict[str, Any]:
        """The valid transitions and the frames they use (not the whole preallocated ring). Like a module's
        ``state_dict`` the tensors share the buffer's memory: save it or copy it before the buffer changes."""
        n_frames = min(self.frames_written, self.frame_capacity)
        return {
            "frames": torch.from_numpy(self.frames[:n_frames]),  # shared memory; torch.save streams it to the file
            "arrays": {k: torch.from_numpy(getattr(self, k)) for k in
                       ("obs_idx", "next_idx", "first_frame", "actions", "rewards", "dones", "discounts")},
            "pos": self.pos, "size": self.size, "frames_written": self.frames_written,
            "last_next": self._last_next, "last_next_seq": self._last_next_seq,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        def arr(v: Any) -> Any:  # tensors, or NumPy arrays (checkpoints written before 2026-12-02)
            return v.numpy() if isinstance(v, torch.Tensor) else v

        frames = arr(state["frames"])
        self.frames[: len(frames)] = frames
        for k, v in state["arrays"].items():
            getattr(self, k)[:] = arr(v)
        self.pos, self.size, self.frames_written = state["pos"], state["size"], state["frames_written"]
        self._last_next, self._last_next_seq = state["last_next"], state["last_next_seq"]

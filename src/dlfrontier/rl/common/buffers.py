"""Experience replay (uniform and prioritized) with optional n-step transitions.

Papers: Lin, "Self-improving reactive agents based on reinforcement learning, planning and teaching" (1992);
Mnih et al., "Human-level control through deep reinforcement learning" (2015,
https://www.nature.com/articles/nature14236); Schaul et al., "Prioritized Experience Replay" (2015,
https://arxiv.org/abs/1511.05952).

Buffers are preallocated NumPy arrays; a sampled batch is converted to torch once (one tensor per field).
Each stored transition carries its own bootstrap ``discount`` (``gamma^k``), so n-step and 1-step transitions
use the same TD target ``r + discount * (1 - done) * Q(s', .)``.
"""

from __future__ import annotations

from collections import deque
from typing import Any, NamedTuple

import numpy as np
import torch

from dlfrontier.rl.common.returns import n_step_return


class ReplayBatch(NamedTuple):
    """A batch of transitions. Shapes: obs/next_obs ``[B, *obs]``, actions ``[B, *act]``, the rest ``[B]``."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    dones: torch.Tensor
    discounts: torch.Tensor
    weights: torch.Tensor
    indices: np.ndarray


class ReplayBuffer:
    """A ring buffer of transitions sampled uniformly.

    Args:
        capacity: the number of transitions kept (the oldest are overwritten).
        obs_shape, obs_dtype: one observation's shape and NumPy dtype (uint8 keeps Atari frames small).
        action_shape, action_dtype: one action's shape (``()`` for discrete) and dtype.
        device: where sampled batches go.
    """

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        obs_dtype: Any = np.float32,
        action_shape: tuple[int, ...] = (),
        action_dtype: Any = np.int64,
        device: torch.device | str = "cpu",
    ) -> None:
        self.capacity = int(capacity)
        self.obs = np.zeros((self.capacity, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros((self.capacity, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((self.capacity, *action_shape), dtype=action_dtype)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.dones = np.zeros(self.capacity, dtype=np.float32)
        self.discounts = np.zeros(self.capacity, dtype=np.float32)
        self.pos = 0
        self.size = 0
        self.device = torch.device(device)

    def __len__(self) -> int:
        return self.size

    def add(
        self, obs: np.ndarray, action: Any, reward: float, next_obs: np.ndarray, done: bool, discount: float
    ) -> int:
        """Store one transition; returns its index."""
        i = self.pos
        self.obs[i] = obs
        self.actions[i] = action
        self.rewards[i] = reward
        self.next_obs[i] = next_obs
        self.dones[i] = float(done)
        self.discounts[i] = discount
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        return i

    def _batch(self, idx: np.ndarray, weights: np.ndarray | None) -> ReplayBatch:
        def t(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(x).to(self.device)

        w = np.ones(len(idx), dtype=np.float32) if weights is None else weights.astype(np.float32)
        return ReplayBatch(
            t(self.obs[idx]), t(self.actions[idx]), t(self.rewards[idx]), t(self.next_obs[idx]),
            t(self.dones[idx]), t(self.discounts[idx]), t(w), idx,
        )

    def sample(self, batch_size: int, rng: np.random.Generator) -> ReplayBatch:
        """A uniform batch (with replacement), importance weights all 1."""
        idx = rng.integers(0, self.size, size=batch_size)
        return self._batch(idx, None)

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """No-op for uniform replay (kept so the DQN loop needs no branch)."""

    def state_dict(self) -> dict[str, Any]:
        """The stored transitions. Like a module's ``state_dict`` the tensors share the buffer's memory (no copy of a
        buffer of gigabytes at every checkpoint): save it or copy it before the buffer changes."""
        n = self.size
        fields = ("obs", "next_obs", "actions", "rewards", "dones", "discounts")
        # Tensors sharing the arrays' memory: ``torch.save`` streams a tensor's bytes to the file, while a NumPy array
        # would be pickled through memory (several copies of a buffer of gigabytes).
        arrays = {k: torch.from_numpy(getattr(self, k)[:n]) for k in fields}
        return {"arrays": arrays, "pos": self.pos, "size": self.size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        n = state["size"]
        for k, v in state["arrays"].items():  # tensors, or NumPy arrays (checkpoints written before 2026-12-02)
            getattr(self, k)[:n] = v.numpy() if isinstance(v, torch.Tensor) else v
        self.pos, self.size = state["pos"], n


class SumTree:
    """A binary tree over ``capacity`` leaves whose inner nodes hold the sum of their children.

    Leaves live at ``tree[capacity - 1 + i]`` (capacity rounded up to a power of two); lookups and updates
    are vectorized over a batch, one NumPy operation per tree level.
    """

    def __init__(self, capacity: int) -> None:
        size = 1
        while size < capacity:
            size *= 2
        self.leaves = size
        self.tree = np.zeros(2 * size - 1, dtype=np.float64)

    @property
    def total(self) -> float:
        return float(self.tree[0])

    def set(self, indices: np.ndarray, values: np.ndarray) -> None:
        nodes = np.asarray(indices, dtype=np.int64) + self.leaves - 1
        self.tree[nodes] = values
        nodes = np.unique((nodes - 1) // 2)
        while True:
            self.tree[nodes] = self.tree[2 * nodes + 1] + self.tree[2 * nodes + 2]
            if nodes[0] == 0:
                break
            nodes = np.unique((nodes - 1) // 2)

    def find(self, masses: np.ndarray) -> np.ndarray:
        """Leaf indices ``i`` with ``cumsum[i-1] <= mass < cumsum[i]`` for each mass in ``[0, total)``."""
        nodes = np.zeros(len(masses), dtype=np.int64)
        masses = masses.astype(np.float64).copy()
        while True:
            left = 2 * nodes + 1
            if left[0] >= len(self.tree):
                break
            left_sum = self.tree[left]
            go_right = masses >= left_sum
            masses = np.where(go_right, masses - left_sum, masses)
            nodes = np.where(go_right, left + 1, left)
        return nodes - (self.leaves - 1)

    def get(self, indices: np.ndarray) -> np.ndarray:
        return self.tree[np.asarray(indices) + self.leaves - 1]


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritized replay: ``P(i) = p_i^alpha / sum_k p_k^alpha``, ``p_i = |delta_i| + eps``.

    Importance weights ``w_i = (N * P(i))^-beta / max_j w_j`` correct the bias of non-uniform sampling; new
    transitions get the maximum priority seen so far so each is replayed at least once soon.

    Args:
        alpha: how much prioritization is used (0 = uniform).
        eps: added to ``|delta|`` so no transition has zero probability.
        (other arguments as :class:`ReplayBuffer`.)
    """

    def __init__(self, capacity: int, *args: Any, alpha: float = 0.6, eps: float = 1e-6, **kwargs: Any) -> None:
        super().__init__(capacity, *args, **kwargs)
        self.alpha, self.eps = alpha, eps
        self.tree = SumTree(self.capacity)
        self.max_priority = 1.0

    def add(
        self, obs: np.ndarray, action: Any, reward: float, next_obs: np.ndarray, done: bool, discount: float
    ) -> int:
        i = super().add(obs, action, reward, next_obs, done, discount)
        self.tree.set(np.array([i]), np.array([self.max_priority**self.alpha]))
        return i

    def sampling_weights(self, indices: np.ndarray, beta: float) -> np.ndarray:
        """Normalized importance weights of ``indices`` (max weight over the whole buffer is 1)."""
        probs = self.tree.get(indices) / self.tree.total
        leaves = self.tree.get(np.arange(self.size))
        p_min = leaves[leaves > 0].min() / self.tree.total
        return ((self.size * probs) ** (-beta) / (self.size * p_min) ** (-beta)).astype(np.float32)

    def sample(self, batch_size: int, rng: np.random.Generator, beta: float = 0.4) -> ReplayBatch:  # type: ignore[override]
        """Stratified proportional sampling: one draw from each of ``batch_size`` equal slices of the mass."""
        total = self.tree.total
        bounds = np.arange(batch_size) * (total / batch_size)
        masses = bounds + rng.random(batch_size) * (total / batch_size)
        idx = np.minimum(self.tree.find(np.minimum(masses, np.nextafter(total, 0))), self.size - 1)
        return self._batch(idx, self.sampling_weights(idx, beta))

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        p = np.abs(td_errors).astype(np.float64) + self.eps
        self.max_priority = max(self.max_priority, float(p.max()))
        self.tree.set(indices, p**self.alpha)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(tree=self.tree.tree.copy(), max_priority=self.max_priority)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.tree.tree[:] = state["tree"]
        self.max_priority = state["max_priority"]


# (obs, action, n-step reward sum, next_obs, done, bootstrap discount)
Transition = tuple[np.ndarray, Any, float, np.ndarray, bool, float]


class NStepAdder:
    """Turns a stream of 1-step transitions from one env into n-step transitions.

    Call :meth:`push` after every env step; it returns the transitions that are complete:
    ``(obs_t, a_t, G, next_obs, done, discount)`` with ``G`` the discounted n-step reward sum. At an episode's
    end (terminated or truncated) every pending start is flushed with its shorter return; a truncated
    episode bootstraps from its final observation (``done=False``).
    """

    def __init__(self, n: int, gamma: float) -> None:
        self.n, self.gamma = n, gamma
        self.pending: deque[tuple[np.ndarray, Any, float]] = deque()

    def push(
        self, obs: np.ndarray, action: Any, reward: float, next_obs: np.ndarray, terminated: bool, truncated: bool
    ) -> list[Transition]:
        self.pending.append((obs, action, float(reward)))
        out = []
        if terminated or truncated:
            while self.pending:
                out.append(self._emit(next_obs, terminated))
        elif len(self.pending) == self.n:
            out.append(self._emit(next_obs, False))
        return out

    def _emit(self, next_obs: np.ndarray, terminated_at_end: bool) -> Transition:
        rewards = [r for _, _, r in self.pending]
        terms = [False] * (len(rewards) - 1) + [terminated_at_end]
        g, discount, done = n_step_return(rewards, terms, self.gamma)
        obs, action, _ = self.pending.popleft()
        return obs, action, g, next_obs, done, discount

    def reset(self) -> None:
        self.pending.clear()

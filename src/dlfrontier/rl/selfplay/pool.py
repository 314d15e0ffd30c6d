"""An opponent pool of frozen snapshots: when to add one, and how to sample opponents from it.

* **When** (:meth:`OpponentPool.should_snapshot`): RLlib's self-play rule (its ``self_play_with_open_spiel``
  example, ``win_rate_threshold=0.95``): a frozen copy of the learner joins the pool once the learner wins at
  least 95% of its games against the pool in the last rollout (a draw is not a win), or, if ``every`` is set,
  after ``every`` updates without a snapshot.
* **Which opponent** (:meth:`OpponentPool.probabilities`): uniformly, or by prioritized fictitious self-play
  (PFSP; Vinyals et al., "Grandmaster level in StarCraft II using multi-agent reinforcement learning",
  Nature 2019): opponent ``k`` is drawn with probability proportional to ``f(p_k) = (1 - p_k)^power``
  (AlphaStar's ``f_hard``, power 2), where ``p_k`` is the learner's estimated probability of beating ``k``:
  its score against ``k`` (a draw half a win) over discounted counts, ``p_k = (s_k + 0.5) / (n_k + 1)`` (the
  ``+0.5 / +1`` prior makes an unplayed opponent ``p = 0.5``). If every weight is 0 the draw is uniform.
  Counts are multiplied by ``decay`` at each :meth:`record` call, so old results fade as the learner changes.
* **League-lite** (in :mod:`dlfrontier.rl.selfplay.training`): a main agent and one exploiter that trains only
  against the current main agent; the exploiter's snapshots join the main agent's pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Sampling = Literal["uniform", "pfsp"]


@dataclass
class OpponentPool:
    """Frozen opponents (any objects, e.g. network states) with the learner's results against each.

    Args:
        sampling: ``"uniform"`` or ``"pfsp"``.
        threshold: the win rate against the pool that adds a snapshot (RLlib: 0.95).
        every: also add one after this many updates without a snapshot (None: only the threshold).
        capacity: most members kept; the oldest after the first goes first (the first, the untrained
            network, stays as the weakest reference).
        power: PFSP's exponent ``p`` in ``(1 - x)^p``.
        decay: factor applied to the result counts at each :meth:`record`.
    """

    sampling: Sampling = "uniform"
    threshold: float = 0.95
    every: int | None = None
    capacity: int = 50
    power: float = 2.0
    decay: float = 0.95
    members: list[Any] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    score: list[float] = field(default_factory=list)
    games: list[float] = field(default_factory=list)
    since_snapshot: int = 0

    def __len__(self) -> int:
        return len(self.members)

    def add(self, member: Any, name: str) -> None:
        self.members.append(member)
        self.names.append(name)
        self.score.append(0.0)
        self.games.append(0.0)
        self.since_snapshot = 0
        if len(self.members) > self.capacity:
            for lst in (self.members, self.names, self.score, self.games):
                del lst[1]

    def win_probabilities(self) -> np.ndarray:
        """The learner's estimated probability of beating each member: ``(s + 0.5) / (n + 1)``."""
        return (np.asarray(self.score) + 0.5) / (np.asarray(self.games) + 1.0)

    def probabilities(self) -> np.ndarray:
        """The sampling distribution over members (uniform or PFSP)."""
        k = len(self.members)
        if k == 0:
            raise ValueError("the opponent pool is empty")
        if self.sampling == "uniform":
            return np.full(k, 1.0 / k)
        w = (1.0 - self.win_probabilities()) ** self.power
        total = w.sum()
        return w / total if total > 0 else np.full(k, 1.0 / k)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` member indices drawn independently from :meth:`probabilities`."""
        return rng.choice(len(self.members), size=n, p=self.probabilities())

    def record(self, opponent: np.ndarray, score: np.ndarray) -> None:
        """Fold one rollout's results in: ``score[i]`` (1 / 0.5 / 0) of a game against member ``opponent[i]``."""
        s = np.asarray(self.score) * self.decay
        g = np.asarray(self.games) * self.decay
        np.add.at(s, opponent, score)
        np.add.at(g, opponent, 1.0)
        self.score, self.games = s.tolist(), g.tolist()
        self.since_snapshot += 1

    def should_snapshot(self, win_rate: float) -> bool:
        """True when the learner's win rate against the pool in the last rollout reached the threshold, or
        ``every`` updates passed since the last snapshot."""
        if win_rate >= self.threshold:
            return True
        return self.every is not None and self.since_snapshot >= self.every

    def state_dict(self) -> dict[str, Any]:
        return {"members": list(self.members), "names": list(self.names), "score": list(self.score),
                "games": list(self.games), "since_snapshot": self.since_snapshot}

    def load_state_dict(self, st: dict[str, Any]) -> None:
        self.members, self.names = list(st["members"]), [str(x) for x in st["names"]]
        self.score, self.games = [float(x) for x in st["score"]], [float(x) for x in st["games"]]
        self.since_snapshot = int(st["since_snapshot"])


def win_rate(score: np.ndarray) -> float:
    """Fraction of games won (score 1; a draw is not a win), over the games with a score (not nan)."""
    s = score[~np.isnan(score)]
    return float((s == 1.0).mean()) if len(s) else 0.0


__all__ = ["OpponentPool", "Sampling", "win_rate"]

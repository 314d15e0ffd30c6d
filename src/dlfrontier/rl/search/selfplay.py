"""Self-play batched over many games in one process, the replay window, and symmetry augmentation.

Every move step searches the current position of all unfinished games in one :class:`BatchedMCTS` call (one
network call per simulation for all games). A finished game labels each of its positions with the final
result from the view of the player who was to move there (+1 won, 0 draw, -1 lost).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from dlfrontier.rl.search.mcts import BatchedMCTS, Evaluate, pick_by_visits
from dlfrontier.rl.search.network import encode_states


@dataclass
class Samples:
    """Training examples: ``planes float32[n, C, R, W]``, ``policy float32[n, A]``, ``value float32[n]``."""

    planes: np.ndarray
    policy: np.ndarray
    value: np.ndarray

    def __len__(self) -> int:
        return len(self.value)

    @staticmethod
    def concat(parts: Iterable[Samples]) -> Samples:
        parts = list(parts)
        return Samples(np.concatenate([p.planes for p in parts]), np.concatenate([p.policy for p in parts]),
                       np.concatenate([p.value for p in parts]))

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors (a checkpoint must load with ``torch.load(weights_only=True)``)."""
        return {"planes": torch.from_numpy(self.planes), "policy": torch.from_numpy(self.policy),
                "value": torch.from_numpy(self.value)}


@dataclass
class SelfPlayStats:
    games: int
    moves: int
    first_player_score: float   # mean result for the first player (+1 / 0 / -1)
    mean_length: float
    lengths: list[int]          # moves of each game, in the order of the samples


def self_play(game: Any, mcts: BatchedMCTS, evaluate: Evaluate, n_games: int, rng: np.random.Generator, *,
              temperature_moves: int, value_mix: float = 0.0) -> tuple[Samples, SelfPlayStats]:
    """Play ``n_games`` games against itself, all at once; PUCT samples moves from the visit counts (temperature
    1) for the first ``temperature_moves`` moves of a game, then plays the most visited; Gumbel plays the search's
    own choice (its root Gumbel noise explores). Returns the positions with their policy targets and value
    targets: the game's result z from the view of the player to move, or with ``value_mix`` = m the average
    ``(1 - m) * z + m * q`` with the search's root value q (the "average z and q" target, which trades z's
    noise for q's bias)."""
    states = [game.initial() for _ in range(n_games)]
    records: list[list[tuple[Any, np.ndarray, int, float]]] = [[] for _ in range(n_games)]  # state, policy, player, q
    results = np.zeros(n_games)                                   # first player's result
    active = list(range(n_games))
    moves = 0
    while active:
        roots = [states[g] for g in active]
        move_no = np.array([len(records[g]) for g in active])
        hot = move_no < temperature_moves
        out = mcts.search(game, roots, evaluate, rng, temperature=1.0, add_noise=True)
        if mcts.cfg.algorithm == "puct":  # hot games sampled (temperature 1), the others greedy
            greedy = pick_by_visits(out.visits, out.visits > 0, 0.0, rng)
            actions = np.where(hot, out.action, greedy)
        else:
            actions = out.action
        still = []
        for i, g in enumerate(active):
            s = states[g]
            records[g].append((s, out.policy[i].astype(np.float32), game.to_move(s), float(out.value[i])))
            s = game.play(s, int(actions[i]))
            moves += 1
            states[g] = s
            o = game.outcome(s)
            if o is None:
                still.append(g)
            else:  # o is for the player to move at the end
                results[g] = o if game.to_move(s) == 0 else -o
        active = still
    planes, policies, values = [], [], []
    for g in range(n_games):
        for s, pi, player, q in records[g]:
            planes.append(s)
            policies.append(pi)
            z = results[g] if player == 0 else -results[g]
            values.append((1.0 - value_mix) * z + value_mix * q)  # m = 0: exactly z
    samples = Samples(encode_states(game, planes), np.stack(policies), np.asarray(values, np.float32))
    stats = SelfPlayStats(n_games, moves, float(results.mean()), moves / n_games, [len(r) for r in records])
    return samples, stats


def augment(game: Any, samples: Samples) -> Samples:
    """Every sample under every board symmetry of ``game`` (``game.symmetries``; identity first)."""
    planes, policies, values = [], [], []
    for x, p, v in zip(samples.planes, samples.policy, samples.value, strict=True):
        for xs, ps in game.symmetries(x, p):
            planes.append(xs)
            policies.append(ps)
            values.append(v)
    return Samples(np.stack(planes).astype(np.float32), np.stack(policies).astype(np.float32),
                   np.asarray(values, np.float32))


class ReplayWindow:
    """The samples of the last ``iterations`` self-play iterations (AlphaZero's replay window, in iterations)."""

    def __init__(self, iterations: int) -> None:
        self.parts: deque[Samples] = deque(maxlen=iterations)

    def add(self, samples: Samples) -> None:
        self.parts.append(samples)

    def all(self) -> Samples:
        return Samples.concat(self.parts)

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def state_dict(self) -> list[dict[str, torch.Tensor]]:
        return [p.state_dict() for p in self.parts]

    def load_state_dict(self, parts: list[dict[str, Any]]) -> None:
        self.parts.clear()
        for p in parts:
            self.parts.append(Samples(*(np.asarray(p[k]) for k in ("planes", "policy", "value"))))


__all__ = ["ReplayWindow", "SelfPlayStats", "Samples", "augment", "self_play"]

"""Measuring a search agent: batched colour-balanced matches against fixed opponents and exact move quality.

``SearchAgent`` is a network plus a search (no noise, greedy) and implements :mod:`dlfrontier.games`'
``Player`` protocol for single games; :func:`batched_match` plays all games of a match at once so the agent's
moves of every game are searched together (one network call per simulation step). :func:`move_quality`
compares the agent's move with the solver's action values on many positions at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlfrontier.games.arena import MatchResult
from dlfrontier.rl.search.mcts import BatchedMCTS, SearchConfig
from dlfrontier.rl.search.network import NetworkEvaluator

OPPONENTS = ("random", "lookahead", "minimax-1", "minimax-2", "minimax-4", "uct-200", "uct-1000", "perfect")


class SearchAgent:
    """Network + search as a player: ``select`` for one state, ``select_many`` for a batch (greedy, no noise)."""

    def __init__(self, game: Any, net: Any, search: SearchConfig, *, name: str = "alphazero",
                 device: Any = "cpu") -> None:
        self.game, self.name = game, name
        self.mcts = BatchedMCTS(search)
        self.evaluate = NetworkEvaluator(game, net, device)

    def search(self, states: Sequence[Any], rng: np.random.Generator) -> Any:
        return self.mcts.search(self.game, list(states), self.evaluate, rng, temperature=0.0, add_noise=False)

    def select_many(self, states: Sequence[Any], rng: np.random.Generator) -> np.ndarray:
        return self.search(states, rng).action if len(states) else np.zeros(0, np.int64)

    def select(self, game: Any, s: Any, rng: np.random.Generator) -> int:
        return int(self.select_many([s], rng)[0])


def batched_match(game: Any, agent: SearchAgent, opponent: Any, n_games: int, seed: int) -> MatchResult:
    """``n_games`` games, colour-balanced (the agent moves first in the first half), all played at once."""
    rng = np.random.default_rng(seed)
    agent_first = np.arange(n_games) < (n_games + 1) // 2
    states = [game.initial() for _ in range(n_games)]
    result = np.zeros(n_games)                                     # agent's result
    active = list(range(n_games))
    while active:
        agent_turn = [g for g in active if (game.to_move(states[g]) == 0) == agent_first[g]]
        for g, a in zip(agent_turn, agent.select_many([states[g] for g in agent_turn], rng), strict=True):
            states[g] = game.play(states[g], int(a))
        for g in active:
            if g not in agent_turn and game.outcome(states[g]) is None:
                states[g] = game.play(states[g], int(opponent.select(game, states[g], rng)))
        still = []
        for g in active:
            o = game.outcome(states[g])
            if o is None:
                still.append(g)
            else:
                agent_to_move = (game.to_move(states[g]) == 0) == agent_first[g]
                result[g] = o if agent_to_move else -o
        active = still
    return MatchResult(int((result > 0).sum()), int((result == 0).sum()), int((result < 0).sum()))


def move_quality(agent: SearchAgent, positions: Sequence[Any], action_values: np.ndarray, seed: int,
                 chunk: int = 1024, per_position: bool = False) -> Any:
    """Fraction of ``positions`` where the agent's move is optimal: no other legal move has a strictly better
    exact value (``action_values float[n, A]``, nan where illegal). The mistake rate is one minus it.
    ``per_position``: return ``bool[n]`` (optimal or not) instead."""
    rng = np.random.default_rng(seed)
    ok = []
    for i in range(0, len(positions), chunk):
        acts = agent.select_many(positions[i:i + chunk], rng)
        vals = action_values[i:i + chunk]
        ok.append(vals[np.arange(len(acts)), acts] >= np.nanmax(vals, axis=1))
    flags = np.concatenate(ok) if ok else np.zeros(0, bool)
    return flags if per_position else float(flags.mean()) if len(flags) else 0.0


def label(game: Any, positions: Sequence[Any]) -> np.ndarray:
    """Exact action values ``float[n, A]`` of ``positions`` from the solver of :mod:`dlfrontier.games`."""
    from dlfrontier.games import action_values

    return np.stack([np.asarray(action_values(game, s), np.float64) for s in positions])


__all__ = ["OPPONENTS", "SearchAgent", "batched_match", "label", "move_quality"]

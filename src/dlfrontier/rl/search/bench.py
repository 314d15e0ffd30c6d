"""``dlfrontier bench search``: simulations/s of the batched search vs a naive recursive single-game MCTS.

The reference below is written here in the shape of the popular Python AlphaZero implementations
(alpha-zero-general's ``MCTS.search``): one game at a time, dictionaries keyed by state, a recursive descent and
one network call with a batch of one per leaf. Both use the same fixed, untrained network and the same game; the
batched search runs 64 games at once. Also reported: self-play games/s of :func:`~dlfrontier.rl.search.selfplay.
self_play` with the same network. A benchmark, never a test.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlfrontier.bench import benchmark
from dlfrontier.rl.search.mcts import BatchedMCTS, SearchConfig, masked_softmax
from dlfrontier.rl.search.network import NetworkEvaluator, build_network
from dlfrontier.rl.search.selfplay import self_play


class NaiveMCTS:
    """Recursive single-game PUCT (the reference): N(s,a), Q(s,a), P(s) in dicts, values negated per ply."""

    def __init__(self, game: Any, evaluate: Any, c_puct: float = 1.5) -> None:
        self.game, self.evaluate, self.c = game, evaluate, c_puct
        self.q: dict = {}
        self.n: dict = {}
        self.ns: dict = {}
        self.p: dict = {}

    def search(self, s: Any) -> float:
        """One simulation from ``s``; returns the value of ``s`` for the player who moved into it."""
        o = self.game.outcome(s)
        if o is not None:
            return -o
        if s not in self.p:
            logits, v = self.evaluate([s])
            legal = self.game.legal(s)
            self.p[s] = (masked_softmax(logits[0], legal), legal)
            self.ns[s] = 0
            return -float(v[0])
        prior, legal = self.p[s]
        best, best_a = -math.inf, -1
        for a in np.flatnonzero(legal):
            key = (s, int(a))
            if key in self.q:
                u = self.q[key] + self.c * prior[a] * math.sqrt(self.ns[s]) / (1 + self.n[key])
            else:
                u = self.c * prior[a] * math.sqrt(self.ns[s] + 1e-8)
            if u > best:
                best, best_a = u, int(a)
        key = (s, best_a)
        v = self.search(self.game.play(s, best_a))
        if key in self.q:
            self.q[key] = (self.n[key] * self.q[key] + v) / (self.n[key] + 1)
            self.n[key] += 1
        else:
            self.q[key], self.n[key] = v, 1
        self.ns[s] += 1
        return -v


def _measure(game_name: str, games: int, simulations: int, naive_games: int) -> dict[str, float]:
    from dlfrontier.games import make_game

    game = make_game(game_name)
    torch.manual_seed(0)
    net = build_network(game, 32, 2).eval()
    ev = NetworkEvaluator(game, net)
    rng = np.random.default_rng(0)
    roots = [game.initial()] * games
    mcts = BatchedMCTS(SearchConfig(simulations=simulations))
    mcts.search(game, roots[:2], ev, rng)  # warm-up
    t = time.perf_counter()
    mcts.search(game, roots, ev, rng, add_noise=False)
    batched = games * simulations / (time.perf_counter() - t)
    t = time.perf_counter()
    for _ in range(naive_games):
        ref = NaiveMCTS(game, ev)
        for _ in range(simulations):
            ref.search(game.initial())
    naive = naive_games * simulations / (time.perf_counter() - t)
    t = time.perf_counter()
    _, stats = self_play(game, mcts, ev, games, rng, temperature_moves=4)
    gps = stats.games / (time.perf_counter() - t)
    return {"batched_sims_per_s": batched, "naive_sims_per_s": naive, "speedup": batched / naive,
            "selfplay_games_per_s": gps}


@benchmark("search", summary="batched PUCT MCTS (64 games) vs a naive recursive single-game MCTS: simulations/s")
def bench_search(quick: bool, out: Path) -> dict[str, Any]:
    torch.set_num_threads(1)
    sims = 32 if quick else 128
    results = {}
    for game_name in ("tictactoe", "connect4-5x4", "connect4"):
        results[game_name] = r = _measure(game_name, 64, sims, 2 if quick else 8)
        print(f"{game_name:>13}: batched {r['batched_sims_per_s']:9.0f} sims/s, naive {r['naive_sims_per_s']:8.0f} "
              f"sims/s, speed-up {r['speedup']:5.1f}x; self-play {r['selfplay_games_per_s']:6.2f} games/s "
              f"(64 games, {sims} simulations, 1 thread)")
    out.mkdir(parents=True, exist_ok=True)
    (out / "search.json").write_text(json.dumps({"simulations": sims, "games": 64, "results": results}, indent=1))
    return results


__all__ = ["NaiveMCTS", "bench_search"]

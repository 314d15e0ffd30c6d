"""Playing games between players and measuring strength: matches with Wilson intervals, Elo, mistake rates.

* :func:`match` plays colour-balanced games (the agent moves first in the even-numbered games), each game with
  its own random stream derived from ``(seed, game index)``, so a match is reproducible and a longer match
  extends a shorter one.
* :func:`wilson_ci` is the Wilson score interval (Wilson 1927) of a score in [0, 1] over ``n`` games, a
  draw counting one half.
* :func:`mistake_rate`: a move is a mistake if another legal move has a strictly better exact value
  (:func:`dlfrontier.games.solver.action_values`), the measure of issue 18's Connect Four criteria.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dlfrontier.games.base import Game, State
from dlfrontier.games.players import Player, RandomPlayer
from dlfrontier.games.solver import SolverBudgetExceeded, action_values


def play_game(game: Game, p0: Player, p1: Player, rng: np.random.Generator,
              start: State | None = None) -> float:
    """Play one game, ``p0`` moving first (from ``start`` if given: then ``p0`` is whoever is to move there).
    Returns the result for ``p0``: +1 win, 0 draw, -1 loss. An illegal move raises ValueError."""
    s = game.initial() if start is None else start
    first = game.to_move(s)
    players = (p0, p1) if first == 0 else (p1, p0)
    o = game.outcome(s)
    while o is None:
        s = game.play(s, players[game.to_move(s)].select(game, s, rng))
        o = game.outcome(s)
    # o is for the player to move at the end; convert to p0's view
    return o if game.to_move(s) == first else -o


def wilson_ci(score: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval (95% by default) of a proportion ``score`` observed over ``n`` trials."""
    if n <= 0:
        return (0.0, 1.0)
    denom = 1.0 + z * z / n
    centre = (score + z * z / (2 * n)) / denom
    half = z * math.sqrt(score * (1.0 - score) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class MatchResult:
    """Wins, draws and losses of the agent; ``score`` counts a draw one half."""

    wins: int
    draws: int
    losses: int

    @property
    def n(self) -> int:
        return self.wins + self.draws + self.losses

    @property
    def score(self) -> float:
        return (self.wins + 0.5 * self.draws) / self.n if self.n else 0.0

    def wilson_ci(self, z: float = 1.959963984540054) -> tuple[float, float]:
        """Wilson 95% interval of :attr:`score`."""
        return wilson_ci(self.score, self.n, z)

    @property
    def elo(self) -> float:
        """Elo difference agent - opponent implied by the score (clipped at half a game from 0 and 1)."""
        return elo_from_score(self.score, self.n)

    def __str__(self) -> str:
        lo, hi = self.wilson_ci()
        return (f"{self.wins}W/{self.draws}D/{self.losses}L score {self.score:.3f} "
                f"(95% CI {lo:.3f}-{hi:.3f}, n={self.n})")


def elo_from_score(score: float, n: int | None = None) -> float:
    """Elo difference implied by an expected score: ``400 * log10(score / (1 - score))``.

    A score of 0 or 1 has no finite Elo: with ``n`` games it is clipped to half a game (``1/(2n)`` from the
    ends), without ``n`` to 0.001 (about +-1200 Elo).
    """
    eps = 0.5 / n if n else 1e-3
    p = min(max(score, eps), 1.0 - eps)
    return 400.0 * math.log10(p / (1.0 - p))


def _game_rng(seed: int, i: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, i]))


def match(game: Game, agent: Player, opponent: Player, n_games: int, seed: int = 0) -> MatchResult:
    """``n_games`` games of ``agent`` against ``opponent``; the agent moves first in games 0, 2, 4, ..."""
    wins = draws = losses = 0
    for i in range(n_games):
        rng = _game_rng(seed, i)
        r = play_game(game, agent, opponent, rng) if i % 2 == 0 else -play_game(game, opponent, agent, rng)
        if r > 0:
            wins += 1
        elif r < 0:
            losses += 1
        else:
            draws += 1
    return MatchResult(wins, draws, losses)


def positions_for(game: Game, n: int, seed: int = 0, *, plies: tuple[int, int] | None = None,
                  player: Player | None = None, informative: bool = False,
                  max_nodes: int | None = None) -> list[State]:
    """``n`` distinct reachable non-terminal positions, deterministic in ``seed``.

    Each comes from one game of ``player`` against itself (random moves by default), cut at a ply drawn
    uniformly from ``plies`` (inclusive, default: any ply); a game that ends earlier gives nothing.

    Args:
        plies: ``(lo, hi)`` stones on the board, e.g. ``(4, 10)`` for the opening of a small Connect Four.
        informative: keep only positions where some legal move is a mistake (not all moves have the same exact
            value), so a mistake rate measures choices rather than forced or indifferent moves. Needs the solver.
        max_nodes: with ``informative``, skip positions whose labels need more than this many solver nodes per
            action (300,000 keeps 7x6 positions the solver labels in about a second or less).
    """
    player = player or RandomPlayer()
    lo, hi = plies if plies is not None else (0, getattr(game, "size", game.num_actions * 8) - 1)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7919]))
    found: dict[State, None] = {}
    attempts = 0
    while len(found) < n:
        attempts += 1
        if attempts > 200 * n + 1000:
            raise ValueError(f"found only {len(found)} of {n} distinct positions of {game.name} with plies "
                             f"{lo}-{hi}; ask for fewer or widen the range")
        target = int(rng.integers(lo, hi + 1))
        s = game.initial()
        for _ in range(target):
            if game.is_terminal(s):
                break
            s = game.play(s, player.select(game, s, rng))
        if game.is_terminal(s) or s in found:
            continue
        if informative:
            try:
                v = action_values(game, s, max_nodes=max_nodes)
            except SolverBudgetExceeded:
                continue
            if np.nanmin(v) == np.nanmax(v):
                continue
        found[s] = None
    return list(found)


def all_positions(game: Game) -> list[State]:
    """Every reachable non-terminal position (tic-tac-toe: 4,520), in breadth-first order."""
    start = game.initial()
    seen = {start: None}
    frontier = [start]
    while frontier:
        nxt = []
        for s in frontier:
            for a in game.legal_actions(s):
                c = game.play(s, a)
                if c not in seen and not game.is_terminal(c):
                    seen[c] = None
                    nxt.append(c)
        frontier = nxt
    return list(seen)


def label_positions(game: Game, positions: Sequence[State]) -> np.ndarray:
    """``float64[N, num_actions]``: :func:`action_values` of each position (compute once, reuse every eval)."""
    return np.stack([action_values(game, s) for s in positions]) if positions else np.zeros((0, game.num_actions))


def is_mistake(values: np.ndarray, action: int) -> bool:
    """True if some legal action has a strictly better exact value than ``action``."""
    return bool(values[action] < np.nanmax(values))


def mistake_rate(game: Game, player: Player, positions: Sequence[State], rng: np.random.Generator,
                 labels: np.ndarray | None = None) -> float:
    """Fraction of ``positions`` where ``player``'s move is a mistake (``labels`` from :func:`label_positions`
    are computed when not given)."""
    if not positions:
        raise ValueError("mistake_rate needs at least one position")
    if labels is None:
        labels = label_positions(game, positions)
    mistakes = sum(is_mistake(labels[i], player.select(game, s, rng)) for i, s in enumerate(positions))
    return mistakes / len(positions)

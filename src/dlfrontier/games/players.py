"""Classic opponents: random, depth-limited minimax, perfect play and plain UCT (Monte-Carlo tree search).

A player is anything with a ``name`` and ``select(game, state, rng) -> action``; the search package's agents
are players too, so :func:`dlfrontier.games.arena.match` pits any two of them against each other.

* :class:`MinimaxPlayer` (depth 1, 2, 4): negamax with alpha-beta, exact at terminal states (a faster win and
  a slower loss score better), a line-counting heuristic at the leaves, random choice among equal moves. The
  "depth-2 minimax" AlphaZero.jl's Connect Four agent is measured against.
* :class:`UCTPlayer` (UCT-200, UCT-1000): Kocsis & Szepesvari, "Bandit based Monte-Carlo Planning" (ECML 2006),
  UCB1 selection with exploration ``sqrt(2)``, one random rollout per simulation, the most visited move.
  Iterative; the tree is a set of flat lists indexed by node.
"""

from __future__ import annotations

import math
import random
from typing import Protocol, runtime_checkable

import numpy as np

from dlfrontier.errors import UnknownNameError
from dlfrontier.games.base import BitboardGame, Game, State
from dlfrontier.games.solver import action_values

_WIN = 1_000_000.0  # a won game's minimax value (minus the plies it takes); heuristics stay far below it


@runtime_checkable
class Player(Protocol):
    """Chooses a legal action; must not modify the state."""

    name: str

    def select(self, game: Game, s: State, rng: np.random.Generator) -> int: ...


def _random_best(actions: list[int], values: list[float], rng: np.random.Generator, tol: float = 1e-9) -> int:
    best = max(values)
    ties = [a for a, v in zip(actions, values, strict=True) if v >= best - tol]
    return ties[int(rng.integers(len(ties)))] if len(ties) > 1 else ties[0]


class RandomPlayer:
    """Uniformly random legal move."""

    name = "random"

    def select(self, game: Game, s: State, rng: np.random.Generator) -> int:
        actions = game.legal_actions(s)
        return actions[int(rng.integers(len(actions)))]


def line_heuristic(game: BitboardGame, s: State) -> float:
    """Heuristic value for the player to move: every line of ``k`` cells that holds stones of one player only
    counts ``4 ** (stones - 1)`` for that player (open lines with more stones are closer to a win)."""
    me, opp = game.mover_bits(s)
    score = 0.0
    for m in game._win_masks:
        a, b = m & me, m & opp
        if a:
            if not b:
                score += 4.0 ** (a.bit_count() - 1)
        elif b:
            score -= 4.0 ** (b.bit_count() - 1)
    return score


class MinimaxPlayer:
    """Depth-limited negamax with alpha-beta: ``depth`` plies, the line heuristic at the leaves.

    Args:
        depth: plies searched (1: the best immediate move; 2: also the opponent's reply).
    """

    def __init__(self, depth: int = 2) -> None:
        if depth < 1:
            raise ValueError(f"minimax depth {depth}: must be >= 1")
        self.depth = depth
        self.name = f"minimax-{depth}"

    def _negamax(self, game: Game, s: State, depth: int, alpha: float, beta: float, ply: int) -> float:
        o = game.outcome(s)
        if o is not None:
            return o * (_WIN - ply)  # -(WIN - ply): losing later is better; 0 for a draw
        if depth == 0:
            if not isinstance(game, BitboardGame):
                return 0.0
            return line_heuristic(game, s)
        best = -math.inf
        legal = set(game.legal_actions(s))
        order = [a for a in getattr(game, "move_order", sorted(legal)) if a in legal]
        for a in order:
            v = -self._negamax(game, game.play(s, a), depth - 1, -beta, -alpha, ply + 1)
            if v > best:
                best = v
                if v > alpha:
                    alpha = v
                    if alpha >= beta:
                        break
        return best

    def action_scores(self, game: Game, s: State) -> dict[int, float]:
        """The minimax score of every legal action; scores below the best are upper bounds only."""
        scores: dict[int, float] = {}
        best = -math.inf
        for a in game.legal_actions(s):
            # window (best - eps, inf): exact for any move at least as good as the best so far
            v = -self._negamax(game, game.play(s, a), self.depth - 1, -math.inf, -(best - 1e-6), 1)
            scores[a] = v
            best = max(best, v)
        return scores

    def select(self, game: Game, s: State, rng: np.random.Generator) -> int:
        scores = self.action_scores(game, s)
        return _random_best(list(scores), list(scores.values()), rng)


class EpsilonPlayer:
    """``player``'s move, or with probability ``epsilon`` a uniformly random legal one (a noisy opponent and a
    generator of natural-looking positions for :func:`dlfrontier.games.arena.positions_for`).

    Args:
        player: the player whose moves are perturbed.
        epsilon: probability of a random move, in [0, 1].
    """

    def __init__(self, player: Player, epsilon: float) -> None:
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon {epsilon}: must be in [0, 1]")
        self.player, self.epsilon = player, epsilon
        self.name = f"{player.name}-eps{epsilon:g}"

    def select(self, game: Game, s: State, rng: np.random.Generator) -> int:
        if rng.random() < self.epsilon:
            return RandomPlayer().select(game, s, rng)
        return self.player.select(game, s, rng)


class PerfectPlayer:
    """A move of the best exact value (:func:`dlfrontier.games.solver.action_values`), random among equals,
    and a winning move at once when there is one."""

    name = "perfect"

    def select(self, game: Game, s: State, rng: np.random.Generator) -> int:
        values = action_values(game, s)
        actions = [int(a) for a in np.flatnonzero(~np.isnan(values))]
        # a win in one first: the weak values do not tell a quick win from a slow one
        wins = [a for a in actions if values[a] == 1 and game.outcome(game.play(s, a)) is not None]
        if wins:
            return wins[int(rng.integers(len(wins)))]
        return _random_best(actions, [float(values[a]) for a in actions], rng)


class UCTPlayer:
    """Plain Monte-Carlo tree search: UCB1 selection, one uniformly random rollout per simulation.

    Args:
        rollouts: simulations per move (UCT-200, UCT-1000).
        exploration: the UCB1 constant ``c`` in ``Q + c * sqrt(ln N_parent / N_child)``.
    """

    def __init__(self, rollouts: int = 200, exploration: float = math.sqrt(2.0)) -> None:
        if rollouts < 1:
            raise ValueError(f"UCT rollouts {rollouts}: must be >= 1")
        self.rollouts = rollouts
        self.exploration = exploration
        self.name = f"uct-{rollouts}"

    def visit_counts(self, game: Game, s: State, rng: np.random.Generator) -> dict[int, int]:
        """Run the search from ``s`` and return the root's visit count per legal action."""
        py = random.Random(int(rng.integers(2**63)))
        # node i: its state, the children reached so far {action: node}, the actions not tried yet,
        # its visits and the total value *for the player who moved into it* (so a parent maximises it)
        states: list[State] = [s]
        children: list[dict[int, int]] = [{}]
        untried: list[list[int]] = [game.legal_actions(s)]
        visits: list[int] = [0]
        value: list[float] = [0.0]
        c = self.exploration
        for _ in range(self.rollouts):
            node, path = 0, [0]
            while not untried[node] and children[node]:  # selection: UCB1 among fully expanded children
                log_n = math.log(visits[node])
                node = max(children[node].values(),
                           key=lambda ch: value[ch] / visits[ch] + c * math.sqrt(log_n / visits[ch]))
                path.append(node)
            if untried[node]:  # expansion
                acts = untried[node]
                a = acts.pop(py.randrange(len(acts)))
                child_state = game.play(states[node], a)
                states.append(child_state)
                children.append({})
                untried.append(game.legal_actions(child_state))
                visits.append(0)
                value.append(0.0)
                child = len(states) - 1
                children[node][a] = child
                node = child
                path.append(node)
            # rollout: z is the result for the player to move at the leaf
            st, sign = states[node], 1.0
            o = game.outcome(st)
            while o is None:
                acts = game.legal_actions(st)
                st = game.play(st, acts[py.randrange(len(acts))])
                sign = -sign
                o = game.outcome(st)
            z = o * sign
            for i in reversed(path):  # backup: node i is credited with the value of the player who moved into it
                visits[i] += 1
                value[i] -= z
                z = -z
        return {a: visits[ch] for a, ch in children[0].items()}

    def select(self, game: Game, s: State, rng: np.random.Generator) -> int:
        counts = self.visit_counts(game, s, rng)
        actions = list(counts)
        return _random_best(actions, [float(counts[a]) for a in actions], rng)


class LookaheadPlayer:
    """One-step lookahead, the classic heuristic opponent of self-play papers and PettingZoo tutorials.

    In order: a move that wins at once (random among them); else a move that blocks the opponent's immediate
    win (a cell / column where the opponent would complete a line if it moved now; among blocks, those after
    which the opponent has no winning reply first); else a random move that does not hand the opponent a win
    in one; else a random legal move. On games that are not bitboard games (no "opponent moves now" test) the
    block step is covered by the third: a move that leaves the opponent no win in one.
    """

    name = "lookahead"

    @staticmethod
    def _wins_in_one(game: Game, s: State) -> list[int]:
        return [a for a in game.legal_actions(s) if game.outcome(game.play(s, a)) == -1.0]  # mover won

    @staticmethod
    def _threats(game: Game, s: State) -> list[int]:
        """Actions with which the opponent would complete a line if it were to move now."""
        if not isinstance(game, BitboardGame):
            return []
        me, opp = game.mover_bits(s)
        mask = me | opp
        return [a for a in game.legal_actions(s) if game.has_line(opp | game._action_bit(mask, a))]

    def select(self, game: Game, s: State, rng: np.random.Generator) -> int:
        def pick(xs: list[int]) -> int:
            return xs[int(rng.integers(len(xs)))] if len(xs) > 1 else xs[0]

        actions = game.legal_actions(s)
        wins = self._wins_in_one(game, s)
        if wins:
            return pick(wins)
        safe = [a for a in actions if not self._wins_in_one(game, game.play(s, a))]
        blocks = self._threats(game, s)
        if blocks:
            return pick([a for a in blocks if a in safe] or blocks)
        return pick(safe or actions)


_PLAYER_NAMES = "random, lookahead, perfect, minimax-N (N plies, e.g. minimax-2), uct-N (N rollouts, e.g. uct-200)"


def make_player(name: str) -> Player:
    """A built-in player from its name: ``random``, ``lookahead``, ``perfect``, ``minimax-N``, ``uct-N`` (the
    names the players report, so ``make_player(p.name)`` rebuilds ``p``). An unknown name is one line listing
    the choices."""
    text = name.strip().lower()
    if text == "random":
        return RandomPlayer()
    if text == "perfect":
        return PerfectPlayer()
    if text == "lookahead":
        return LookaheadPlayer()
    kind, _, number = text.partition("-")
    if kind in ("minimax", "uct") and number.isdigit() and int(number) >= 1:
        return MinimaxPlayer(int(number)) if kind == "minimax" else UCTPlayer(int(number))
    raise UnknownNameError(f"unknown player {name!r}; choose one of: {_PLAYER_NAMES}")


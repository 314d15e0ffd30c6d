"""Solver and player speed on this machine: ``python -m dlfrontier.games.bench [--quick | --strength]``.

Prints, per board and ply range, how long :func:`~dlfrontier.games.solver.action_values` (the cost of one exact
label) takes on positions from games of ``EpsilonPlayer(MinimaxPlayer(2), 0.25)``, and the time per move of the
classic players; ``--strength`` plays the matches and measures the mistake rates of docs/games.md. Run it with one
thread (``OMP_NUM_THREADS=1``). Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dlfrontier.games.arena import label_positions, match, mistake_rate, positions_for
from dlfrontier.games.base import make_game
from dlfrontier.games.connect4 import Connect4
from dlfrontier.games.players import EpsilonPlayer, MinimaxPlayer, Player, RandomPlayer, UCTPlayer, make_player
from dlfrontier.games.solver import _SOLVERS, action_values, connect_solver

LABEL_CASES = [  # (board, lowest ply, highest ply, positions)
    ("connect4-5x4", 0, 19, 200),
    ("connect4-6x5", 6, 11, 10),
    ("connect4-6x5", 12, 20, 40),
    ("connect4", 14, 17, 4),
    ("connect4", 18, 24, 10),
    ("connect4", 25, 32, 20),
]


def label_speed(name: str, lo: int, hi: int, n: int, seed: int = 321) -> str:
    game = make_game(name)
    assert isinstance(game, Connect4)
    positions = positions_for(game, n, seed, plies=(lo, hi), player=EpsilonPlayer(MinimaxPlayer(2), 0.25))
    _SOLVERS.clear()  # a cold transposition table, shared across the positions as in label_positions
    times = []
    for s in positions:
        t = time.perf_counter()
        action_values(game, s)
        times.append(time.perf_counter() - t)
    times.sort()
    nodes = connect_solver(game).nodes
    return (f"{name:13s} plies {lo:2d}-{hi:2d}: {n:3d} positions, action_values mean {np.mean(times) * 1e3:8.1f} ms, "
            f"median {times[n // 2] * 1e3:8.1f} ms, max {times[-1] * 1e3:8.1f} ms, "
            f"{nodes / sum(times) / 1e3:5.0f}k nodes/s")


def move_speed(name: str, player: Player, moves: int = 20, seed: int = 0) -> str:
    game = make_game(name)
    rng = np.random.default_rng(seed)
    s, total, count = game.initial(), 0.0, 0
    while count < moves:
        if game.is_terminal(s):
            s = game.initial()
        t = time.perf_counter()
        a = player.select(game, s, rng)
        total += time.perf_counter() - t
        count += 1
        s = game.play(s, RandomPlayer().select(game, s, rng) if count % 2 else a)
    return f"{name:13s} {player.name:10s}: {total / moves * 1e3:8.1f} ms per move"


STRENGTH_PAIRS = [  # (agent, opponent) by make_player name
    ("minimax-1", "random"), ("minimax-2", "random"), ("uct-200", "random"), ("uct-1000", "random"),
    ("minimax-2", "minimax-1"), ("minimax-4", "minimax-2"), ("minimax-4", "minimax-1"),
    ("uct-200", "minimax-2"), ("uct-1000", "minimax-2"), ("uct-1000", "minimax-4"), ("uct-1000", "uct-200"),
    ("perfect", "random"), ("perfect", "minimax-2"), ("perfect", "minimax-4"), ("perfect", "uct-200"),
    ("perfect", "uct-1000"),
]


def strength(name: str, n_games: int, seed: int = 11) -> list[str]:
    """Colour-balanced matches between the classic players and their mistake rates on 200 informative natural
    positions (the tables of docs/games.md; perfect play only where the solver is fast)."""
    game = make_game(name)
    solvable = name in ("tictactoe", "connect4-4x4", "connect4-5x4")
    lines = []
    for a, b in STRENGTH_PAIRS:
        if "perfect" in (a, b) and not solvable:
            continue
        r = match(game, make_player(a), make_player(b), n_games, seed=seed)
        lines.append(f"{name} {a} vs {b}: {r}")
        print(lines[-1], flush=True)
    if solvable:
        gen = EpsilonPlayer(MinimaxPlayer(2), 0.25)
        positions = positions_for(game, 200, seed=seed, informative=True, player=gen)
        labels = label_positions(game, positions)
        for p in ("random", "minimax-1", "minimax-2", "minimax-4", "uct-200", "uct-1000", "perfect"):
            rate = mistake_rate(game, make_player(p), positions, np.random.default_rng(0), labels)
            lines.append(f"{name} mistake rate {p}: {rate:.3f}")
            print(lines[-1], flush=True)
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the 5x4 board and the fast players")
    parser.add_argument("--strength", action="store_true",
                        help="instead: matches between the classic players and their mistake rates (minutes)")
    args = parser.parse_args(argv)
    if args.strength:
        for name, n in (("tictactoe", 100), ("connect4-5x4", 40), ("connect4", 40)):
            strength(name, n)
        return
    cases = LABEL_CASES[:1] if args.quick else LABEL_CASES
    for case in cases:
        print(label_speed(*case), flush=True)
    players: list[Player] = [MinimaxPlayer(2), MinimaxPlayer(4), UCTPlayer(200)]
    if not args.quick:
        players.append(UCTPlayer(1000))
    for name in ("tictactoe", "connect4-5x4", "connect4", "gomoku-6x6-4"):
        for p in players:
            if name == "gomoku-6x6-4" and isinstance(p, MinimaxPlayer) and p.depth > 2:
                continue  # 36 moves a ply: depth 4 is minutes per move
            print(move_speed(name, p), flush=True)


if __name__ == "__main__":
    main()

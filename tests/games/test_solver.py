"""The solver against values known by hand and against brute-force minimax on naive grid rules."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from dlfrontier.games import Connect4, make_game, solve
from dlfrontier.games.arena import positions_for
from dlfrontier.games.solver import ConnectSolver, SolverBudgetExceeded, action_values


def brute_force_connect(cols: int, rows: int, k: int):
    """Plain minimax (no pruning) on a grid of tuples with naive rules: value for the player to move."""

    def line(grid, p):
        for r in range(rows):
            for c in range(cols):
                for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                    if all(0 <= r + dr * i < rows and 0 <= c + dc * i < cols and grid[r + dr * i][c + dc * i] == p
                           for i in range(k)):
                        return True
        return False

    @functools.cache
    def value(grid: tuple, player: int) -> int:  # grid[r][c], r = 0 bottom
        best = None
        for c in range(cols):
            r = next((r for r in range(rows) if grid[r][c] == 0), None)
            if r is None:
                continue
            g2 = tuple(tuple(player if (y, x) == (r, c) else grid[y][x] for x in range(cols)) for y in range(rows))
            v = 1 if line(g2, player) else -value(g2, 3 - player)
            best = v if best is None else max(best, v)
        return 0 if best is None else best

    return value


def as_grid(game: Connect4, s) -> tuple:
    stones = game.stones(s)[::-1]  # row 0 at the bottom
    return tuple(tuple(int(v) for v in row) for row in stones)


def test_tictactoe_known_values():
    g = make_game("tictactoe")
    assert solve(g, g.initial()) == 0
    np.testing.assert_array_equal(action_values(g, g.initial()), np.zeros(9))
    # X in the centre, O answers on an edge: X forces a win; O in a corner: a draw
    assert solve(g, g.from_stones(".O.\n.X.\n...")) == 1
    assert solve(g, g.from_stones("O..\n.X.\n...")) == 0
    # an X opening in a corner loses only to... nothing: every O reply but the centre loses for O
    v = action_values(g, g.from_stones("X..\n...\n..."))
    assert v[4] == 0 and all(v[a] == -1 for a in (1, 2, 3, 5, 6, 7, 8))
    assert np.isnan(v[0])


@pytest.mark.parametrize("to_move", [0, 1])
def test_sign_convention_win_in_one_with_both_colours_to_move(to_move):
    """A win in one is +1 for the player to move, whichever colour that is; the move that wins gets +1."""
    g = make_game("tictactoe")
    s = g.from_stones("XX.\nOO.\n...") if to_move == 0 else g.from_stones("XX.\nOO.\nX..")
    assert g.to_move(s) == to_move
    assert solve(g, s) == 1
    v = action_values(g, s)
    winning = 2 if to_move == 0 else 5
    assert v[winning] == 1
    after = g.play(s, winning)
    assert g.outcome(after) == -1.0 and solve(g, after) == -1
    c4 = make_game("connect4")
    if to_move == 1:  # O to move; X threatens both ends of its three: O loses whatever it plays
        s = c4.from_stones(".......\n.......\n.......\n.......\n.......\n.XXX.OO")
    else:  # X to move with the same three: X wins at once at either end
        s = c4.from_stones(".......\n.......\n.......\n.......\n.....O.\n.XXX.OO")
    assert c4.to_move(s) == to_move
    v = action_values(c4, s)
    if to_move == 0:
        assert solve(c4, s) == 1 and v[0] == 1 and v[4] == 1
    else:
        assert solve(c4, s) == -1 and np.all(v == -1)


def test_connect4_hand_positions():
    g = make_game("connect4-5x4")
    # O to move; X has three stacked in the middle column: every move but the block loses at once
    s = g.from_stones(".....\n..X..\n..X.O\nX.XOO")
    assert g.to_move(s) == 1
    v = action_values(g, s)
    assert all(v[a] == -1 for a in (0, 1, 3, 4))
    assert solve(g, s) == v[2]
    # late 7x6 positions solve exactly; the value agrees with the best action value
    c4 = make_game("connect4")
    for s in positions_for(c4, 3, seed=7, plies=(28, 34)):
        v = action_values(c4, s)
        assert solve(c4, s) == np.nanmax(v)


@pytest.mark.parametrize("cols,rows,k,n", [(4, 4, 3, 20), (4, 4, 4, 15), (5, 4, 4, 10), (4, 3, 3, 30)])
def test_connect_solver_matches_brute_force(cols, rows, k, n):
    g = Connect4(cols=cols, rows=rows, k=k)
    brute = brute_force_connect(cols, rows, k)
    lo = 0 if cols * rows <= 12 else (5 if (cols, rows) == (4, 4) else 10)
    positions = [g.initial()] if cols * rows <= 12 else []
    positions += positions_for(g, n, seed=5, plies=(lo, g.size - 1))
    for s in positions:
        want = brute(as_grid(g, s), 1 + g.to_move(s))
        assert solve(g, s) == want, g.render(s)
        v = action_values(g, s)
        for a in g.legal_actions(s):
            c = g.play(s, a)
            assert v[a] == (1 if g.outcome(c) == -1.0 else -brute(as_grid(g, c), 1 + g.to_move(c)))


def test_solver_with_a_fresh_table_agrees_and_bounds_are_reused():
    g = make_game("connect4-5x4")
    positions = positions_for(g, 10, seed=6, plies=(6, 12))
    shared = [solve(g, s) for s in positions]
    for s, v in zip(positions, shared, strict=True):
        fresh = ConnectSolver(g)
        cur, opp = g.mover_bits(s)
        assert fresh.value(cur, cur | opp, s[2]) == v
    assert solve(g, g.initial()) == 0  # 5x4 Connect Four is a draw (a regression value of this solver)


def test_node_budget():
    g = make_game("connect4-6x5")
    fresh = ConnectSolver(g)
    with pytest.raises(SolverBudgetExceeded):
        fresh.value(0, 0, 0, max_nodes=1000)  # the empty 6x5 board needs millions of nodes
    s = positions_for(g, 1, seed=9, plies=(20, 22))[0]
    assert solve(g, s, max_nodes=10**6) == solve(g, s)
    c4 = make_game("connect4")
    early = positions_for(c4, 2, seed=9, plies=(8, 12), informative=True, max_nodes=20_000)
    assert len(early) == 2
    for s in early:  # kept positions are labelled within the budget, later too (the table keeps the proofs)
        action_values(c4, s, max_nodes=20_000)


def test_gomoku_is_not_solved_here():
    g = make_game("gomoku-6x6-4")
    with pytest.raises(ValueError, match="no exact solver"):
        solve(g, g.initial())

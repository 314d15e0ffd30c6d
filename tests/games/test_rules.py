"""Rules of the bitboard games against hand-made positions and against a naive grid implementation."""

from __future__ import annotations

import numpy as np
import pytest

from dlfrontier.errors import UnknownNameError
from dlfrontier.games import GAMES, Connect4, Gomoku, RandomPlayer, TicTacToe, make_game, solve
from dlfrontier.games.solver import action_values

ALL_GAMES = ["tictactoe", "connect4", "connect4-5x4", "connect3-4x4", "gomoku-6x6-4", "gomoku-5x4-3",
             "gomoku-7x5-5"]


def naive_has_line(grid: np.ndarray, player: int, k: int) -> bool:
    R, W = grid.shape
    for r in range(R):
        for c in range(W):
            for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                cells = [(r + dr * i, c + dc * i) for i in range(k)]
                if all(0 <= y < R and 0 <= x < W and grid[y, x] == player for y, x in cells):
                    return True
    return False


def random_states(game, n: int, seed: int):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        s = game.initial()
        for _ in range(int(rng.integers(0, game.size + 1))):
            if game.is_terminal(s):
                break
            s = game.play(s, RandomPlayer().select(game, s, rng))
        out.append(s)
    return out


def test_tictactoe_lines_and_draw():
    g = make_game("tictactoe")
    for drawing, winner in [("XXX/OO./...", 1), ("XO./XO./X..", 1), ("XO./OX./..X", 1), ("..X/OX./XO.", 1),
                            ("OOO/XX./X..", 2)]:
        s = g.from_stones("\n".join(drawing.split("/")))
        assert g.outcome(s) == -1.0  # the player who just moved won: -1 for the player to move
        assert g.to_move(s) == (1 if winner == 1 else 0)
        assert not g.legal(s).any() and g.legal_actions(s) == []
    draw = g.from_stones("XOX\nXOO\nOXX")
    assert g.outcome(draw) == 0.0 and not g.legal(draw).any()
    assert g.outcome(g.from_stones("XO.\n...\n...")) is None


def test_tictactoe_play_sequence_and_illegal_moves():
    g = make_game("tictactoe")
    s = g.initial()
    assert g.to_move(s) == 0 and g.legal(s).all()
    for a in (4, 0, 2, 8, 6):  # X centre, O corner, ... X completes the 2-4-6 diagonal
        assert g.outcome(s) is None
        s2 = g.play(s, a)
        assert s2 != s
        s = s2
    assert g.outcome(s) == -1.0 and g.to_move(s) == 1
    t = g.play(g.initial(), 4)
    with pytest.raises(ValueError, match="occupied"):
        g.play(t, 4)
    with pytest.raises(ValueError, match="out of range"):
        g.play(t, 9)
    with pytest.raises(ValueError, match="over"):
        g.play(s, 1)


def test_connect4_gravity_full_column_and_lines():
    g = make_game("connect4")
    assert (g.rows, g.cols, g.num_actions) == (6, 7, 7)
    s = g.initial()
    for _ in range(6):
        s = g.play(s, 0)
    assert g.legal_actions(s) == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="full"):
        g.play(s, 0)
    assert g.stones(s)[:, 0].tolist() == [2, 1, 2, 1, 2, 1]  # bottom row is row 5
    horizontal = g.from_stones("""
        .......
        .......
        .......
        .......
        ...OOO.
        ..XXXX.""")
    vertical = g.from_stones("""
        .......
        .......
        ..X....
        ..XO...
        ..XO...
        ..XO...""")
    diagonal = g.from_stones("""
        .......
        .......
        ......X
        .....XO
        ....XXO
        O..XOOX""")
    anti = g.from_stones("""
        .......
        .......
        X......
        OX.....
        XOX....
        OOXX..O""")
    for s in (horizontal, vertical, diagonal, anti):
        assert g.outcome(s) == -1.0 and g.to_move(s) == 1
    no_wrap = g.from_stones("""
        .......
        .......
        .......
        X......
        X.....O
        X....OO""")  # three X on the left edge, O stones on the right edge of lower rows: no line
    assert g.outcome(no_wrap) is None
    with pytest.raises(ValueError, match="above an empty"):
        g.from_stones(".......\n.......\n.......\n.......\nX......\n.O.....".replace(".O", "..") + "")
    with pytest.raises(ValueError, match="above an empty"):
        g.from_stones(".......\n.......\n.......\n.......\nX......\n.......")


@pytest.mark.parametrize("name", ALL_GAMES)
def test_wins_match_a_naive_checker_on_random_positions(name):
    g = make_game(name)
    for s in random_states(g, 150, seed=1):
        grid = g.stones(s)
        last = 1 if s[2] % 2 == 1 else 2  # the player who moved last
        won = s[2] > 0 and naive_has_line(grid, last, g.k)
        full = s[2] == g.size
        expect = -1.0 if won else (0.0 if full else None)
        assert g.outcome(s) == expect, g.render(s)
        assert not naive_has_line(grid, 3 - last, g.k)  # the player to move never holds a line
        legal = g.legal(s)
        assert legal.tolist() == [a in g.legal_actions(s) for a in range(g.num_actions)]
        if expect is None:
            empty = grid == 0
            expect_legal = empty[0] if isinstance(g, Connect4) else empty.reshape(-1)
            assert legal.tolist() == expect_legal.tolist()
        else:
            assert not legal.any()


@pytest.mark.parametrize("name", ALL_GAMES)
def test_encode_is_canonical(name):
    g = make_game(name)
    states = random_states(g, 20, seed=2)
    batch = g.encode_batch(states)
    assert batch.shape == (20, g.num_planes, g.rows, g.cols) and batch.dtype == np.float32
    for s, planes in zip(states, batch, strict=True):
        grid = g.stones(s)
        me = 1 + g.to_move(s)
        np.testing.assert_array_equal(planes[0], grid == me)
        np.testing.assert_array_equal(planes[1], grid == 3 - me)
        np.testing.assert_array_equal(planes[2], np.full((g.rows, g.cols), float(g.to_move(s) == 0)))
        np.testing.assert_array_equal(g.encode(s), planes)
        assert g.from_stones(grid) == s


@pytest.mark.parametrize("name", ALL_GAMES)
def test_symmetries_permute_policy_with_the_board(name):
    g = make_game(name)
    expect_count = 2 if isinstance(g, Connect4) else (8 if g.rows == g.cols else 4)
    for s in random_states(g, 10, seed=3):
        planes = g.encode(s)
        policy = np.arange(g.num_actions, dtype=np.float32)
        syms = g.symmetries(planes, policy)
        assert len(syms) == expect_count
        np.testing.assert_array_equal(syms[0][0], planes)
        np.testing.assert_array_equal(syms[0][1], policy)
        for p2, pi2 in syms:
            assert p2.shape == planes.shape and sorted(pi2.tolist()) == policy.tolist()
            # the legal mask of the transformed board is the transformed legal mask
            t2 = g.from_stones(p2[0] * (1 + g.to_move(s)) + p2[1] * (2 - g.to_move(s)))
            legal_t = g.legal(t2)
            assert legal_t.tolist() == g.legal(s)[pi2.astype(int)].tolist()


def test_symmetric_tictactoe_positions_have_permuted_action_values():
    g = make_game("tictactoe")
    for s in random_states(g, 12, seed=4):
        if g.is_terminal(s):
            continue
        values = action_values(g, s)
        for p2, pi2 in g.symmetries(g.encode(s), np.arange(9)):
            t2 = g.from_stones(p2[0] * (1 + g.to_move(s)) + p2[1] * (2 - g.to_move(s)))
            assert solve(g, t2) == solve(g, s)
            np.testing.assert_array_equal(action_values(g, t2), values[pi2])


def test_render_and_parse_round_trip():
    for name in ALL_GAMES:
        g = make_game(name)
        s = g.play(g.initial(), g.legal_actions(g.initial())[-1])
        assert isinstance(g.render(s), str) and "X" in g.render(s)
        for a in g.legal_actions(s):
            label = str(a + 1) if isinstance(g, (Connect4, TicTacToe)) else g.cell_label(a)
            assert g.parse_move(s, label) == a
        for bad in ("", "zz", "0", "99", "a0", "?"):
            with pytest.raises(ValueError) as e:
                g.parse_move(s, bad)
            assert "\n" not in str(e.value)
    t = make_game("tictactoe")
    s = t.play(t.initial(), 4)
    assert t.parse_move(s, "a1") == 0 and t.parse_move(s, " 9 ") == 8
    with pytest.raises(ValueError, match="occupied"):
        t.parse_move(s, "5")
    g = make_game("gomoku-6x6-4")
    s = g.play(g.initial(), 7)
    assert g.parse_move(s, "C2") == 8
    with pytest.raises(ValueError, match="occupied"):
        g.parse_move(s, "b2")


def test_make_game_names_and_errors():
    assert make_game("connect4") is make_game("connect4")
    assert isinstance(make_game("tictactoe"), TicTacToe)
    g = make_game("connect4-6x5")
    assert (g.cols, g.rows, g.k, g.name) == (6, 5, 4, "connect4-6x5")
    g = make_game("gomoku-7x5-4")
    assert isinstance(g, Gomoku) and (g.cols, g.rows, g.k) == (7, 5, 4)
    for name in GAMES.names():
        assert make_game(name).name == name
    with pytest.raises(UnknownNameError, match="did you mean"):
        make_game("conect4")
    with pytest.raises(ValueError, match="must be in"):
        make_game("connect4-12x4")
    with pytest.raises(ValueError, match="k must be"):
        Gomoku(cols=3, rows=3, k=4)


def test_line_masks_count_the_board_lines():
    """The heuristic's lines: 8 in tic-tac-toe, 69 in Connect Four, 54 fours on 6x6; each k cells in a row."""
    for name, count in (("tictactoe", 8), ("connect4", 69), ("gomoku-6x6-4", 54), ("connect4-5x4", 17)):
        g = make_game(name)
        assert len(g._win_masks) == count == len(set(g._win_masks))
        for m in g._win_masks:
            assert m.bit_count() == g.k and g.has_line(m) and m & ~g.board_mask == 0


def test_play_accepts_numpy_ints_and_refuses_other_types():
    g = make_game("connect4-5x4")
    s = g.play(g.initial(), np.int64(2))
    assert g.legal_actions(s) == [0, 1, 2, 3, 4] and g.stones(s)[-1, 2] == 1
    with pytest.raises(ValueError, match="not an integer"):
        g.play(s, "x")
    with pytest.raises(ValueError, match="out of range"):
        g.play(s, -1)

"""Players, matches, Wilson intervals, Elo and mistake rates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlfrontier.errors import UnknownNameError
from dlfrontier.games import (
    EpsilonPlayer,
    MatchResult,
    MinimaxPlayer,
    PerfectPlayer,
    Player,
    RandomPlayer,
    UCTPlayer,
    all_positions,
    elo_from_score,
    label_positions,
    make_game,
    make_player,
    match,
    mistake_rate,
    play_game,
    positions_for,
    solve,
    wilson_ci,
)


class FirstLegal:
    name = "first-legal"

    def select(self, game, s, rng):
        return game.legal_actions(s)[0]


def test_players_follow_the_protocol():
    for p in (RandomPlayer(), MinimaxPlayer(2), PerfectPlayer(), UCTPlayer(10), FirstLegal()):
        assert isinstance(p, Player) and isinstance(p.name, str)
    with pytest.raises(ValueError):
        MinimaxPlayer(0)
    with pytest.raises(ValueError):
        UCTPlayer(0)


def test_perfect_never_loses_to_random():
    for name, n in (("tictactoe", 100), ("connect4-4x4", 20)):  # both draws with perfect play
        r = match(make_game(name), PerfectPlayer(), RandomPlayer(), n_games=n, seed=0)
        assert r.losses == 0 and r.n == n
    g = make_game("connect3-4x4")  # a first-player win: perfect play wins every game it starts
    assert solve(g, g.initial()) == 1
    rng = np.random.default_rng(0)
    assert all(play_game(g, PerfectPlayer(), RandomPlayer(), rng) == 1 for _ in range(10))


def test_minimax_and_uct_beat_random():
    for name in ("tictactoe", "connect4", "gomoku-6x6-4"):
        r = match(make_game(name), MinimaxPlayer(2), RandomPlayer(), n_games=20, seed=1)
        assert r.score >= 0.9, (name, r)
    r = match(make_game("tictactoe"), UCTPlayer(200), RandomPlayer(), n_games=20, seed=2)
    assert r.score >= 0.9 and r.losses == 0
    r = match(make_game("connect4-5x4"), UCTPlayer(100), RandomPlayer(), n_games=10, seed=3)
    assert r.score >= 0.8


@pytest.mark.parametrize("to_move", [0, 1])
def test_every_player_takes_a_win_in_one_with_both_colours(to_move):
    g = make_game("connect4")
    s = g.from_stones(".......\n.......\n.......\n.......\n.......\n.XXX.OO") if to_move == 1 else \
        g.from_stones(".......\n.......\n.......\n.......\n.....O.\n.XXX.OO")
    t = make_game("tictactoe")
    u = t.from_stones("XX.\nOO.\n...") if to_move == 0 else t.from_stones("XX.\nOO.\nX..")
    rng = np.random.default_rng(0)
    for p in (MinimaxPlayer(1), MinimaxPlayer(2), MinimaxPlayer(4), UCTPlayer(300), PerfectPlayer()):
        if to_move == 0:
            assert p.select(g, s, rng) in (0, 4), p.name
        assert p.select(t, u, rng) == (2 if to_move == 0 else 5), p.name


def test_minimax_blocks_a_threat_at_depth_two():
    g = make_game("connect4")
    s = g.from_stones(".......\n.......\n.......\n...X...\n...X...\nO..X..O")  # O to move, X threatens col 4
    assert g.to_move(s) == 1
    rng = np.random.default_rng(0)
    assert all(MinimaxPlayer(2).select(g, s, rng) == 3 for _ in range(5))
    assert MinimaxPlayer(1).select(g, s, rng) in range(7)


def test_make_player_by_name():
    for p in (RandomPlayer(), PerfectPlayer(), MinimaxPlayer(4), UCTPlayer(200)):
        q = make_player(p.name)
        assert type(q) is type(p) and q.name == p.name
    assert make_player(" Minimax-2 ").depth == 2
    for bad in ("minimax", "uct-0", "alphazero", "minimax-x"):
        with pytest.raises(UnknownNameError, match="choose one of"):
            make_player(bad)


def test_bench_smoke(capsys):
    from dlfrontier.games.bench import label_speed, move_speed

    assert "positions" in label_speed("connect4-5x4", 4, 10, 5)
    assert "per move" in move_speed("tictactoe", UCTPlayer(20), moves=4)


def test_epsilon_player():
    g = make_game("tictactoe")
    rng = np.random.default_rng(0)
    assert all(EpsilonPlayer(FirstLegal(), 0.0).select(g, g.initial(), rng) == 0 for _ in range(20))
    assert len({EpsilonPlayer(FirstLegal(), 1.0).select(g, g.initial(), rng) for _ in range(50)}) > 5
    with pytest.raises(ValueError):
        EpsilonPlayer(FirstLegal(), 1.5)


def test_random_tie_break_among_equal_moves():
    g = make_game("tictactoe")
    rng = np.random.default_rng(0)
    picks = {PerfectPlayer().select(g, g.initial(), rng) for _ in range(60)}
    assert len(picks) >= 5  # every first move draws: many different choices


def test_play_game_sign_and_match_colour_balance():
    g = make_game("tictactoe")
    rng = np.random.default_rng(0)
    # FirstLegal as first player against FirstLegal: X takes 0, 2, 4 ... X completes 0-4-8? play it out
    r = play_game(g, FirstLegal(), FirstLegal(), rng)
    s = g.initial()
    while not g.is_terminal(s):
        s = g.play(s, g.legal_actions(s)[0])
    expect = g.outcome(s) if g.to_move(s) == 0 else -g.outcome(s)
    assert r == expect == 1.0  # cells 0..6: X gets 0, 2, 4, 6 and the 2-4-6 diagonal
    # colour-balanced: FirstLegal wins exactly the games where it moves first
    res = match(g, FirstLegal(), FirstLegal(), n_games=10, seed=0)
    assert (res.wins, res.draws, res.losses) == (5, 0, 5)
    assert match(g, PerfectPlayer(), PerfectPlayer(), n_games=6, seed=0) == MatchResult(0, 6, 0)
    # a match is reproducible and a longer match extends a shorter one
    a = match(g, RandomPlayer(), RandomPlayer(), 30, seed=4)
    assert a == match(g, RandomPlayer(), RandomPlayer(), 30, seed=4)


def test_wilson_interval_hand_values():
    lo, hi = wilson_ci(0.5, 100)  # (0.5 + z^2/200 +- z sqrt(0.0025 + z^2/40000)) / (1 + z^2/100)
    assert lo == pytest.approx(0.40383, abs=1e-5) and hi == pytest.approx(0.59617, abs=1e-5)
    z2 = 1.959963984540054**2
    lo, hi = wilson_ci(1.0, 10)
    assert lo == pytest.approx(10 / (10 + z2)) and hi == pytest.approx(1.0)
    lo, hi = wilson_ci(0.0, 10)
    assert lo == 0.0 and hi == pytest.approx(z2 / (10 + z2))
    lo, hi = wilson_ci(0.8, 200)  # 160 of 200
    assert lo == pytest.approx(0.739147, abs=1e-5) and hi == pytest.approx(0.849551, abs=1e-5)
    r = MatchResult(150, 20, 30)
    assert r.n == 200 and r.score == 0.8 and r.wilson_ci() == wilson_ci(0.8, 200)
    assert "150W/20D/30L" in str(r)
    assert wilson_ci(0.3, 0) == (0.0, 1.0)


def test_elo_from_score():
    assert elo_from_score(0.5) == 0.0
    assert elo_from_score(0.75) == pytest.approx(400 * math.log10(3))
    assert elo_from_score(0.25) == pytest.approx(-400 * math.log10(3))
    assert elo_from_score(1.0, n=100) == pytest.approx(400 * math.log10(0.995 / 0.005))
    assert math.isfinite(elo_from_score(0.0))
    assert MatchResult(10, 0, 0).elo == elo_from_score(1.0, 10)


def test_positions_and_mistake_rates():
    g = make_game("tictactoe")
    assert len(all_positions(g)) == 4520  # reachable non-terminal tic-tac-toe positions
    pos = positions_for(g, 50, seed=3)
    assert pos == positions_for(g, 50, seed=3) and pos != positions_for(g, 50, seed=4)
    assert len(set(pos)) == 50 and not any(g.is_terminal(s) for s in pos)
    opening = positions_for(g, 20, seed=3, plies=(2, 3))
    assert all(2 <= s[2] <= 3 for s in opening)
    informative = positions_for(g, 30, seed=3, informative=True)
    labels = label_positions(g, informative)
    assert all(np.nanmin(v) < np.nanmax(v) for v in labels)
    rng = np.random.default_rng(0)
    assert mistake_rate(g, PerfectPlayer(), informative, rng, labels) == 0.0
    expect = np.mean([v[g.legal_actions(s)[0]] < np.nanmax(v) for s, v in zip(informative, labels, strict=True)])
    assert mistake_rate(g, FirstLegal(), informative, rng) == expect > 0
    assert mistake_rate(g, RandomPlayer(), informative, rng, labels) > 0.2
    c4 = make_game("connect4-5x4")
    pos = positions_for(c4, 12, seed=8, plies=(6, 12), informative=True)
    labels = label_positions(c4, pos)
    assert mistake_rate(c4, PerfectPlayer(), pos, rng, labels) == 0.0
    with pytest.raises(ValueError):
        positions_for(g, 10, seed=0, plies=(0, 0))  # only one position has no stone

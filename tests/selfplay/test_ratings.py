"""Bradley-Terry / Elo fitting (hand values, synthetic strengths, anchoring, bootstrap) and the lookahead player."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlfrontier.errors import DLFrontierError
from dlfrontier.games import LookaheadPlayer, RandomPlayer, make_game, make_player, match
from dlfrontier.rl.selfplay.ratings import Results, bootstrap_ratings, expected_score, fit_ratings


def _two(w: int, d: int, losses: int, names: tuple[str, str] = ("random", "b")) -> Results:
    r = Results(list(names))
    for score, count in ((1.0, w), (0.5, d), (0.0, losses)):
        for _ in range(count):
            r.add(1, 0, score)
    return r


def _synthetic(true: dict[str, float], games: int, seed: int, draw: float = 0.0) -> Results:
    """Every pair plays ``games`` games drawn from the Elo model (draws up to a fraction ``draw`` of them)."""
    names = list(true)
    rng = np.random.default_rng(seed)
    r = Results(names)
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            p = expected_score(true[names[i]], true[names[j]])
            d = draw * 2 * min(p, 1 - p)  # fewer draws in lopsided pairs, so the expected score stays p
            for _ in range(games):
                if rng.random() < d:
                    r.add(i, j, 0.5)
                else:  # win with probability (p - d / 2) / (1 - d): the expected score is p
                    r.add(i, j, 1.0 if rng.random() < (p - d / 2) / (1 - d) else 0.0)
    return r


def test_hand_checkable_two_player_cases():
    assert fit_ratings(_two(75, 0, 25))["b"] == pytest.approx(400 * math.log10(3), abs=1e-6)  # +190.85
    assert fit_ratings(_two(75, 0, 25))["b"] == pytest.approx(190.8, abs=0.05)
    assert fit_ratings(_two(50, 50, 0))["b"] == pytest.approx(190.8, abs=0.05)  # 75% made of draws
    assert fit_ratings(_two(30, 40, 30))["b"] == pytest.approx(0.0, abs=1e-9)
    assert fit_ratings(_two(25, 0, 75))["b"] == pytest.approx(-400 * math.log10(3), abs=1e-6)
    # a perfect score counts half a game from the end: 99.5 / 100 -> 400 log10(199)
    assert fit_ratings(_two(100, 0, 0))["b"] == pytest.approx(400 * math.log10(199), abs=1e-6)
    assert fit_ratings(_two(0, 0, 10))["b"] == pytest.approx(-400 * math.log10(19), abs=1e-6)


def test_three_player_chain_is_additive():
    # a beats random 75%, b beats a 75%: on a chain (no b-random games) the differences add up
    r = Results(["random", "a", "b"])
    for i, j in ((1, 0), (2, 1)):
        for s in [1.0] * 75 + [0.0] * 25:
            r.add(i, j, s)
    rating = fit_ratings(r)
    assert rating["a"] == pytest.approx(190.849, abs=1e-3)
    assert rating["b"] == pytest.approx(2 * 190.849, abs=1e-3)


def test_recovers_known_strengths_on_a_large_sample():
    true = {"random": 0.0, "weak": 150.0, "mid": 400.0, "strong": 700.0, "top": 800.0}
    r = _synthetic(true, games=2000, seed=0, draw=0.3)
    rating = fit_ratings(r)
    for name, value in true.items():
        assert rating[name] == pytest.approx(value, abs=25.0)
    assert rating["random"] == 0.0


def test_anchoring_shifts_every_rating_by_the_same_amount():
    r = _synthetic({"random": 0.0, "a": 200.0, "b": 300.0}, games=300, seed=1)
    base = fit_ratings(r)
    moved = fit_ratings(r, anchor="a", anchor_rating=1500.0)
    assert moved["a"] == 1500.0
    for name in base:
        assert moved[name] - base[name] == pytest.approx(1500.0 - base["a"], abs=1e-6)


def test_fit_is_deterministic_and_json_round_trips():
    r = _synthetic({"random": 0.0, "a": 100.0, "b": 500.0}, games=50, seed=2, draw=0.2)
    assert fit_ratings(r) == fit_ratings(Results.from_json(r.to_json()))
    assert bootstrap_ratings(r, samples=100, seed=3) == bootstrap_ratings(r, samples=100, seed=3)


def test_bootstrap_interval_contains_the_truth():
    true = {"random": 0.0, "a": 250.0, "b": 450.0, "c": 600.0}
    r = _synthetic(true, games=200, seed=4, draw=0.2)
    ci = bootstrap_ratings(r, samples=300, seed=0)
    assert ci["random"] == (0.0, 0.0, 0.0)
    for name, value in true.items():
        rating, lo, hi = ci[name]
        assert lo <= rating <= hi
        assert lo <= value <= hi
        if name != "random":
            assert 20.0 < hi - lo < 250.0  # a real interval, not a point or the whole line


def test_score_matrix_and_results_checks():
    r = _two(6, 2, 2)
    s = r.score_matrix()
    assert np.isnan(s[0, 0]) and np.isnan(s[1, 1])
    assert s[1, 0] == pytest.approx(0.7) and s[0, 1] == pytest.approx(0.3)
    assert r.games()[0, 1] == 10
    with pytest.raises(ValueError):
        r.add(0, 1, 0.25)
    with pytest.raises(DLFrontierError, match="not a results record"):
        Results.from_json({"players": ["a"]})
    with pytest.raises(DLFrontierError, match="anchor 'nobody'"):
        fit_ratings(r, anchor="nobody")
    island = Results(["random", "a", "b", "c"])
    island.add(0, 1, 1.0)
    island.add(2, 3, 0.5)
    with pytest.raises(DLFrontierError, match="cannot rate b, c"):
        fit_ratings(island)


# --- the one-step lookahead player -------------------------------------------------------------------------


def test_lookahead_wins_now_and_blocks():
    rng = np.random.default_rng(0)
    p = make_player("lookahead")
    assert isinstance(p, LookaheadPlayer) and p.name == "lookahead"
    t = make_game("tictactoe")
    for _ in range(10):
        assert p.select(t, t.from_stones("XX.\nOO.\n..."), rng) == 2  # X wins at once (not the block at 5)
        assert p.select(t, t.from_stones("XX.\nO..\n..."), rng) == 2  # O blocks
    # no win, no threat, no move hands X a win in one: random among all six (one step does not see forks)
    assert {p.select(t, t.from_stones("X..\n.O.\n..X"), rng) for _ in range(60)} == {1, 2, 3, 5, 6, 7}
    c = make_game("connect4")
    s = c.from_stones(".......\n.......\n.......\n...X...\n...X...\nO..X..O")  # O to move, X threatens col 3
    assert all(p.select(c, s, rng) == 3 for _ in range(5))
    s = c.from_stones(".......\n.......\n.......\n.......\n.......\n.XXX.OO")  # O to move: two threats
    assert all(p.select(c, s, rng) in (0, 4) for _ in range(5))  # blocks one of them


def test_lookahead_does_not_hand_over_a_win():
    # connect4 7x6, X to move, no threat now; O wins on row 5 in columns 0 and 4 once the cells below are
    # filled, so playing column 0 or 4 hands O the win: lookahead never plays them
    c = make_game("connect4")
    s = c.from_stones(".......\n.......\n.......\n.......\n.OOO.XX\n.XOX.OX")
    assert c.to_move(s) == 0
    rng = np.random.default_rng(0)
    moves = {LookaheadPlayer().select(c, s, rng) for _ in range(40)}
    assert moves == {1, 2, 3, 5, 6}


def test_lookahead_beats_random():
    res = match(make_game("tictactoe"), LookaheadPlayer(), RandomPlayer(), 60, seed=0)
    assert res.losses <= 3 and res.score > 0.8

"""The games as PettingZoo AEC environments pass PettingZoo's own API test."""

from __future__ import annotations

import sys

import pytest

from dlfrontier.errors import MissingDependencyError
from dlfrontier.games import make_game

pz = pytest.importorskip("pettingzoo")


@pytest.mark.filterwarnings("ignore:Observation:UserWarning")  # dict observations, as PettingZoo's own games
@pytest.mark.parametrize("name", ["tictactoe", "connect4-5x4", "gomoku-6x6-4"])
def test_api_test(name):
    from pettingzoo.test import api_test

    from dlfrontier.games.pettingzoo import env

    api_test(env(name), num_cycles=200)


def test_rewards_masks_and_observations():
    from dlfrontier.games.pettingzoo import env

    e = env("tictactoe", render_mode="ansi")
    e.reset(seed=0)
    for a in (0, 3, 1, 4):
        e.step(a)
    obs, reward, term, trunc, _ = e.last()
    assert e.agent_selection == "player_0" and not term
    assert obs["action_mask"].tolist() == [0, 0, 1, 0, 0, 1, 1, 1, 1]
    assert obs["observation"][0].reshape(-1).tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0]  # own stones first
    other = e.observe("player_1")
    assert other["observation"][0].reshape(-1).tolist() == [0, 0, 0, 1, 1, 0, 0, 0, 0]
    assert not other["action_mask"].any()
    e.step(2)  # X completes the top row
    assert e.terminations["player_0"] and e.terminations["player_1"]
    assert e._cumulative_rewards == {"player_0": 1.0, "player_1": -1.0}
    assert "X" in e.render()
    with pytest.raises(ValueError):
        e2 = env("connect4-5x4")
        e2.reset()
        for _ in range(5):
            e2.step(0)  # the fifth stone in a 4-high column
    e3 = env("tictactoe", illegal="lose")
    e3.reset()
    e3.step(4)
    e3.step(4)
    assert e3._cumulative_rewards["player_1"] == -1.0 and e3.terminations["player_1"]
    e4 = env(make_game("connect4"))
    e4.reset()
    assert e4.observe("player_0")["observation"].shape == (3, 6, 7)


def test_missing_pettingzoo_is_one_line(monkeypatch):
    import dlfrontier.games.pettingzoo as mod

    mod._env_class.cache_clear()
    monkeypatch.setitem(sys.modules, "pettingzoo", None)
    try:
        with pytest.raises(MissingDependencyError, match=r'pip install "dlfrontier\[games\]"'):
            mod.env("tictactoe")
    finally:
        mod._env_class.cache_clear()

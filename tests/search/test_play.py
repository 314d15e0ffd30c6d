"""`dlfrontier play`: a scripted person against an opponent; malformed and illegal moves get one line and a retry."""

import numpy as np

from dlfrontier.games import PerfectPlayer, make_game
from dlfrontier.rl.search.evaluation import SearchAgent
from dlfrontier.rl.search.mcts import SearchConfig
from dlfrontier.rl.search.network import build_network
from dlfrontier.rl.search.play import play_terminal


def _script(moves):
    it = iter(moves)

    def read(prompt):
        try:
            return next(it)
        except StopIteration:
            raise EOFError from None

    return read


def test_bad_input_gets_one_line_and_a_retry():
    game = make_game("tictactoe")
    out = []
    result = play_terminal(game, PerfectPlayer(), human_first=True, seed=0,
                           read=_script(["hello", "0", "5", "5", "q"]), write=out.append)
    errors = [line for line in out if line.endswith("try again")]
    assert len(errors) == 3 and all("\n" not in e for e in errors)  # malformed, out of range, occupied
    assert out[-1] == "bye" and result == 0.0


def test_agent_shows_prior_visits_and_value():
    game = make_game("connect4-5x4")
    agent = SearchAgent(game, build_network(game, 8, 1), SearchConfig(simulations=8))
    out = []
    play_terminal(game, agent, human_first=False, seed=0, read=_script(["1", "9", "q"]), write=out.append)
    table = next(line for line in out if "prior" in line)
    assert "visits" in table and "value" in table
    assert sum(int(row.split()[2]) for row in table.splitlines()[1:-1]) == 8  # root visits = simulations
    assert any("cannot read move" in line for line in out)


def test_full_game_against_the_search_ends_with_a_result():
    game = make_game("tictactoe")
    agent = SearchAgent(game, build_network(game, 8, 1), SearchConfig(simulations=4))
    moves = [str(a + 1) for a in range(9)] * 2  # always try the lowest free cell
    out = []
    r = play_terminal(game, agent, human_first=True, seed=1, read=_script(moves), write=out.append)
    assert r in (-1.0, 0.0, 1.0) and out[-1] in ("you win", "draw", "you lose")
    assert np.isfinite(r)

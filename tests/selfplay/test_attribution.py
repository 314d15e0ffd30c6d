"""Reward attribution on AEC envs: scripted wins, losses and draws for both seats (ours and PettingZoo's classic
envs), the naive single-agent wrapper's lost loss, and action masks that never let an illegal move through."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pettingzoo")

from dlfrontier.errors import MissingDependencyError  # noqa: E402
from dlfrontier.games.pettingzoo import env as game_env  # noqa: E402
from dlfrontier.rl.selfplay.attribution import (  # noqa: E402
    IllegalActionError,
    NaiveSingleAgentEnv,
    SingleAgentView,
    classic_env,
    masked_random,
    play_single,
    run_episode,
    scripted,
)

# (first seat's moves, second seat's moves, first seat's result). Tic-tac-toe cells 0..8: a line of cells
# 0,1,2 / 0,4,8 is a line both in row-major order (ours) and column-major order (PettingZoo's tictactoe_v3)
TTT = {
    "first wins": ([0, 1, 2], [3, 4], 1.0),
    "second wins": ([3, 4, 8], [0, 1, 2], -1.0),  # the loss of the first seat happens on the second's turn
    "draw": ([0, 2, 3, 7, 8], [1, 4, 5, 6], 0.0),
}
_C4_DRAW = [1, 3, 2, 2, 3, 4, 3, 3, 2, 2, 6, 3, 2, 6, 3, 2, 6, 6, 6, 6, 5, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 1, 1, 5, 5,
            1, 5, 5, 0, 5, 1, 1]  # a full 7x6 board without four in a row (found by minimax-2 self-play)
C4 = {
    "first wins": ([0, 0, 0, 0], [1, 1, 1], 1.0),
    "second wins": ([0, 0, 2, 2], [1, 1, 1, 1], -1.0),
    "draw": (_C4_DRAW[0::2], _C4_DRAW[1::2], 0.0),
}
ENVS = {
    "ours-tictactoe": (lambda: game_env("tictactoe"), TTT),
    "ours-connect4": (lambda: game_env("connect4"), C4),
    "classic-tictactoe_v3": (lambda: classic_env("tictactoe_v3"), TTT),
    "classic-connect_four_v3": (lambda: classic_env("connect_four_v3"), C4),
}


@pytest.fixture(params=sorted(ENVS))
def case(request):
    make, games = ENVS[request.param]
    return make, games


@pytest.mark.parametrize("game", ["first wins", "second wins", "draw"])
def test_every_reward_reaches_its_seat(case, game):
    make, games = case
    first_moves, second_moves, result = games[game]
    env = make()
    a0, a1 = env.possible_agents
    ep = run_episode(env, {a0: scripted(first_moves), a1: scripted(second_moves)}, seed=0)
    assert ep.returns == {a0: result, a1: -result}
    assert [s.action for s in ep.steps[a0]] == first_moves and [s.action for s in ep.steps[a1]] == second_moves
    for agent, r in ((a0, result), (a1, -result)):
        last = ep.steps[agent][-1]
        assert last.done and last.reward == r  # the final result is credited to the seat's last move
        assert all(s.reward == 0.0 and not s.done for s in ep.steps[agent][:-1])


@pytest.mark.parametrize("seat", [0, 1])
def test_single_agent_view_gets_the_loss_the_naive_wrapper_drops(case, seat):
    make, games = case
    for game, (first_moves, second_moves, result) in games.items():
        mine, theirs = (first_moves, second_moves) if seat == 0 else (second_moves, first_moves)
        expected = result if seat == 0 else -result
        env = make()
        learner = env.possible_agents[seat]
        correct = play_single(SingleAgentView(env, scripted(theirs), learner), scripted(mine), seed=0)
        assert correct == expected, game
        naive = play_single(NaiveSingleAgentEnv(make(), scripted(theirs), learner), scripted(mine), seed=0)
        lost_on_their_turn = expected == -1.0
        # the naive wrapper reads the reward right after the learner's own move: a win (made on the learner's
        # move) and a draw come through, a loss (made on the opponent's move) is returned as 0
        assert naive == (0.0 if lost_on_their_turn else expected), game


def test_masks_never_let_an_illegal_move_through(case):
    make, _ = case
    env = make()
    rng = np.random.default_rng(0)
    for k in range(15):
        ep = run_episode(env, dict.fromkeys(env.possible_agents, masked_random(rng)), seed=k)
        for steps in ep.steps.values():
            assert all(s.action_mask[s.action] == 1 for s in steps)
        assert sorted(ep.returns.values()) in ([-1.0, 1.0], [0.0, 0.0])
    # a policy that picks a masked action (an occupied cell, a full column) is stopped before the env sees it
    a0, a1 = env.possible_agents
    fill = {a0: [0], a1: [0]} if env.action_space(a0).n == 9 else {a0: [0, 0, 0, 0], a1: [0, 0, 0]}
    with pytest.raises(IllegalActionError, match="forbids"):
        run_episode(env, {a: scripted(m) for a, m in fill.items()}, seed=0)


def test_our_mask_is_exactly_the_legal_moves():
    from dlfrontier.games import make_game

    game = make_game("connect4-5x4")
    env = game_env(game)
    env.reset(seed=0)
    rng = np.random.default_rng(1)
    s = game.initial()
    for _agent in env.agent_iter():
        obs, _, term, trunc, _ = env.last()
        if term or trunc:
            env.step(None)
            continue
        assert np.array_equal(obs["action_mask"].astype(bool), game.legal(s))
        a = masked_random(rng)(obs)
        s = game.play(s, a)
        env.step(a)


def test_classic_env_without_pygame_is_one_line(monkeypatch):
    import importlib

    real = importlib.import_module

    def no_pygame(name, *args):
        if name == "pygame":
            raise ImportError("No module named 'pygame'", name="pygame")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_pygame)
    with pytest.raises(MissingDependencyError, match="pip install pygame") as e:
        classic_env("connect_four_v3")
    assert "\n" not in str(e.value)

"""The batched self-play environment: same rules as dlfrontier.games, rewards reach the right seat, masks hold."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlfrontier.games import make_game
from dlfrontier.rl.selfplay.env import BatchedGames
from dlfrontier.rl.selfplay.ppo import act, play_rollout


class Scripted(torch.nn.Module):
    """Plays ``script[ply]`` in every game (a huge logit; sampling noise cannot overturn it); value 0."""

    def __init__(self, script, planes_first_plane=True):
        super().__init__()
        self.script = script

    def forward(self, x):
        ply = x[:, :2].sum(dim=(1, 2, 3)).long()
        logits = torch.zeros(x.shape[0], self.n_actions)
        for i, p in enumerate(ply.tolist()):
            logits[i, self.script[p]] = 1e4
        return logits, torch.zeros(x.shape[0])


def scripted(game, script):
    net = Scripted(script)
    net.n_actions = game.num_actions
    return net


# tic-tac-toe cells 0..8 row by row. X wins on the top row at ply 4; O wins the left column at ply 5; a draw.
X_WINS = [0, 3, 1, 4, 2]
O_WINS = [1, 0, 2, 3, 8, 6]
DRAW = [0, 4, 8, 1, 7, 6, 2, 5, 3]
# Connect Four 7x6 columns: the first player stacks column 0 (wins at ply 6); second player stacks column 1 and
# wins at ply 7 after the first player wastes a move.
C4_FIRST = [0, 1, 0, 1, 0, 1, 0]
C4_SECOND = [0, 1, 0, 1, 2, 1, 0, 1]


@pytest.mark.parametrize("game_name,script,result", [
    ("tictactoe", X_WINS, (1, -1)), ("tictactoe", O_WINS, (-1, 1)), ("tictactoe", DRAW, (0, 0)),
    ("connect4", C4_FIRST, (1, -1)), ("connect4", C4_SECOND, (-1, 1))])
def test_rewards_reach_the_player_whose_move_caused_them(game_name, script, result):
    game = make_game(game_name)
    # self-play: both seats are the learner; with gamma = lambda = 1 and value 0, each move's return is its
    # seat's final result
    ro = play_rollout(game, scripted(game, script), [], -np.ones((2, 2), np.int64), np.random.default_rng(0),
                      gamma=1.0, lam=1.0)
    assert ro.seat_result.tolist() == [list(result)] * 2
    assert (ro.lengths == len(script)).all()
    assert len(ro.actions) == 2 * len(script)
    seat = np.array([p % 2 for p in range(len(script))])
    expected = np.where(seat == 0, result[0], result[1]).astype(np.float32)
    # rows are ply-major: ply 0 of both games, then ply 1, ...
    assert np.array_equal(ro.returns, np.repeat(expected, 2))
    assert np.array_equal(ro.actions, np.repeat(script, 2))


@pytest.mark.parametrize("learner_seat", [0, 1])
@pytest.mark.parametrize("script,result", [(X_WINS, (1, -1)), (O_WINS, (-1, 1)), (DRAW, (0, 0))])
def test_a_loss_on_the_opponents_turn_reaches_the_learner(learner_seat, script, result):
    """The learner plays one seat, a frozen opponent the other: the learner's own moves carry its result, even
    when the game is decided by the opponent's move (the naive wrapper's bug)."""
    game = make_game("tictactoe")
    roles = np.zeros((1, 2), np.int64)
    roles[0, learner_seat] = -1
    net = scripted(game, script)
    ro = play_rollout(game, net, [net], roles, np.random.default_rng(0), gamma=1.0, lam=1.0)
    mine = [a for p, a in enumerate(script) if p % 2 == learner_seat]
    assert ro.actions.tolist() == mine
    assert ro.returns.tolist() == [float(result[learner_seat])] * len(mine)
    assert ro.score.tolist() == [(result[learner_seat] + 1) / 2]
    assert ro.opponent.tolist() == [0]


def test_gae_discounts_along_the_seats_own_moves():
    game = make_game("tictactoe")
    ro = play_rollout(game, scripted(game, X_WINS), [], -np.ones((1, 2), np.int64), np.random.default_rng(0),
                      gamma=0.5, lam=1.0)
    # seat 0 moves at plies 0, 2, 4 (wins at 4): returns 0.25, 0.5, 1; seat 1 at plies 1, 3: -0.5, -1
    assert np.allclose(ro.returns, [0.25, -0.5, 0.5, -1.0, 1.0])


def _compare_with_rules(game_name, seed, n=16):
    game = make_game(game_name)
    rng = np.random.default_rng(seed)
    env = BatchedGames.new(game, n)
    states = [game.initial()] * n
    while not env.done.all():
        live = np.flatnonzero(~env.done)
        legal = env.legal()
        for i in range(n):
            assert np.array_equal(legal[i], game.legal(states[i]))
        assert np.array_equal(env.encode()[live], game.encode_batch([states[i] for i in live]))
        acts = np.array([rng.choice(np.flatnonzero(legal[i])) for i in live])
        won = env.step(acts, live)
        for k, i in enumerate(live):
            states[i] = game.play(states[i], int(acts[k]))
            assert env.done[i] == game.is_terminal(states[i])
            assert bool(won[k]) == (game.outcome(states[i]) == -1.0)
            assert env.state(i) == states[i]
    assert not env.legal().any()


@pytest.mark.parametrize("game_name", ["tictactoe", "connect4", "connect4-5x4", "gomoku-6x6-4"])
def test_same_rules_masks_and_encoding_as_the_games_module(game_name):
    _compare_with_rules(game_name, seed=0)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), game_name=st.sampled_from(["tictactoe", "connect4"]),
       scale=st.floats(0.0, 50.0))
def test_masks_never_let_an_illegal_move_through(seed, game_name, scale):
    """Whatever the network's logits (large, tied, favouring full columns), sampled and greedy moves are legal."""
    game = make_game(game_name)
    rng = np.random.default_rng(seed)
    env = BatchedGames.new(game, 8)

    def net(x):
        logits = torch.from_numpy(rng.normal(size=(x.shape[0], game.num_actions)).astype(np.float32)) * scale
        logits[:, 0] += 100.0  # the first action most wanted, legal or not
        return logits, torch.zeros(x.shape[0])

    while not env.done.all():
        live = np.flatnonzero(~env.done)
        mask = env.legal()[live]
        a, logp, _ = act(net, env.encode()[live], mask, rng, greedy=bool(seed % 2))
        assert mask[np.arange(len(a)), a].all() and np.isfinite(logp).all()
        env.step(a, live)


def test_illegal_actions_raise():
    game = make_game("connect4-4x4")
    env = BatchedGames.new(game, 1)
    for _ in range(4):
        env.step(np.array([0]))
    with pytest.raises(ValueError, match="illegal"):
        env.step(np.array([0]))

"""Batched PUCT / Gumbel search against hand-computed trees, the sign convention, sequential halving."""

import numpy as np
import pytest
import torch

from dlfrontier.rl.search.mcts import BatchedMCTS, SearchConfig, considered_visits
from dlfrontier.rl.search.network import NetworkEvaluator, PolicyValueNet
from tests.search.tiny import ChainGame, TinyTicTacToe, table_evaluator


def test_puct_matches_hand_computed_tree():
    """4 simulations, c_puct 1, fpu 0, no noise. By hand (values are for the player to move at each node):
    sim 1: scores a0 0.7, a1 0.3 -> a0, leaf value +0.5 -> Q(root, 0) = -0.5
    sim 2: sqrt(2): a0 -0.5 + 0.7*1.414/2 = -0.005, a1 0.3*1.414 = 0.424 -> a1, leaf -0.2 -> Q(root, 1) = +0.2
    sim 3: sqrt(3): a0 0.106, a1 0.2 + 0.3*1.732/2 = 0.460 -> a1; at (1,) uniform prior, tie -> action 0,
           leaf (1, 0) +0.6 (player 0's view) -> (1,) gets -0.6, the root +0.6: Q(root, 1) = 0.4
    sim 4: sqrt(4): a0 -0.5 + 0.7 = 0.2, a1 0.4 + 0.3*2/3 = 0.6 -> a1; at (1,) (N=2): child 0 -0.6 + 0.5*1.414/2 =
           -0.246, child 1 0.5*1.414 = 0.707 -> 1, leaf (1, 1) -0.4 -> (1,) +0.4, root -0.4
    root visits [1, 3]; Q(root, 1) = -(-0.2 - 0.6 + 0.4) / 3 = 0.1333; root value (0.1 - 0.5 + 0.2 + 0.6 - 0.4) / 5 = 0
    """
    game = ChainGame()
    evaluate = table_evaluator({(): np.array([0.7, 0.3])},
                               {(): 0.1, (0,): 0.5, (1,): -0.2, (1, 0): 0.6, (1, 1): -0.4}, 2)
    mcts = BatchedMCTS(SearchConfig(algorithm="puct", simulations=4, c_puct=1.0, fpu=0.0))
    out = mcts.search(game, [()], evaluate, np.random.default_rng(0), add_noise=False)
    assert out.visits[0].tolist() == [1, 3]
    np.testing.assert_allclose(out.q[0], [-0.5, 0.4 / 3])
    np.testing.assert_allclose(out.value[0], 0.0, atol=1e-12)
    np.testing.assert_allclose(out.policy[0], [0.25, 0.75])
    assert out.action[0] == 1


X_TO_MOVE = (1, 1, 0,
             2, 2, 0,
             0, 0, 0)   # X (first player) to move wins at 2; O threatens 5
O_TO_MOVE = (1, 1, 0,
             2, 2, 0,
             1, 0, 0)   # O to move wins at 5; X threatens 2


@pytest.mark.parametrize("algorithm", ["puct", "gumbel"])
@pytest.mark.parametrize("state,win", [(X_TO_MOVE, 2), (O_TO_MOVE, 5)])
def test_forced_win_in_one_found_by_either_colour(algorithm, state, win):
    game = TinyTicTacToe()
    assert game.to_move(state) == (0 if state is X_TO_MOVE else 1)
    evaluate = table_evaluator({}, {}, 9)  # uniform prior, value 0: only the search can find the win
    mcts = BatchedMCTS(SearchConfig(algorithm=algorithm, simulations=40))
    out = mcts.search(game, [state], evaluate, np.random.default_rng(1), add_noise=False)
    assert out.action[0] == win
    assert out.q[0, win] == pytest.approx(1.0)  # the win, seen from the player to move
    assert out.visits[0].argmax() == win or algorithm == "gumbel"


def test_sequential_halving_schedule():
    # 4 actions, 8 simulations: log2(4) = 2 phases; phase 1: 8 // (2 * 4) = 1 visit each; phase 2: the best 2
    # get 8 // (2 * 2) = 2 more each
    assert considered_visits(4, 8) == [0, 0, 0, 0, 1, 1, 2, 2]
    assert considered_visits(16, 4) == [0, 0, 0, 0]  # fewer simulations than actions: the top 4 once each
    assert considered_visits(1, 3) == [0, 1, 2]
    assert considered_visits(2, 6) == [0, 0, 1, 1, 2, 2]
    seq = considered_visits(8, 32)  # 3 phases: 8 x 1, 4 x 2, 2 x 5 = 8 + 8 + 10 ... then repeats with 2
    assert seq[:8] == [0] * 8 and seq[8:16] == [1, 1, 1, 1, 2, 2, 2, 2] and len(seq) == 32


class Bandit:
    """One move among 4 actions, then the game ends with a fixed value (the one-ply Gumbel schedule)."""

    name, num_actions = "bandit", 4
    values = (0.1, 0.5, -0.3, 0.3)  # value of each action for the player who chooses it

    def initial(self):
        return ()

    def to_move(self, s):
        return len(s) % 2

    def outcome(self, s):
        return None if not s else -self.values[s[0]]  # for the player to move after the choice

    def legal(self, s):
        return np.array([not s] * 4)

    def play(self, s, a):
        return (int(a),)


def test_gumbel_root_visits_follow_sequential_halving():
    game = Bandit()
    mcts = BatchedMCTS(SearchConfig(algorithm="gumbel", simulations=8, max_considered=4))
    out = mcts.search(game, [()], table_evaluator({}, {}, 4), np.random.default_rng(0), add_noise=False)
    # phase 1 visits all 4 once; phase 2 keeps the two best (actions 1 and 3) and visits each twice more
    assert out.visits[0].tolist() == [1, 3, 1, 3]
    assert out.action[0] == 1
    np.testing.assert_allclose(out.q[0], Bandit.values)
    assert out.policy[0].argmax() == 1 and out.policy[0].sum() == pytest.approx(1.0)


@pytest.mark.parametrize("algorithm", ["puct", "gumbel"])
def test_batched_equals_one_game_at_a_time(algorithm):
    game = TinyTicTacToe()
    torch.manual_seed(0)
    net = PolicyValueNet(2, 3, 3, 9, channels=8, blocks=1).double().eval()

    def evaluate(states):  # float64 network, row by row: identical numbers whatever the batch
        x = torch.from_numpy(np.stack([game.encode(s) for s in states]).astype(np.float64))
        with torch.no_grad():
            out = [net(x[i:i + 1]) for i in range(len(x))]
        return (torch.cat([o[0] for o in out]).numpy(), torch.cat([o[1] for o in out]).numpy())

    rng = np.random.default_rng(3)
    states = []
    for _ in range(6):  # random reachable positions
        s = game.initial()
        for _ in range(rng.integers(0, 6)):
            s2 = game.play(s, int(rng.choice(np.flatnonzero(game.legal(s)))))
            if game.outcome(s2) is not None:
                break
            s = s2
        states.append(s)
    cfg = SearchConfig(algorithm=algorithm, simulations=24)
    together = BatchedMCTS(cfg).search(game, states, evaluate, np.random.default_rng(0), add_noise=False)
    for i, s in enumerate(states):
        alone = BatchedMCTS(cfg).search(game, [s], evaluate, np.random.default_rng(0), add_noise=False)
        assert alone.visits[0].tolist() == together.visits[i].tolist()
        np.testing.assert_allclose(alone.policy[0], together.policy[i])
        np.testing.assert_allclose(alone.value[0], together.value[i])
        if algorithm == "gumbel":
            assert alone.action[0] == together.action[i]


def test_network_evaluator_shapes():
    game = TinyTicTacToe()
    net = PolicyValueNet(2, 3, 3, 9, channels=8, blocks=1)
    ev = NetworkEvaluator(game, net)
    logits, v = ev([game.initial(), X_TO_MOVE])
    assert logits.shape == (2, 9) and v.shape == (2,) and np.all(np.abs(v) <= 1)
    assert ev.calls == 1 and ev.positions == 2

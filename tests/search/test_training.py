"""Self-play training: a short learning test, safe checkpoints, resume, and the helpers around them."""

from pathlib import Path

import numpy as np
import pytest
import torch

from dlfrontier import tracking
from dlfrontier.games import RandomPlayer, make_game
from dlfrontier.rl.search.evaluation import SearchAgent, batched_match
from dlfrontier.rl.search.mcts import BatchedMCTS, SearchConfig
from dlfrontier.rl.search.network import NetworkEvaluator, build_network, network_from_state
from dlfrontier.rl.search.selfplay import ReplayWindow, augment, self_play
from dlfrontier.rl.search.training import AlphaZeroConfig, iteration_lr, train_alphazero
from dlfrontier.runtime import RunContext, seed_everything


class Log:
    def __init__(self):
        self.rows = []

    def log(self, metrics, step):
        self.rows.append((step, dict(metrics)))


def _ctx(tmp_path: Path, seed: int = 0, resume=None):
    saved = []
    ctx = RunContext("test", seed, "quick", "cpu", tmp_path, Log(), resume_state=resume,
                     checkpoint_hook=lambda state, step: saved.append((step, state)))
    return ctx, saved


def test_self_play_labels_results_from_the_mover_view():
    game = make_game("tictactoe")
    net = build_network(game, 8, 1)
    samples, stats = self_play(game, BatchedMCTS(SearchConfig(simulations=4)), NetworkEvaluator(game, net), 6,
                               np.random.default_rng(0), temperature_moves=9)
    assert stats.games == 6 and len(samples) == stats.moves
    assert samples.planes.shape == (len(samples), 3, 3, 3) and np.allclose(samples.policy.sum(1), 1)
    # within one game the value flips sign from one move to the next (alternating movers)
    first = samples.value[: stats.lengths[0]]
    assert sum(stats.lengths) == len(samples)
    assert set(np.unique(np.abs(samples.value))) <= {0.0, 1.0}
    assert all(first[i] == -first[i + 1] for i in range(len(first) - 1))
    aug = augment(game, samples)
    assert len(aug) == 8 * len(samples) and np.allclose(aug.value[:8], samples.value[0])


def test_value_mix_averages_the_result_and_the_root_value():
    """Same games (the mix changes only the targets): m = 0 gives z, m = 1 the search's root value q (from the
    view of the player to move, checked against a fresh search of the first position), m = 0.25 their average."""
    game = make_game("tictactoe")
    torch.manual_seed(0)
    net = build_network(game, 8, 1)
    mcts, ev = BatchedMCTS(SearchConfig(simulations=8)), NetworkEvaluator(game, net)
    out = {m: self_play(game, mcts, ev, 4, np.random.default_rng(3), temperature_moves=9, value_mix=m)[0]
           for m in (0.0, 1.0, 0.25)}
    z, q = out[0.0].value, out[1.0].value
    assert np.array_equal(out[0.0].planes, out[1.0].planes) and np.array_equal(out[0.0].policy, out[0.25].policy)
    assert set(np.unique(np.abs(z))) <= {0.0, 1.0} and not set(np.unique(np.abs(q))) <= {0.0, 1.0}
    np.testing.assert_allclose(out[0.25].value, 0.75 * z + 0.25 * q, rtol=1e-6, atol=1e-7)
    # q of the first position = the root value of the same search (same generator state, so same noise)
    root = mcts.search(game, [game.initial()], ev, np.random.default_rng(3), temperature=1.0, add_noise=True)
    assert q[0] == pytest.approx(root.value[0], abs=1e-6)


def test_replay_window_keeps_the_last_iterations():
    game = make_game("tictactoe")
    net = build_network(game, 8, 1)
    w = ReplayWindow(2)
    for i in range(3):
        s, _ = self_play(game, BatchedMCTS(SearchConfig(simulations=2)), NetworkEvaluator(game, net), 2,
                         np.random.default_rng(i), temperature_moves=9)
        w.add(s)
    assert len(w.parts) == 2
    w2 = ReplayWindow(2)
    w2.load_state_dict(w.state_dict())
    assert len(w2) == len(w)


TINY = dict(iterations=3, games_per_iteration=64, train_steps=60, channels=16, blocks=1, eval_games=0,
            final_games=40, final_opponents=("random",), final_positions=200, eval_simulations=1,
            search=SearchConfig(simulations=16))
# the learning test's budget: 8 iterations (3 scored 0.775-0.84 against random on seeds 0-4 of one machine and above
# 0.85 on another; 8 score 0.89-0.94 on seeds 0-4 here, so the test does not hang on the last bit of arithmetic)
LEARN = {**TINY, "iterations": 8, "train_steps": 100, "final_games": 100}


@pytest.mark.slow
def test_tictactoe_learns_to_beat_random(tmp_path):
    """Network alone (1 simulation = the prior's move) before and after 8 short iterations, against random."""
    game = make_game("tictactoe")
    seed_everything(0)
    untrained = SearchAgent(game, build_network(game, 16, 1), SearchConfig(simulations=1))
    before = batched_match(game, untrained, RandomPlayer(), 40, seed=10_000).score
    seed_everything(0)
    ctx, saved = _ctx(tmp_path)
    out = train_alphazero(ctx, AlphaZeroConfig(**LEARN))
    assert out["eval/score_vs_random"] >= 0.85 and out["eval/score_vs_random"] >= before + 0.2, (before, out)
    # the checkpoint holds only what the safe loader accepts, and rebuilds the network
    step, state = saved[-1]
    path = tmp_path / "ck.pt"
    tracking.save_checkpoint(path, state)
    loaded = torch.load(path, weights_only=True)
    net = network_from_state(loaded["net"])
    x = torch.from_numpy(game.encode_batch([game.initial()]))
    torch.testing.assert_close(net(x)[0], network_from_state(state["net"])(x)[0])


@pytest.mark.slow
def test_resume_continues_from_the_checkpoint(tmp_path):
    cfg = dict(TINY, final_games=4, final_positions=20)
    seed_everything(1)
    ctx, saved = _ctx(tmp_path, seed=1)
    train_alphazero(ctx, AlphaZeroConfig(**{**cfg, "iterations": 2}))
    step, state = saved[-1]
    assert step == 2 and state["iteration"] == 2
    # two resumes from one checkpoint agree, and the resumed run logs only the iterations after it
    path = tmp_path / "ck.pt"
    tracking.save_checkpoint(path, state)  # as the runner does: resume from the file
    runs = []
    for _ in range(2):
        ctx2, saved2 = _ctx(tmp_path, seed=1, resume=torch.load(path, weights_only=True))
        train_alphazero(ctx2, AlphaZeroConfig(**cfg))
        runs.append((ctx2.logger.rows, saved2))
    steps = sorted({s for s, _ in runs[0][0]})
    assert steps == [3]
    timeless = [{k: v for k, v in rows[0][1].items() if "_per_s" not in k and "seconds" not in k} for rows, _ in runs]
    assert timeless[0] == timeless[1]


def test_cosine_lr_decay_runs_from_lr_to_a_tenth():
    cfg = AlphaZeroConfig(iterations=11, lr=1e-3, lr_decay=True)
    lrs = [iteration_lr(cfg, it) for it in range(11)]
    assert lrs[0] == pytest.approx(1e-3) and lrs[-1] == pytest.approx(1e-4) and lrs[5] == pytest.approx(5.5e-4)
    assert all(a > b for a, b in zip(lrs[:-1], lrs[1:], strict=True))


@pytest.mark.slow
def test_lr_decay_sets_each_iterations_rate(tmp_path):
    seed_everything(1)
    ctx, saved = _ctx(tmp_path, seed=1)
    cfg = AlphaZeroConfig(**{**TINY, "iterations": 3, "final_games": 2, "final_positions": 5, "lr_decay": True})
    train_alphazero(ctx, cfg)
    lrs = [state["optimizer"]["param_groups"][0]["lr"] for _, state in saved]
    assert lrs == pytest.approx([iteration_lr(cfg, it) for it in range(3)])


@pytest.mark.slow
def test_eval_every_evaluates_every_nth_iteration_and_the_last(tmp_path):
    ctx, _ = _ctx(tmp_path, seed=1)
    cfg = AlphaZeroConfig(**{**TINY, "iterations": 5, "games_per_iteration": 4, "train_steps": 2, "eval_every": 2,
                             "eval_games": 2, "opponents": ("random",), "final_games": 2, "final_positions": 5})
    train_alphazero(ctx, cfg)
    steps = [s for s, m in ctx.logger.rows if "eval/score_vs_random" in m]
    assert steps == [0, 2, 4, 5, 5]  # the untrained network, iterations 2, 4 and the last, then the final match


def test_labelled_positions_by_ply_range_and_informative():
    import numpy as np

    from dlfrontier.errors import ConfigError
    from dlfrontier.games import make_game
    from dlfrontier.rl.search.training import labelled_positions

    game = make_game("connect4-5x4")
    positions, values = labelled_positions(game, 12, seed=3, plies=(6, 9), informative=True)
    assert len(positions) == 12 and values.shape == (12, 5)
    stones = [sum(1 for c in game.render(s) if c in "XO") for s in positions]
    assert all(6 <= n <= 9 for n in stones), stones
    assert all(np.nanmin(v) < np.nanmax(v) for v in values)  # some move is a mistake in each
    with pytest.raises(ConfigError, match="final_plies"):
        labelled_positions(game, 3, seed=0, plies=(9, 6))

"""Masked PPO against naive references, the policy player and its run-folder round trip, and a learning test."""

import json
import math

import numpy as np
import pytest
import torch

from dlfrontier.errors import DLFrontierError
from dlfrontier.games import RandomPlayer, make_game, match
from dlfrontier.rl.selfplay.agent import PolicyPlayer, load_player
from dlfrontier.rl.selfplay.ppo import (
    MaskedPPOConfig,
    build_net,
    masked_entropy,
    masked_log_probs,
    net_state,
    play_rollout,
    ppo_update,
)
from dlfrontier.runtime import RunContext
from dlfrontier.tracking import RunDir


def _naive_log_probs(logits, mask):
    out = np.full(logits.shape, -math.inf)
    for i in range(len(logits)):
        legal = [a for a in range(logits.shape[1]) if mask[i, a]]
        z = math.log(sum(math.exp(logits[i, a]) for a in legal))
        for a in legal:
            out[i, a] = logits[i, a] - z
    return out


def test_masked_log_probs_match_a_naive_reference():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 7)) * 3
    mask = rng.random((50, 7)) < 0.6
    mask[np.arange(50), rng.integers(0, 7, 50)] = True  # at least one legal move
    ours = masked_log_probs(torch.tensor(logits), torch.tensor(mask)).numpy()
    ref = _naive_log_probs(logits, mask)
    assert np.array_equal(np.isinf(ours), ~mask)
    assert np.allclose(ours[mask], ref[mask], atol=1e-12)
    ent = masked_entropy(torch.tensor(ours), torch.tensor(mask)).numpy()
    ref_ent = [-sum(math.exp(ref[i, a]) * ref[i, a] for a in range(7) if mask[i, a]) for i in range(50)]
    assert np.allclose(ent, ref_ent, atol=1e-12)


def test_illegal_logits_get_no_gradient_and_no_nan():
    logits = torch.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    mask = torch.tensor([[True, False, True]])
    logp = masked_log_probs(logits, mask)
    (logp[0, 0] + masked_entropy(logp, mask).sum()).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad[0, 1] == 0


def test_ppo_update_is_finite_and_changes_the_policy():
    game = make_game("connect4")
    cfg = MaskedPPOConfig(batch_size=256, n_epochs=2)
    torch.manual_seed(0)
    net = build_net(game, cfg)
    before = net_state(net)["weights"]
    rng = np.random.default_rng(0)
    ro = play_rollout(game, net, [], -np.ones((32, 2), np.int64), rng)
    stats = ppo_update(net, torch.optim.Adam(net.parameters(), lr=1e-3), ro, cfg, rng)
    assert all(np.isfinite(v) for v in stats.values())
    assert any(not torch.equal(before[k], v) for k, v in net.state_dict().items())


class _Uncached(torch.nn.Module):
    """The net behind a plain module: ``ppo_update`` then computes the features in every minibatch, as before."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)


def test_ppo_update_with_cached_threat_planes_equals_planes_per_minibatch():
    game = make_game("connect4")
    cfg = MaskedPPOConfig(batch_size=128, n_epochs=3, features="threats")
    torch.manual_seed(0)
    net = build_net(game, cfg)
    ref = build_net(game, cfg)
    ref.load_state_dict(net.state_dict())
    before = net.trunk[1].weight.detach().clone()
    ro = play_rollout(game, net, [], -np.ones((48, 2), np.int64), np.random.default_rng(1))
    planes = net.features(torch.from_numpy(ro.obs))
    assert planes[:, 3:5].sum() > 0  # the rollout's positions hold threats: the planes matter
    stats = ppo_update(net, torch.optim.Adam(net.parameters(), lr=1e-3), ro, cfg, np.random.default_rng(2))
    ref_stats = ppo_update(_Uncached(ref), torch.optim.Adam(ref.parameters(), lr=1e-3), ro, cfg,
                           np.random.default_rng(2))
    assert stats == ref_stats
    for (name, a), b in zip(net.state_dict().items(), ref.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert not torch.equal(net.trunk[1].weight, before)  # it trained


def _fake_run(tmp_path, experiment="selfplay-ppo-tictactoe", game="tictactoe", state=None):
    run = RunDir.create(tmp_path, experiment, 0)
    run.write_config({"experiment": experiment, "seed": 0, "budget": "quick", "config": {"game": game}})
    if state is not None:
        run.save_checkpoint(state, experiment=experiment, seed=0, step=1, metrics_rows=0, wall_seconds=0.0)
    return run.path


def test_load_player_round_trip(tmp_path):
    game = make_game("tictactoe")
    torch.manual_seed(1)
    net = build_net(game, MaskedPPOConfig(hidden=16))
    path = _fake_run(tmp_path, state={"learner": net_state(net)})
    player = load_player(path)
    assert player.game_name == "tictactoe" and player.greedy
    states = [game.initial(), game.play(game.initial(), 4)]
    assert np.allclose(player.probabilities(game, states), PolicyPlayer(net).probabilities(game, states))
    assert player.probabilities(game, states)[1, 4] == 0.0  # the occupied centre
    res = match(game, player, RandomPlayer(), n_games=4, seed=0)
    assert res.n == 4
    sampled = load_player(path, greedy=False)
    assert not sampled.greedy
    assert sampled.select(game, states[1], np.random.default_rng(0)) != 4


def test_load_player_refuses_what_is_not_a_selfplay_run(tmp_path):
    with pytest.raises(DLFrontierError, match="not a run folder"):
        load_player(tmp_path)
    other = _fake_run(tmp_path, experiment="alphazero-tictactoe", state={"net": {}})
    with pytest.raises(DLFrontierError, match="not a self-play run"):
        load_player(other)
    damaged = _fake_run(tmp_path / "d", state={"learner": {"shape": {}, "weights": {}}})
    with pytest.raises(DLFrontierError, match="no usable"):
        load_player(damaged)
    missing = _fake_run(tmp_path / "m")
    with pytest.raises(DLFrontierError):
        load_player(missing)
    (damaged / "checkpoint.pt").write_bytes(b"garbage")
    with pytest.raises(DLFrontierError):
        load_player(damaged)
    assert json.loads((damaged / "config.json").read_text())["experiment"] == "selfplay-ppo-tictactoe"


class _Log:
    def __init__(self):
        self.rows = []

    def log(self, metrics, step):
        self.rows.append((step, dict(metrics)))


@pytest.mark.slow
@pytest.mark.parametrize("opponents", ["self", "pool"])
def test_self_play_ppo_learns_tictactoe(tmp_path, opponents):
    """Self-play PPO (naive and with a PFSP pool) beats random by a margin within 100k moves (~5 s alone)."""
    from dlfrontier.rl.selfplay.training import SelfPlayConfig, train_selfplay

    torch.manual_seed(0)
    cfg = SelfPlayConfig(game="tictactoe", total_steps=100_000, eval_every=100_000, eval_games=40,
                         opponents=opponents, snapshot_every=5, final_games=100, eval_opponents=("random",),
                         final_opponents=("random",), algo=MaskedPPOConfig(ent_coef=0.05))
    saved = []
    ctx = RunContext("t", 0, "quick", "cpu", tmp_path, _Log(), checkpoint_hook=lambda s, step: saved.append(s))
    out = train_selfplay(ctx, cfg)
    start = ctx.logger.rows[0][1]
    assert out["eval/score_vs_random"] >= 0.8 and out["eval/score_vs_random"] >= start["eval/score_vs_random"] + 0.2
    assert out["eval/elo"] > start["eval/elo"] + 100
    assert (tmp_path / "tables" / "final.json").is_file()
    assert 0 <= out["eval/exploitable_positions_vs_perfect"] <= out["eval/exploitable_positions"]
    assert saved and torch.load  # a checkpoint was handed to the runner
    if opponents == "pool":
        assert len(saved[-1]["learner_state"]["pool"]["names"]) > 1


def test_evaluate_run_writes_a_score_table_and_a_game_record(tmp_path, capsys):
    from types import SimpleNamespace

    from dlfrontier.rl.selfplay.evaluation import evaluate_run
    from dlfrontier.rl.selfplay.training import SelfPlayConfig

    game = make_game("tictactoe")
    torch.manual_seed(0)
    loaded = SimpleNamespace(config=SelfPlayConfig(game="tictactoe"), experiment="selfplay-ppo-tictactoe", seed=0,
                             state={"learner": net_state(build_net(game, MaskedPPOConfig(hidden=16)))})
    out = evaluate_run(loaded, episodes=4, out_dir=tmp_path, gif=str(tmp_path / "game.gif"))
    assert "wrote" in capsys.readouterr().out
    from PIL import Image

    with Image.open(tmp_path / "game.gif") as img:  # the recorded game, a frame per position
        assert img.format == "GIF" and img.n_frames >= 6 and img.info["duration"] == 800
    assert set(out) == {"score_vs_random", "score_vs_lookahead", "score_vs_minimax-2", "score_vs_perfect",
                        "exploitable_positions", "exploitable_positions_vs_perfect"}
    assert out["exploitable_positions"] >= out["exploitable_positions_vs_perfect"] > 0  # an untrained network
    table = json.loads((tmp_path / "score.json").read_text())
    assert [r[0] for r in table["rows"]] == ["random", "lookahead", "minimax-2", "perfect"]
    record = (tmp_path / "game.txt").read_text()
    assert "learner plays" in record and record.rstrip().split("\n")[-1] in ("learner wins", "draw", "learner loses")


def _naive_planes(game, s):
    """Threat and playable planes of one state, by playing every empty cell with the games module's rules."""
    me, opp = game.mover_bits(s)
    planes = np.zeros((3, game.rows, game.cols), np.float32)
    stones = game.encode(s)
    for r in range(game.rows):
        for c in range(game.cols):
            if stones[0, r, c] or stones[1, r, c]:
                continue
            bit = 1 << int(game.cell_bits[r * game.cols + c])
            planes[0, r, c] = game.has_line(me | bit)
            planes[1, r, c] = game.has_line(opp | bit)
    legal = game.legal(s)
    for a in np.flatnonzero(legal):
        if game.num_actions == game.cols and game.rows > 1:  # gravity: the lowest empty cell of the column
            r = max(r for r in range(game.rows) if not (stones[0, r, a] or stones[1, r, a]))
            planes[2, r, a] = 1.0
        else:
            planes[2, a // game.cols, a % game.cols] = 1.0
    return planes


@pytest.mark.parametrize("game_name", ["tictactoe", "connect4", "connect4-5x4", "gomoku-6x6-4"])
def test_threat_planes_match_playing_every_cell(game_name):
    game = make_game(game_name)
    net = build_net(game, MaskedPPOConfig(hidden=8, features="threats"))
    rng = np.random.default_rng(0)
    states, found = [], 0
    for _ in range(40):  # random positions of every length, terminal ones excluded
        s = game.initial()
        for _ in range(int(rng.integers(0, game.rows * game.cols))):
            nxt = game.play(s, int(rng.choice(np.flatnonzero(game.legal(s)))))
            if game.is_terminal(nxt):
                break
            s = nxt
        states.append(s)
    x = torch.from_numpy(game.encode_batch(states))
    out = net.features(x).numpy()
    assert out.shape == (len(states), 6, game.rows, game.cols)
    assert np.array_equal(out[:, :3], x.numpy())
    for i, s in enumerate(states):
        ref = _naive_planes(game, s)
        assert np.array_equal(out[i, 3:], ref), (game_name, i)
        found += int(ref[:2].sum())
    assert found > 0  # the positions hold threats: the check is not vacuous


def test_threat_planes_round_trip_through_a_checkpoint_and_a_player(tmp_path):
    game = make_game("connect4")
    torch.manual_seed(2)
    net = build_net(game, MaskedPPOConfig(hidden=16, features="threats"))
    assert net.shape["features"] == "threats" and net.shape["k"] == 4 and net.shape["gravity"]
    assert "features" not in build_net(game, MaskedPPOConfig(hidden=16)).shape  # older checkpoints read the same
    path = _fake_run(tmp_path, state={"learner": net_state(net)}, game="connect4")
    player = load_player(path)
    states = [game.initial(), game.play(game.play(game.initial(), 3), 3)]
    assert np.array_equal(player.probabilities(game, states), PolicyPlayer(net).probabilities(game, states))


def test_explorer_mixes_the_masked_policy_with_uniform_legal_moves():
    """act() of an Explorer samples from (1 - eps) * masked softmax + eps * uniform over the legal moves: its
    log-probabilities equal that mixture computed by hand, illegal moves stay impossible, frequencies match."""
    from dlfrontier.rl.selfplay.ppo import Explorer, act

    game = make_game("tictactoe")
    torch.manual_seed(3)
    net = build_net(game, MaskedPPOConfig(hidden=16))
    with torch.no_grad():
        net.pi.bias[8] = 10.0  # a sharp policy (the corner 8 almost surely), so the mixture differs clearly
    s = game.play(game.play(game.initial(), 4), 0)
    obs, mask = game.encode_batch([s]), game.legal(s)[None]
    eps = 0.3
    logits = net(torch.from_numpy(obs))[0].detach().numpy().astype(np.float64)
    p = np.exp(_naive_log_probs(logits, mask))
    ref = (1 - eps) * p + eps * mask / mask.sum()
    n = 20_000
    obs_n, mask_n = np.repeat(obs, n, axis=0), np.repeat(mask, n, axis=0)
    a, logp, _ = act(Explorer(net, eps), obs_n, mask_n, np.random.default_rng(0))
    assert np.allclose(np.exp(logp), ref[0, a], atol=1e-6)
    assert mask[0, a].all()
    freq = np.bincount(a, minlength=game.num_actions) / n
    assert np.abs(freq - ref[0]).max() < 0.015
    plain, _, _ = act(net, obs_n[:2000], mask_n[:2000], np.random.default_rng(0))
    assert (plain == 8).mean() > 0.99 and 0.7 < (a == 8).mean() < 0.8
    with pytest.raises(ValueError, match="epsilon"):
        Explorer(net, 0.0)


def test_explored_games_train_only_the_learners_seat():
    """With explore_fraction, the explorer's seat of those games is not training data and not a pool opponent."""
    from dlfrontier.errors import ConfigError
    from dlfrontier.rl.selfplay.ppo import Explorer
    from dlfrontier.rl.selfplay.training import Learner, SelfPlayConfig

    game = make_game("tictactoe")
    cfg = SelfPlayConfig(games_per_update=40, explore_fraction=0.5, explore_epsilon=1.0)
    torch.manual_seed(0)
    learner = Learner(game, cfg)
    stats, score, opp = learner.update(np.random.default_rng(0))
    assert 0.5 < stats["selfplay/score_vs_explorer"] <= 1.0  # against uniformly random moves
    assert (opp == -1).all() and np.isnan(score).all()
    # the same rollout by hand: 20 games with the explorer in seat 1 of even games and 0 of odd, 20 of self-play
    torch.manual_seed(0)
    again = Learner(game, cfg)
    roles = -np.ones((40, 2), np.int64)
    roles[np.arange(20), 1 - np.arange(20) % 2] = 0
    ro = play_rollout(game, again.net, [Explorer(again.net, 1.0)], roles, np.random.default_rng(0))
    n = ro.lengths
    learner_moves = sum((n[i] + 1) // 2 if i % 2 == 0 else n[i] // 2 for i in range(20)) + n[20:].sum()
    assert learner.steps == len(ro.actions) == learner_moves < n.sum()
    with pytest.raises(ConfigError, match="explore_fraction"):
        SelfPlayConfig(opponents="pool", self_play_fraction=0.25, explore_fraction=0.5)


def test_random_openings_are_played_but_not_trained_on():
    """Games with an opening start with that many random legal moves; only the moves after it are training data
    (both seats in self-play), and the openings spread the first moves over the board."""
    game = make_game("tictactoe")
    torch.manual_seed(0)
    net = build_net(game, MaskedPPOConfig(hidden=16))
    with torch.no_grad():
        net.pi.bias[4] = 10.0  # the untrained net's favourite first move: the centre
    n = 400
    opening = np.where(np.arange(n) < n // 2, np.arange(n) % 3, 0)  # 0, 1 or 2 random moves in the first half
    ro = play_rollout(game, net, [], -np.ones((n, 2), np.int64), np.random.default_rng(0), opening=opening)
    assert len(ro.actions) == (ro.lengths - opening).sum()
    assert ro.mask[np.arange(len(ro.actions)), ro.actions].all()
    plain = play_rollout(game, net, [], -np.ones((n, 2), np.int64), np.random.default_rng(0))
    assert len(plain.actions) == plain.lengths.sum()
    first = ro.obs[:, :2].reshape(len(ro.obs), -1).sum(1) == 0  # positions with an empty board
    assert first.sum() == (opening == 0).sum() and (ro.actions[first] == 4).mean() > 0.95
    # positions after a one-move opening: the learner (second to move) answers every one of the 9 first moves
    one = ro.obs[:, :2].reshape(len(ro.obs), -1).sum(1) == 1
    stones = ro.obs[one, :2].reshape(one.sum(), -1).sum(0)
    assert (stones[:9] + stones[9:] > 0).all()

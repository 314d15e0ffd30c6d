"""The Gumbel-vs-PUCT run: four agents, the differences, and resume between agents."""

import json
from pathlib import Path

import pytest
import torch

from dlfrontier import tracking
from dlfrontier.cli import main
from dlfrontier.experiments.runner import run_one
from dlfrontier.games import make_game, make_player
from dlfrontier.rl.search.compare import GumbelVsPuctConfig, agent_config, gumbel_vs_puct
from dlfrontier.rl.search.evaluation import SearchAgent, batched_match
from dlfrontier.rl.search.mcts import SearchConfig
from dlfrontier.rl.search.network import network_from_state
from dlfrontier.rl.search.training import AlphaZeroConfig, eval_search
from dlfrontier.runtime import RunContext, seed_everything


class Log:
    def __init__(self):
        self.rows = []

    def log(self, metrics, step):
        self.rows.append((step, dict(metrics)))


def _cfg():
    base = AlphaZeroConfig(game="tictactoe", iterations=1, games_per_iteration=8, train_steps=3, channels=8, blocks=1,
                           eval_games=2, final_games=4, final_positions=30, search=SearchConfig(simulations=2))
    return GumbelVsPuctConfig(base=base, simulations=(2, 3), opponent="random")


@pytest.mark.slow
def test_four_agents_and_resume_between_them(tmp_path: Path):
    saved = []
    seed_everything(0)
    ctx = RunContext("t", 0, "quick", "cpu", tmp_path, Log(), checkpoint_hook=lambda s, st: saved.append(s))
    out = gumbel_vs_puct(ctx, _cfg())
    for name in ("puct_s2", "gumbel_s2", "puct_s3", "gumbel_s3"):
        assert 0 <= out[f"eval/score_{name}"] <= 1 and 0 <= out[f"eval/mistake_rate_{name}"] <= 1
        assert any(f"{name}/eval/score_vs_random" in m for _, m in ctx.logger.rows)  # each agent's own curve
    assert out["eval/gumbel_minus_puct"] == pytest.approx(min(out["eval/gumbel_minus_puct_s2"],
                                                              out["eval/gumbel_minus_puct_s3"]))
    # resume after the second agent: the first two results come from the checkpoint, the rest are trained
    after_two = next(s for s in saved if s["part"] == 2)
    path = tmp_path / "ck.pt"
    tracking.save_checkpoint(path, after_two)
    ctx2 = RunContext("t", 0, "quick", "cpu", tmp_path, Log(), resume_state=torch.load(path, weights_only=True),
                      checkpoint_hook=lambda s, st: None)
    out2 = gumbel_vs_puct(ctx2, _cfg())
    assert out2["eval/score_puct_s2"] == out["eval/score_puct_s2"]
    assert not any("puct_s2/" in k for _, m in ctx2.logger.rows for k in m)  # not trained again
    assert any("gumbel_s3/" in k for _, m in ctx2.logger.rows for k in m)


@pytest.mark.slow
def test_the_checkpoint_keeps_each_agents_scored_network(tmp_path: Path):
    saved = []
    seed_everything(0)
    ctx = RunContext("t", 0, "quick", "cpu", tmp_path, Log(), checkpoint_hook=lambda s, st: saved.append(s))
    cfg = _cfg()
    out = gumbel_vs_puct(ctx, cfg)
    nets = saved[-1]["nets"]
    assert sorted(nets) == ["gumbel_s2", "gumbel_s3", "puct_s2", "puct_s3"]
    game = make_game("tictactoe")
    for algo, n in (("puct", 2), ("gumbel", 2), ("puct", 3), ("gumbel", 3)):
        # the kept network replays the agent's final match move for move: the same score as the run measured
        agent = SearchAgent(game, network_from_state(nets[f"{algo}_s{n}"]), eval_search(agent_config(cfg, algo, n)))
        res = batched_match(game, agent, make_player("random"), cfg.base.final_games, seed=(10_000 + 0) * 1000)
        assert res.score == out[f"eval/score_{algo}_s{n}"]
    # resumed after the second agent: the first two networks come through the checkpoint unchanged
    after_two = next(s for s in saved if s["part"] == 2)
    path = tmp_path / "ck.pt"
    tracking.save_checkpoint(path, after_two)
    resumed = []
    ctx2 = RunContext("t", 0, "quick", "cpu", tmp_path, Log(), resume_state=torch.load(path, weights_only=True),
                      checkpoint_hook=lambda s, st: resumed.append(s))
    gumbel_vs_puct(ctx2, cfg)
    for name in ("puct_s2", "gumbel_s2"):
        for k, v in nets[name]["weights"].items():
            assert torch.equal(resumed[-1]["nets"][name]["weights"][k], v)
    assert sorted(resumed[-1]["nets"]) == sorted(nets)


@pytest.mark.slow
def test_eval_replays_every_agent_of_a_comparison_run(tmp_path: Path, monkeypatch, capsys):
    over = {"base.game": "tictactoe", "base.iterations": "1", "base.games_per_iteration": "8",
            "base.train_steps": "3", "base.channels": "8", "base.blocks": "1", "base.eval_games": "2",
            "base.final_games": "4", "base.final_positions": "30", "simulations": "2", "opponent": "random"}
    s = run_one("gumbel-vs-puct-connect4-small", 0, out=tmp_path / "runs", device="cpu", overrides=over,
                tensorboard=False)
    assert s["status"] == "done"
    run = next((tmp_path / "runs" / "gumbel-vs-puct-connect4-small").iterdir())
    monkeypatch.chdir(tmp_path)
    assert main(["eval", str(run), "--episodes", "4", "--out-dir", str(tmp_path / "ev"), "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "puct_s2 vs random" in text and "gumbel_s2 vs random" in text
    table = json.loads(next((tmp_path / "ev").rglob("score.json")).read_text())
    assert [r[0] for r in table["rows"]] == ["puct_s2", "gumbel_s2"]
    assert all(r[1] + r[2] + r[3] == 4 for r in table["rows"])


def test_eval_of_a_run_without_kept_networks_is_one_line():
    from types import SimpleNamespace

    from dlfrontier.errors import CheckpointError
    from dlfrontier.rl.search.compare import evaluate_comparison

    loaded = SimpleNamespace(config=_cfg(), state={"part": 4, "results": {}, "inner": {}},
                             experiment="gumbel-vs-puct-connect4-small", seed=0)
    with pytest.raises(CheckpointError, match="keeps no agent network"):
        evaluate_comparison(loaded, episodes=2)


def test_eval_of_an_alphazero_run_writes_the_game_as_a_gif(tmp_path: Path, monkeypatch, capsys):
    from PIL import Image

    over = {"iterations": "1", "games_per_iteration": "8", "train_steps": "3", "channels": "8", "blocks": "1",
            "eval_games": "2", "final_games": "4", "final_positions": "30"}
    s = run_one("alphazero-tictactoe", 0, out=tmp_path / "runs", device="cpu", overrides=over, tensorboard=False)
    assert s["status"] == "done"
    run = next((tmp_path / "runs" / "alphazero-tictactoe").iterdir())
    monkeypatch.chdir(tmp_path)
    assert main(["eval", str(run), "--episodes", "2", "--gif", "game.gif", "--out-dir", str(tmp_path / "ev"),
                 "--device", "cpu"]) == 0
    assert "wrote game.gif" in capsys.readouterr().out
    record = next((tmp_path / "ev").rglob("game.txt")).read_text()
    assert record.rstrip().split("\n")[-1] in ("agent wins", "draw", "agent loses")
    with Image.open(tmp_path / "game.gif") as img:
        assert img.format == "GIF" and img.n_frames >= 6  # a frame per position of the recorded game

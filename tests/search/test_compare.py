"""The Gumbel-vs-PUCT run: four agents, the differences, and resume between agents."""

from pathlib import Path

import pytest
import torch

from dlfrontier import tracking
from dlfrontier.rl.search.compare import GumbelVsPuctConfig, gumbel_vs_puct
from dlfrontier.rl.search.mcts import SearchConfig
from dlfrontier.rl.search.training import AlphaZeroConfig
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

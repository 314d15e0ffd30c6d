"""Pool vs naive in one run (smoke: both trained to the same moves, one rating fit) and the league-lite exploiter."""

import json

import numpy as np
import pytest
import torch

from dlfrontier.rl.selfplay.compare import PoolVsNaiveConfig, pool_vs_naive
from dlfrontier.rl.selfplay.ppo import MaskedPPOConfig
from dlfrontier.rl.selfplay.training import Learner, SelfPlayConfig, train_round
from dlfrontier.runtime import RunContext


class _Log:
    def __init__(self):
        self.rows = []

    def log(self, metrics, step):
        self.rows.append((step, dict(metrics)))


def _small(**kw):
    return SelfPlayConfig(game="tictactoe", games_per_update=64, algo=MaskedPPOConfig(hidden=32, n_epochs=1),
                          **kw)


@pytest.mark.slow
def test_pool_vs_naive_trains_both_and_rates_them_in_one_round_robin(tmp_path):
    torch.manual_seed(0)
    cfg = PoolVsNaiveConfig(base=_small(total_steps=4_000, eval_every=2_000, eval_games=10, snapshot_every=2),
                            anchors=("random", "lookahead"), rating_games=6, bootstrap=5)
    saved = []
    ctx = RunContext("t", 0, "quick", "cpu", tmp_path, _Log(), checkpoint_hook=lambda s, step: saved.append(s))
    out = pool_vs_naive(ctx, cfg)
    assert np.isclose(out["eval/elo_pool_minus_naive"], out["eval/elo_pool"] - out["eval/elo_naive"])
    assert out["eval/elo_random"] == 0.0
    last = saved[-1]
    steps = [last[s]["steps"] for s in ("pool", "naive")]
    assert min(steps) >= 4_000 and abs(steps[0] - steps[1]) < 64 * 9  # within one rollout of each other
    assert len(last["pool"]["pool"]["names"]) > 1 and len(last["naive"]["pool"]["names"]) == 0
    table = json.loads((tmp_path / "tables" / "ratings.json").read_text())
    names = [r[0] for r in table["rows"]]
    assert {"random", "lookahead", "pool@0", "naive@0"} <= set(names)
    assert any(k.startswith("pool/rating/elo") for _, m in ctx.logger.rows for k in m)
    # the resume state continues: the run is finished, so a resumed run only re-rates
    ctx2 = RunContext("t", 0, "quick", "cpu", tmp_path, _Log(), resume_state=last, checkpoint_hook=lambda s, t: None)
    out2 = pool_vs_naive(ctx2, cfg)
    assert set(out2) == set(out)


def test_league_lite_exploiter_trains_against_main_and_joins_its_pool():
    torch.manual_seed(0)
    from dlfrontier.games import make_game

    cfg = _small(opponents="pool", exploiter=True, snapshot_every=2)
    game = make_game("tictactoe")
    main, exploiter = Learner(game, cfg), Learner(game, cfg)
    main.snapshot("main@0")
    rng = np.random.default_rng(0)
    before = {k: v.clone() for k, v in exploiter.net.state_dict().items()}
    for _ in range(2):
        stats = train_round(main, exploiter, rng)
    assert "exploiter/win_rate_vs_main" in stats
    assert exploiter.steps > 0 and any(not torch.equal(before[k], v) for k, v in exploiter.net.state_dict().items())
    assert any(n.startswith("exploiter@") for n in main.pool.names)


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path):
    """Interrupted right after its first checkpoint, a pool run resumes from the state the runner saved (loaded with
    weights_only=True): it continues from those steps with that pool and those rated games, and finishes."""
    import io

    from dlfrontier.rl.selfplay.training import train_selfplay

    cfg = SelfPlayConfig(game="tictactoe", total_steps=30_000, eval_every=10_000, eval_games=10, final_games=10,
                         games_per_update=64, opponents="pool", snapshot_every=2, pool_capacity=200,
                         eval_opponents=("random",), final_opponents=("random",), opening_fraction=0.5,
                         algo=MaskedPPOConfig(hidden=32))

    class Log:
        def __init__(self):
            self.rows = []

        def log(self, metrics, step):
            self.rows.append((step, dict(metrics)))

    saved = []

    def interrupt(state, step):
        buf = io.BytesIO()
        torch.save(state, buf)
        saved.append((step, buf.getvalue()))
        raise KeyboardInterrupt

    torch.manual_seed(0)
    first = RunContext("t", 0, "quick", "cpu", tmp_path, Log(), checkpoint_hook=interrupt)
    with pytest.raises(KeyboardInterrupt):
        train_selfplay(first, cfg)
    step, blob = saved[0]
    state = torch.load(io.BytesIO(blob), weights_only=True)
    assert 10_000 <= step == state["learner_state"]["steps"] < cfg.total_steps
    pool = state["learner_state"]["pool"]["names"]
    assert len(pool) > 1

    later = []
    second = RunContext("t", 0, "quick", "cpu", tmp_path, Log(), resume_state=state,
                        checkpoint_hook=lambda s, k: later.append((k, s)))
    out = train_selfplay(second, cfg)
    assert out["train/steps"] >= cfg.total_steps
    assert [k for k, _ in later][0] > step  # it went on from the checkpoint, not from 0
    assert all(s > step for s, _ in second.logger.rows)  # no step-0 rating again
    final_pool = later[-1][1]["learner_state"]["pool"]["names"]
    assert final_pool[:len(pool)] == pool  # the restored pool carried on (nothing dropped)
    players = json.loads((tmp_path / "tables" / "results.json").read_text())["columns"]
    assert f"step {step}" in players and "step 0" in players  # the rated games before the interruption kept

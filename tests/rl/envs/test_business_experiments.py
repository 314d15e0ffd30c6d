"""The three business experiments end to end at a tiny budget: run folder, metrics, step-0 point, table, plots."""

from __future__ import annotations

import json
import math

import pytest

from dlfrontier.experiments import EXPERIMENTS
from dlfrontier.experiments.base import criteria_problems
from dlfrontier.experiments.config import plain_string_fields
from dlfrontier.experiments.runner import load_run, run_one
from dlfrontier.tracking import RunDir
from tests.helpers import InterruptAt, only_run

TINY = {"total_steps": "256", "eval_every": "128", "fit_episodes": "1", "eval_episodes": "2",
        "algo.n_envs": "2", "algo.n_steps": "64", "algo.batch_size": "64", "algo.n_epochs": "1"}

CASES = {
    "ppo-inventory": ["base_stock", "s_S", "random"],
    "ppo-portfolio": ["equal_weight", "buy_and_hold", "markowitz", "random"],
    "ppo-dispatch": ["greedy", "greedy_hotspots", "random"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_declaration_is_honest_and_typed(name: str) -> None:
    exp = EXPERIMENTS.get(name)
    assert criteria_problems(exp) == []
    assert plain_string_fields(exp.config) == []
    cfg = exp.make_config("quick", {"algo.gamma": "0.9"})
    assert cfg.algo.gamma == 0.9 and cfg.algo.n_envs == 8  # the algorithm's config is nested


@pytest.mark.parametrize("name", sorted(CASES))
def test_tiny_run_writes_comparison(name: str, tmp_path) -> None:
    summary = run_one(name, 0, overrides=TINY, out=tmp_path, tensorboard=False, device="cpu")
    assert summary["status"] == "done"
    m = summary["metrics"]
    crit = EXPERIMENTS.get(name).criterion("quick")
    assert crit.metric in m and math.isfinite(m[crit.metric])
    for policy in CASES[name]:
        assert f"eval/{policy}/return" in m
    run_dir = only_run(tmp_path, name)
    logged = RunDir(run_dir).metrics()
    # evaluation points: the untrained policy at step 0, then every eval_every steps and the end
    assert [s for s, _ in logged[crit.metric]][:3] == [0, 128, 256]
    assert "rollout/return" in logged and "train/policy_loss" in logged
    table = json.loads((run_dir / "tables" / "policies.json").read_text())
    assert [r[0].split(" ")[0] for r in table["rows"]] == ["ppo", *CASES[name]]
    assert all(len(r) == len(table["columns"]) for r in table["rows"])
    assert (run_dir / "learning_curve.png").stat().st_size > 1000
    assert (run_dir / "episode_trace.png").stat().st_size > 1000


@pytest.mark.parametrize(("name", "mode"), [("ppo-portfolio", "weights"), ("ppo-dispatch", "policy")])
def test_tiny_run_continuous_action_mode(name: str, mode: str, tmp_path) -> None:
    """The default is PPO over template actions; the continuous action (Gaussian policy) still runs."""
    summary = run_one(name, 0, overrides={**TINY, "action_mode": mode}, out=tmp_path, tensorboard=False,
                      device="cpu")
    assert summary["status"] == "done"
    assert math.isfinite(summary["metrics"]["eval/return"])
    assert load_run(only_run(tmp_path, name)).config.action_mode == mode


def test_unknown_action_mode_is_refused(tmp_path) -> None:
    from dlfrontier import ConfigError

    with pytest.raises(ConfigError):
        run_one("ppo-portfolio", 0, overrides={**TINY, "action_mode": "policy"}, out=tmp_path, tensorboard=False)
    assert not (tmp_path / "ppo-portfolio").exists()


def test_interrupt_then_resume_continues_the_run(tmp_path) -> None:
    """Resume continues from the last checkpoint in the same folder, with the same evaluation points. It is not
    bit-exact: PPO restarts its training envs' episodes on resume (their state is not checkpointed), so the
    points after the checkpoint differ from an uninterrupted run's."""
    full = run_one("ppo-dispatch", 0, overrides=TINY, out=tmp_path / "full", tensorboard=False, device="cpu")
    out = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):  # stops at the step-256 point, before its checkpoint: resumes from 128
        run_one("ppo-dispatch", 0, overrides=TINY, out=out, progress=InterruptAt(256), tensorboard=False,
                device="cpu")
    resumed = run_one("ppo-dispatch", 0, overrides=TINY, out=out, resume=True, tensorboard=False, device="cpu")
    assert resumed["status"] == "done" and set(resumed["metrics"]) == set(full["metrics"])
    cut = RunDir(only_run(out, "ppo-dispatch")).metrics()["eval/return"]
    ref = RunDir(only_run(tmp_path / "full", "ppo-dispatch")).metrics()["eval/return"]
    assert [s for s, _ in cut] == [s for s, _ in ref] == [0, 128, 256]
    assert cut[:2] == ref[:2]  # the points before the checkpoint are kept, not logged twice

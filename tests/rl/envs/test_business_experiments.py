"""The three business experiments end to end at a tiny budget: run folder, metrics, table and plots."""

from __future__ import annotations

import json
import math

import pytest

from dlfrontier.experiments import EXPERIMENTS
from dlfrontier.experiments.runner import run_one

TINY = {"total_steps": "256", "n_envs": "2", "n_steps": "64", "batch_size": "64", "n_epochs": "1",
        "fit_episodes": "1", "eval_episodes": "2", "log_every": "128"}

CASES = {
    "ppo-inventory": ["base_stock", "s_S", "random"],
    "ppo-portfolio": ["equal_weight", "buy_and_hold", "markowitz", "random"],
    "ppo-dispatch": ["greedy", "greedy_hotspots", "random"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_tiny_run_writes_comparison(name: str, tmp_path) -> None:
    summary = run_one(name, 0, overrides=TINY, out=tmp_path, tensorboard=False, device="cpu")
    assert summary["status"] == "done"
    m = summary["metrics"]
    crit = EXPERIMENTS.get(name).criterion("quick")
    assert crit.metric in m and math.isfinite(m[crit.metric])
    for policy in CASES[name]:
        assert f"eval/{policy}/return" in m
    (run_dir,) = (tmp_path / name).iterdir()
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
    (run_dir,) = (tmp_path / name).iterdir()
    assert json.loads((run_dir / "config.json").read_text())["config"]["action_mode"] == mode

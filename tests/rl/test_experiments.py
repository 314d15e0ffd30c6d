"""The RL experiments: registered with their metadata, run-folder contract, interrupt and resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlfrontier import ConfigError
from dlfrontier.experiments import EXPERIMENTS
from dlfrontier.experiments.runner import run_one
from dlfrontier.tracking import read_metrics
from tests.helpers import InterruptAt

NAMES = [
    "dqn-cartpole", "reinforce-cartpole", "a2c-cartpole", "ppo-cartpole", "ppo-pendulum", "sac-pendulum", "dqn-acrobot",
]
TINY = {
    "dqn-cartpole": {"total_steps": "600", "eval_every": "200", "algo.learning_starts": "100", "algo.train_freq": "50",
                     "algo.gradient_steps": "4", "algo.hidden": "16", "eval_episodes": "2"},
    "sac-pendulum": {"total_steps": "400", "eval_every": "200", "algo.learning_starts": "100", "algo.batch_size": "32",
                     "algo.hidden": "16", "eval_episodes": "1"},
    "ppo-pendulum": {"total_steps": "1024", "eval_every": "512", "algo.n_envs": "2", "algo.n_steps": "256",
                     "algo.n_epochs": "1", "eval_episodes": "1"},
}


def test_all_rl_experiments_registered_with_eval_return_criteria():
    for name in NAMES:
        exp = EXPERIMENTS.get(name)
        assert exp.group == "rl" and exp.curve == "eval/return"
        assert exp.criterion("quick").metric == "eval/return" and exp.anchor.metric == "eval/return"
        assert exp.criterion("full").threshold >= exp.criterion("quick").threshold
        quick = exp.make_config("quick")
        assert quick.total_steps <= 200_000 and quick.eval_every <= quick.total_steps
    assert EXPERIMENTS.get("dqn-cartpole").demo


def test_the_algorithm_config_nests_and_typed_options_are_checked():
    exp = EXPERIMENTS.get("dqn-acrobot")
    assert exp.make_config("quick").algo.gradient_steps == 1 and exp.make_config("full").algo.gradient_steps == 4
    cfg = exp.make_config("quick", {"algo.learning_rate": "1e-4", "algo.max_grad_norm": "none"})
    assert cfg.algo.learning_rate == 1e-4 and cfg.algo.max_grad_norm is None and cfg.algo.double
    with pytest.raises(ConfigError, match="activation"):
        exp.make_config("quick", {"algo.activation": "relux"})
    with pytest.raises(ConfigError, match="max_grad_norm"):
        exp.make_config("quick", {"algo.max_grad_norm": "0"})  # None, not 0, turns clipping off


@pytest.mark.parametrize("name", sorted(TINY))
def test_run_folder_logs_the_rl_metrics(name: str, runs_dir: Path):
    s = run_one(name, 0, out=runs_dir, device="cpu", overrides=TINY[name], tensorboard=False)
    assert s["status"] == "done"
    assert {"eval/return", "rollout/return", "time/sps", "time/train_seconds"} <= set(s["metrics"])
    run = next((runs_dir / name).glob("0-*"))
    metrics = read_metrics(run)
    assert {"eval/return", "eval/return_std", "rollout/return", "time/sps"} <= set(metrics)
    assert any(k.startswith("train/") for k in metrics)
    steps = [step for step, _ in metrics["eval/return"]]
    assert steps[0] == 0 and steps[-1] >= int(TINY[name]["total_steps"]) and len(steps) >= 3  # step 0: untrained


def test_interrupted_dqn_run_resumes_from_its_eval_checkpoint(runs_dir: Path):
    with pytest.raises(KeyboardInterrupt):
        run_one("dqn-cartpole", 1, out=runs_dir, device="cpu", overrides=TINY["dqn-cartpole"], tensorboard=False,
                progress=InterruptAt(400))
    run = next((runs_dir / "dqn-cartpole").glob("1-*"))
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
    s = run_one("dqn-cartpole", 1, out=runs_dir, device="cpu", overrides=TINY["dqn-cartpole"], tensorboard=False,
                resume=True)
    assert s["status"] == "done"
    steps = [step for step, _ in read_metrics(run)["eval/return"]]
    assert steps == [0, 200, 400, 600]  # continued from the step-400 checkpoint, nothing repeated or lost

"""Run folders from strangers: checkpoints never run code, reports never leave their folder or carry raw HTML."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch

from dlfrontier import cli
from dlfrontier.errors import CheckpointError
from dlfrontier.experiments import EXPERIMENTS
from dlfrontier.experiments.base import Anchor, Baseline, Budget, Expect, Experiment, register
from dlfrontier.experiments.runner import load_run, plan_run, run_one
from dlfrontier.report import write_report
from dlfrontier.tracking import atomic_write_text, load_checkpoint, save_checkpoint
from tests.experiments.toy import ToyConfig, toy_run
from tests.helpers import only_run

EVALUATED: list = []


def _toy_evaluate(loaded, **kwargs):
    EVALUATED.append(loaded)


if "toy-eval" not in EXPERIMENTS:  # the toy experiment with an evaluator, so that `dlfrontier eval` loads it
    register(Experiment(
        name="toy-eval", group="compression", summary="test-only linear regression with an evaluator",
        topic="tests", config=ToyConfig, run=toy_run,
        budgets={"quick": Budget({}, Expect("eval/mse", "<=", 1.0)),
                 "full": Budget({"steps": 200}, Expect("eval/mse", "<=", 0.5))},
        anchor=Anchor("eval/mse", 0.0, "exact solution", higher_is_better=False),
        baseline=Baseline(15.0, "an untrained linear model"), evaluate=_toy_evaluate,
    ))


class Payload:
    """Unpickling this creates ``marker``: what a crafted checkpoint would do with a shell command instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _crafted_run(tmp_path: Path, status: str = "done") -> tuple[Path, Path]:
    runs = tmp_path / "runs"
    run_one("toy-eval", 0, out=runs, tensorboard=False)
    run = only_run(runs, "toy-eval")
    marker = tmp_path / "pwned"
    torch.save({"experiment": "toy-eval", "seed": 0, "step": 10, "metrics_rows": 3, "wall_seconds": 0.0,
                "user": {"model": Payload(marker)}}, run / "checkpoint.pt")
    if status != "done":
        summary = json.loads((run / "summary.json").read_text())
        summary["status"] = status
        (run / "summary.json").write_text(json.dumps(summary))
    return run, marker


def _one_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_crafted_checkpoint_does_not_run_on_eval(tmp_path, capsys):
    run, marker = _crafted_run(tmp_path)
    EVALUATED.clear()
    assert cli.main(["eval", str(run), "--device", "cpu"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "could run code" in line and str(run / "checkpoint.pt") in line
    assert not marker.exists() and not EVALUATED
    with pytest.raises(CheckpointError, match="could run code"):
        load_run(run)
    assert not marker.exists()
    # there is no opt-in: an old flag is an argument error, and nothing is unpickled
    with pytest.raises(SystemExit):
        cli.main(["eval", str(run), "--device", "cpu", "--trust-checkpoint"])
    assert not marker.exists() and not EVALUATED


def test_crafted_checkpoint_does_not_run_on_resume(tmp_path, capsys):
    run, marker = _crafted_run(tmp_path, status="interrupted")
    rc = cli.main(["run", "toy-eval", "--out", str(tmp_path / "runs"), "--resume", "--device", "cpu"])
    assert rc == 2
    line = _one_line(capsys.readouterr().err)
    assert "could run code" in line and not marker.exists()
    with pytest.raises(CheckpointError, match="could run code"):
        plan_run("toy-eval", 0, out=tmp_path / "runs", resume=True)
    assert not marker.exists()


def test_crafted_agent_file_does_not_run(tmp_path):
    from dlfrontier.rl import PPO

    marker = tmp_path / "pwned"
    torch.save({"algo": "ppo", "config": Payload(marker)}, tmp_path / "agent.pt")
    with pytest.raises(CheckpointError, match="could run code"):
        PPO.load(tmp_path / "agent.pt")
    assert not marker.exists()


def test_checkpoints_with_rng_states_and_numpy_arrays_load_safely(tmp_path):
    """What the experiments store (RNG states, replay arrays, numpy scalars) loads with weights_only=True."""
    import random

    from dlfrontier.runtime import rng_state

    state = {"rng": rng_state(), "buffer": {"obs": np.arange(12, dtype=np.uint8).reshape(3, 4),
                                            "rewards": np.ones(3, np.float32), "tree": np.zeros(7)},
             "scalar": np.float32(0.5), "count": np.int64(3), "pcg": np.random.default_rng(1).bit_generator.state,
             "tuple": (1, 2.0, "x"), "none": None}
    save_checkpoint(tmp_path / "c.pt", state)
    back = load_checkpoint(tmp_path / "c.pt")
    np.testing.assert_array_equal(back["buffer"]["obs"], state["buffer"]["obs"])
    assert back["buffer"]["obs"].dtype == np.uint8 and back["scalar"].dtype == np.float32
    assert back["pcg"] == state["pcg"] and back["tuple"] == (1, 2.0, "x")
    random.seed(5)
    np.random.seed(5)
    from dlfrontier.runtime import set_rng_state

    set_rng_state(back["rng"])
    assert np.random.get_state()[1].tolist() == state["rng"]["numpy"][1].tolist()


def test_saving_a_state_the_safe_loader_refuses_is_an_error_at_save_time(tmp_path):
    from collections import deque

    with pytest.raises(CheckpointError, match="deque"):
        save_checkpoint(tmp_path / "c.pt", {"queue": deque([1, 2])})
    assert not (tmp_path / "c.pt").exists()


def test_rl_agent_checkpoints_round_trip_safely(tmp_path):
    """DQN with its replay buffer, SAC with its buffer, PPO, and the Atari frame buffer: saved and reloaded."""
    from dlfrontier.rl import DQN, PPO, SAC
    from dlfrontier.rl.atari.buffer import FrameReplayBuffer

    for cls, env, kw in [(DQN, "CartPole-v1", {"learning_starts": 50, "buffer_size": 500}),
                         (PPO, "CartPole-v1", {"n_steps": 64}),
                         (SAC, "Pendulum-v1", {"learning_starts": 50, "batch_size": 16, "buffer_size": 500})]:
        agent = cls(env, seed=0, **kw).learn(80)
        path = agent.save(tmp_path / f"{cls.name}.pt", include_buffer=True)
        back = cls.load(path)
        assert back.num_steps == agent.num_steps
        save_checkpoint(tmp_path / "ck.pt", {"agent": agent.state_dict(include_buffer=True)})
        assert load_checkpoint(tmp_path / "ck.pt")["agent"]["num_steps"] == agent.num_steps
    buf = FrameReplayBuffer(32, (4, 10, 10), np.uint8, (), np.int64)
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 255, (4, 10, 10), dtype=np.uint8)
    for i in range(20):
        nxt = np.concatenate([obs[1:], rng.integers(0, 255, (1, 10, 10), dtype=np.uint8)])
        buf.add(obs, i % 3, 1.0, nxt, i % 7 == 6, 0.99)
        obs = nxt
    save_checkpoint(tmp_path / "atari.pt", {"buffer": buf.state_dict()})
    state = load_checkpoint(tmp_path / "atari.pt")["buffer"]
    np.testing.assert_array_equal(state["frames"], buf.state_dict()["frames"])


# ----------------------------------------------------------------------------------------------- report


def _fake_run(root: Path, folder: str, summary: dict) -> Path:
    run = root / folder
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "metrics.csv").write_text("step,key,value\n0,eval/mse,3.0\n10,eval/mse,1.0\n")
    return run


def _summary(experiment: str, **extra) -> dict:
    s = {"experiment": experiment, "seed": 0, "budget": "quick", "status": "done", "metrics": {"eval/mse": 0.5},
         "expect": {"metric": "eval/mse", "op": "<=", "threshold": 1.0, "passed": True},
         "anchor": {"metric": "eval/mse", "value": 0.0, "source": "exact"}, "curve": "eval/mse"}
    s.update(extra)
    return s


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def test_report_never_writes_outside_its_output_folder(tmp_path, capsys):
    runs = tmp_path / "a" / "b" / "runs"
    _fake_run(runs, "x/0-1", _summary("../../../../escaped"))
    _fake_run(runs, "y/0-1", _summary("sub/dir"))
    _fake_run(runs, "z/0-1", _summary("ok", budget="../../../quick"))
    _fake_run(runs, "ok/0-1", _summary("ok"))
    out = tmp_path / "a" / "b" / "out"
    before = _files(tmp_path)
    write_report(runs, out / "r.html", out / "r.md")
    new = _files(tmp_path) - before
    assert new and all(p == out or out in p.parents for p in new), sorted(new)
    err = capsys.readouterr().err
    assert "escaped" in err and "sub/dir" in err  # skipped with a warning each


def test_report_does_not_follow_symlinks(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:SECRET-CONTENT\n")
    outside = tmp_path / "elsewhere"
    _fake_run(outside, "0-1", _summary("linked"))
    runs = tmp_path / "runs"
    run = _fake_run(runs, "ok/0-1", _summary("ok"))
    (run / "leak.png").symlink_to(secret)
    (run / "tables").mkdir()
    (run / "tables" / "t.json").symlink_to(secret)
    (tmp_path / "tab.json").write_text(json.dumps({"title": "LEAKED TABLE", "columns": ["a"], "rows": [["b"]]}))
    (run / "tables" / "u.json").symlink_to(tmp_path / "tab.json")
    (runs / "linked").mkdir()
    (runs / "linked" / "0-1").symlink_to(outside / "0-1", target_is_directory=True)
    html_path, md_path, results = write_report(runs, tmp_path / "out" / "r.html", tmp_path / "out" / "r.md")
    page, md = html_path.read_text(), md_path.read_text()
    assert [r.experiment for r in results] == ["ok"]
    for text in (page, md):
        assert "SECRET" not in text and "LEAKED" not in text and "leak" not in text
    assert base64.b64encode(secret.read_bytes()).decode()[:20] not in page
    assert not any("leak" in p.name for p in (tmp_path / "out").rglob("*"))


def test_markdown_escapes_html_from_summaries(tmp_path):
    runs = tmp_path / "runs"
    run = _fake_run(runs, "ok/0-1", _summary(
        "ok", anchor={"metric": "eval/mse", "value": 0.0, "source": "<script>alert(1)</script>"},
        expect={"metric": "<img src=x onerror=alert(1)>", "op": "<=", "threshold": 1.0, "passed": True}))
    (run / "tables").mkdir()
    (run / "tables" / "t.json").write_text(json.dumps({"title": "<script>t()</script>", "columns": ["<b>c</b>"],
                                                         "rows": [["<img src=y onerror=z()>"]]}))
    html_path, md_path, _ = write_report(runs, tmp_path / "r.html", tmp_path / "r.md")
    for text in (md_path.read_text(), html_path.read_text()):
        assert "<script" not in text and "<img src=x" not in text and "<img src=y" not in text and "<b>" not in text
    assert "&lt;script>alert(1)&lt;/script>" in md_path.read_text()


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "f.txt", "x")
        save_checkpoint(tmp_path / "c.pt", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "c.pt").stat().st_mode) == mode

"""`dlfrontier eval` for every RL experiment that trains an agent: replay, score, GIF, nothing into the run folder."""

import hashlib
import sys
from pathlib import Path

import pytest

from dlfrontier.cli import main
from dlfrontier.experiments import EXPERIMENTS
from dlfrontier.experiments.runner import run_one

TINY = {
    "dqn-cartpole": {"total_steps": "200", "eval_every": "200", "eval_episodes": "1", "algo.learning_starts": "50"},
    "ppo-cartpole": {"total_steps": "128", "eval_every": "128", "eval_episodes": "1", "algo.n_envs": "2",
                     "algo.n_steps": "64", "algo.batch_size": "64"},
    "ppo-dispatch": {"total_steps": "128", "eval_every": "128", "fit_episodes": "1", "eval_episodes": "1",
                     "algo.n_envs": "2", "algo.n_steps": "64", "algo.batch_size": "64"},
}


def _digest(folder: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _tiny_run(name: str, out: Path) -> Path:
    s = run_one(name, 0, out=out, device="cpu", overrides=TINY[name], tensorboard=False)
    assert s["status"] == "done"
    return next((out / name).iterdir())


def test_every_agent_training_rl_experiment_has_an_evaluator():
    rl = [n for n in EXPERIMENTS.names() if EXPERIMENTS.get(n).group == "rl"]
    assert rl and [n for n in rl if EXPERIMENTS.get(n).evaluate is None] == []


@pytest.mark.parametrize("name", ["dqn-cartpole", "ppo-cartpole"])
def test_eval_replays_a_classic_control_run_and_writes_nothing_into_it(name, tmp_path, monkeypatch, capsys):
    run = _tiny_run(name, tmp_path / "runs")
    before = _digest(run)
    monkeypatch.chdir(tmp_path)
    assert main(["eval", str(run), "--episodes", "3", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert f"{name} seed 0 at step" in out and "± " in out and "over 3 deterministic episodes" in out
    assert _digest(run) == before


def test_eval_gif_of_a_business_run_goes_to_the_eval_folder(tmp_path, monkeypatch, capsys):
    from PIL import Image

    run = _tiny_run("ppo-dispatch", tmp_path / "runs")
    before = _digest(run)
    monkeypatch.chdir(tmp_path)
    assert main(["eval", str(run), "--episodes", "1", "--gif", "--device", "cpu"]) == 0
    gif = tmp_path / "eval" / "ppo-dispatch" / run.name / "ppo-dispatch.gif"
    assert "return" in capsys.readouterr().out
    with Image.open(gif) as img:
        assert img.format == "GIF" and img.n_frames >= 2
    assert _digest(run) == before


def test_eval_gif_without_a_renderer_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pygame", None)  # as on a machine without pygame: `import pygame` fails
    run = _tiny_run("dqn-cartpole", tmp_path / "runs")
    monkeypatch.chdir(tmp_path)
    assert main(["eval", str(run), "--gif", "cartpole.gif", "--device", "cpu"]) == 2
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "--gif" in lines[0] and "pygame" in lines[0], err
    assert not (tmp_path / "cartpole.gif").exists()


def test_eval_gif_of_a_classic_control_run_with_pygame(tmp_path, monkeypatch, capsys):
    from PIL import Image

    pytest.importorskip("pygame", reason="pygame is in the dev extra; classic control draws with it")
    run = _tiny_run("dqn-cartpole", tmp_path / "runs")
    before = _digest(run)
    monkeypatch.chdir(tmp_path)
    assert main(["eval", str(run), "--episodes", "1", "--gif", "cartpole.gif", "--device", "cpu"]) == 0
    assert "wrote cartpole.gif" in capsys.readouterr().out
    with Image.open(tmp_path / "cartpole.gif") as img:
        assert img.format == "GIF" and img.n_frames >= 2
    assert _digest(run) == before


@pytest.mark.parametrize("path", ["evalgif", "play.png"])
def test_eval_gif_needs_a_gif_file_name(path, tmp_path, monkeypatch, capsys):
    run = _tiny_run("dqn-cartpole", tmp_path / "runs")
    monkeypatch.chdir(tmp_path)
    assert main(["eval", str(run), "--gif", path, "--device", "cpu"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and ".gif" in lines[0] and path in lines[0], lines
    assert not (tmp_path / path).exists()



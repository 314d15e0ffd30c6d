"""Issue 16: the CLI's argument checks (--out, --episodes) and `demo` run twice into one folder."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import dlfrontier.cli as cli_module
from dlfrontier.cli import main
from tests.experiments.toy import ToyConfig  # noqa: F401  (registers toy-regression)


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dlfrontier", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, env=os.environ.copy())


def _one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def test_out_under_a_regular_file_is_one_line_before_any_run(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    p = cli("run", "dqn-cartpole", "--seeds", "0-2", "--set", "total_steps=100", "--out", str(tmp_path / "file" / "x"))
    assert p.returncode == 2, p.stderr
    line = _one_line(p.stderr)
    assert "--out" in line and "is a file" in line and "seed" not in p.stdout


def test_demo_out_under_a_regular_file_is_one_error_and_nothing_else(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    p = cli("demo", "--out", str(tmp_path / "file" / "demo"))
    assert p.returncode == 2, p.stderr
    assert "--out" in _one_line(p.stderr) and "report" not in p.stdout


def test_demo_workers_below_one_is_one_error_and_nothing_else(tmp_path):
    p = cli("demo", "--workers", "0", "--out", str(tmp_path / "demo"))
    assert p.returncode == 2, p.stderr
    assert "--workers 0" in _one_line(p.stderr) and not (tmp_path / "demo").exists()


def test_unwritable_out_is_refused_once_up_front(tmp_path, monkeypatch, capsys):
    import dlfrontier.tracking as tracking

    ro = tmp_path / "ro"
    ro.mkdir()
    monkeypatch.setattr(tracking.os, "access", lambda path, mode: Path(path) != ro)  # root ignores chmod
    assert main(["run", "toy-regression", "--seeds", "0-2", "--out", str(ro / "runs")]) == 2
    err = capsys.readouterr().err
    assert "not writable" in _one_line(err) and not (ro / "runs").exists()
    monkeypatch.setattr(cli_module, "demo_names", lambda: ["toy-regression"])
    assert main(["demo", "--out", str(ro / "demo")]) == 2
    out, err = capsys.readouterr()
    assert "not writable" in _one_line(err) and "report" not in out


@pytest.mark.parametrize("episodes", ["-1", "0"])
def test_eval_episodes_below_one_is_one_line(tmp_path, episodes):
    from dlfrontier.experiments.runner import run_one

    run_one("dqn-cartpole", 0, out=tmp_path, device="cpu", tensorboard=False,
            overrides={"total_steps": "200", "eval_every": "200", "eval_episodes": "1"})
    run = next((tmp_path / "dqn-cartpole").iterdir())
    p = cli("eval", str(run), "--episodes", episodes)
    assert p.returncode == 2, p.stderr
    assert "--episodes" in _one_line(p.stderr)


def test_eval_on_a_folder_without_config_is_one_line(tmp_path):
    from dlfrontier.experiments.runner import run_one

    run_one("dqn-cartpole", 0, out=tmp_path, device="cpu", tensorboard=False,
            overrides={"total_steps": "200", "eval_every": "200", "eval_episodes": "1"})
    run = next((tmp_path / "dqn-cartpole").iterdir())
    (run / "config.json").unlink()
    p = cli("eval", str(run))
    assert p.returncode == 2 and "config.json" in _one_line(p.stderr)


def test_demo_twice_into_one_folder_does_the_work_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli_module, "demo_names", lambda: ["toy-regression", "toy-regression-slow"])
    out = tmp_path / "demo"
    one = ["--workers", "1"]  # the toy experiments are registered in this process only, not in spawned workers
    assert main(["demo", "--out", str(out), *one]) == 0
    first = sorted(p.name for p in out.glob("toy-*/*"))
    assert len(first) == 2
    capsys.readouterr()
    assert main(["demo", "--out", str(out), *one]) == 0
    assert sorted(p.name for p in out.glob("toy-*/*")) == first  # nothing run again
    assert "2 of 2 runs already done" in capsys.readouterr().out
    assert main(["demo", "--out", str(out), "--force", *one]) == 0
    assert len(list(out.glob("toy-*/*"))) == 4
    assert (out / "report.html").is_file()

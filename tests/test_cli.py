"""The command line as a user meets it: one-line errors, interrupt + resume, list and report."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dlfrontier", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=os.environ.copy())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "lenet-mnist"], "unknown experiment 'lenet-mnist'; did you mean"),
        (["run", "lenet5-mnist", "--set", "epochs=many"], "epochs='many': expected int"),
        (["run", "lenet5-mnist", "--set", "epoch=2"], "unknown key 'epoch'; valid keys: epochs,"),
        (["run", "lenet5-mnist", "--seeds", "x"], "--seeds 'x'"),
        (["run", "lenet5-mnist", "--budget", "huge"], "unknown budget 'huge'"),
        (["list", "--group", "nope"], "--group 'nope'"),
        (["report", "does/not/exist"], "does not exist"),
        (["eval", "nowhere"], "is not a run folder"),
        (["bench", "nope"], "unknown benchmark 'nope'"),
        (["run", "lenet5-mnist", "--device", "tpu"], "--device 'tpu': choose auto, cpu or cuda"),
        (["run", "lenet5-mnist", "--set", "optimizer=adamw"], "optimizer='adamw': expected one of adam, sgd"),
        (["run", "ppo-cartpole", "--set", "algo.activation=relux"], "algo.activation='relux': expected one of"),
        (["run", "ppo-cartpole", "--set", "learning_rate=1"], "unknown key 'learning_rate'; valid keys:"),
        (["show", "ppo-cartpol"], "unknown experiment 'ppo-cartpol'; did you mean"),
    ],
)
def test_user_errors_are_one_line(args, message, tmp_path):
    p = cli(*args, cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in p.stderr, p.stderr
    assert not (tmp_path / "runs").exists()  # a typo writes nothing


def test_show_prints_criteria_and_every_setting_with_help():
    p = cli("show", "ppo-cartpole")
    assert p.returncode == 0, p.stderr
    flat = " ".join(p.stdout.split())
    assert "quick criteria: eval/return >=" in flat and "full criteria: eval/return >=" in flat
    assert "baseline (no learning):" in flat and "anchor: eval/return 490" in flat
    for key in ("total_steps", "eval_every", "algo.learning_rate", "algo.gae_lambda", "algo.activation"):
        assert key in flat, key
    assert "'tanh' | 'relu'" in flat or "'relu' | 'tanh'" in flat  # a Literal's choices are shown
    assert cli("list", "ppo-cartpole").stdout == p.stdout


def test_ray_executor_without_ray_names_the_extra(tmp_path):
    # ray hidden from the CLI's process whether installed or not (None in sys.modules: `import ray` fails)
    code = "import sys; sys.modules['ray'] = None; from dlfrontier.cli import main; sys.exit(main(sys.argv[1:]))"
    p = subprocess.run([sys.executable, "-c", code, "run", "lenet300-mnist", "--executor", "ray", "--out",
                        str(tmp_path / "runs")], capture_output=True, text=True, timeout=300)
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert p.returncode == 2 and len(lines) == 1 and 'pip install "dlfrontier[ray]"' in lines[0], p.stderr
    assert not (tmp_path / "runs").exists()


def test_list_shows_every_experiment_with_anchor_and_criterion():
    p = cli("list")
    assert p.returncode == 0
    flat = " ".join(p.stdout.split())
    assert "lenet300-mnist" in flat and "lenet5-mnist" in flat and ">= 0.975" in flat
    p = cli("list", "--wide")  # the anchors too
    assert p.returncode == 0 and "0.9836" in " ".join(p.stdout.split())
    p = cli("list", "--group", "rl")
    assert "lenet5-mnist" not in p.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "lenet300-mnist"], "mnist train files not found"),
        (["run", "lenet300-mnist", "--set", "dataset=fashion-mnist"], "fashion-mnist train files not found"),
        (["run", "attention-fashion-mnist-se"], "fashion-mnist train files not found"),
        (["run", "deep-compression-lenet300"], "mnist train files not found"),
    ],
)
def test_missing_data_is_one_line_before_any_run_folder(args, message, tmp_path, monkeypatch):
    monkeypatch.setenv("DLFRONTIER_DATA", str(tmp_path / "empty"))
    p = cli(*args, "--out", str(tmp_path / "runs"))
    assert p.returncode == 2, p.stderr
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and "DLFRONTIER_DATA" in lines[0], p.stderr
    assert "Traceback" not in p.stdout + p.stderr
    assert not (tmp_path / "runs").exists()  # checked before anything is written


def test_sigterm_interrupt_then_resume(tmp_path):
    """SIGTERM (what a cluster scheduler sends) stops a run cleanly; Ctrl-C takes the same path (test_runner)."""
    args = ["run", "lenet300-mnist", "--set", "train_subset=1000", "--set", "epochs=25", "--set", "log_every=5",
            "--out", str(tmp_path), "--device", "cpu"]
    proc = subprocess.Popen([sys.executable, "-m", "dlfrontier", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not list(tmp_path.rglob("checkpoint.pt")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "interrupted" in err and "--resume" in err and "Traceback" not in err
    run = next(tmp_path.glob("lenet300-mnist/0-*"))
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "interrupted" and s["metrics"]  # metrics so far are kept
    assert (run / "checkpoint.pt").is_file()
    # resume with other settings is refused; with the same settings it continues in the same folder
    p = cli(*args[:4], "--set", "epochs=26", *args[6:], "--resume")
    assert p.returncode == 2 and "another budget or config" in p.stderr
    p = cli(*args, "--resume")
    assert p.returncode == 0, p.stderr
    assert [r.name for r in tmp_path.glob("lenet300-mnist/*")] == [run.name]
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "done"
    epochs = [v for k, v in _rows(run) if k == "eval/accuracy"]
    assert len(epochs) == 25  # one evaluation per epoch: nothing lost, nothing logged twice


def _rows(run: Path) -> list[tuple[str, str]]:
    import csv

    with open(run / "metrics.csv", newline="") as f:
        return [(r[1], r[2]) for r in list(csv.reader(f))[1:]]


def test_run_report_roundtrip(tmp_path):
    p = cli("run", "lenet300-mnist", "--set", "train_subset=1500", "--set", "epochs=2", "--seeds", "0-1",
            "--out", str(tmp_path / "runs"), "--executor", "process", "--workers", "2")
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("lenet300-mnist seed") == 2
    p = cli("report", str(tmp_path / "runs"), "-o", str(tmp_path / "r.html"))
    assert p.returncode == 0, p.stderr
    page = (tmp_path / "r.html").read_text()
    assert "id='lenet300-mnist-quick'" in page and "data:image/png;base64," in page
    md = (tmp_path / "r.md").read_text()
    assert "| lenet300-mnist | quick | eval/accuracy | 2 |" in md

"""What `dlfrontier run` and `list` print when nobody watches a terminal (issue 16): a "k of N" line with the time
left after each run, the start's estimate from the experiments' typical time, "k of N done" under the process
executor, a run's own progress now and then (never a flood), and a list that fits 80 columns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from dlfrontier.cli import Overall, PlainProgress

ROOT = Path(__file__).resolve().parents[1]
TOY = ("import tests.experiments.toy; from dlfrontier.experiments import EXPERIMENTS; "
       "object.__setattr__(EXPERIMENTS.get('toy-regression'), 'typical_seconds', {typical}); "
       "from dlfrontier.cli import main; raise SystemExit(main({argv!r}))")


def toy_cli(*argv: str, typical: float | None = 2.0) -> subprocess.CompletedProcess:
    code = TOY.format(typical=typical, argv=list(argv))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_run_prints_k_of_n_with_time_left_when_not_a_terminal(tmp_path):
    p = toy_cli("run", "toy-regression", "--seeds", "0-2", "--out", str(tmp_path))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "3 run(s) (local): about 6s left"  # 3 x the declared typical 2 s
    counts = [line for line in lines if " of 3 runs done" in line]
    assert [line.split(" runs")[0] for line in counts] == ["1 of 3", "2 of 3", "3 of 3"]
    assert counts[0].startswith("1 of 3 runs done, about ") and counts[0].endswith(" left")
    assert lines[-1].startswith("3 of 3 runs done in ")
    assert sum("toy-regression seed" in line for line in lines) == 3
    assert len(lines) <= 3 * 2 + 1 and "\x1b[" not in p.stdout  # plain text: no bars, no escape codes


def test_process_executor_prints_k_of_n_done(tmp_path):
    p = toy_cli("run", "toy-regression", "--seeds", "0-1", "--out", str(tmp_path), "--executor", "process",
                "--workers", "2", typical=None)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == "2 run(s) (process): time left unknown"
    assert "1 of 2 runs done, about" in p.stdout and "2 of 2 runs done in" in p.stdout


def test_list_fits_80_columns_and_wide_shows_anchors():
    p = toy_cli("list")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    header = next(line for line in lines if line.startswith("name"))
    assert header.split() == ["name", "group", "anchor", "quick", "criterion", "time"]
    toy = next(line for line in lines if line.startswith("toy-regression "))
    assert toy.split() == ["toy-regression", "compression", "0", "eval/mse", "<=", "1", "2s"]
    assert "exact solution" not in p.stdout
    wide = toy_cli("list", "--wide")
    assert wide.returncode == 0 and "exact solution" in wide.stdout and "lecture topic" in wide.stdout


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_plain_progress_prints_every_tenth_at_most_every_5s_and_every_30s():
    clock, out = Clock(), []
    p = PlainProgress("ppo-cartpole seed 0", out.append, clock=clock)
    p.start(1000)
    for step in range(1, 1001):  # a fast run: 1000 updates in 2 s print nothing
        clock.t = step * 0.002
        p.update(step)
    assert out == []
    p.start(1000)
    clock.t = 100.0
    p.update(50, loss=0.5)  # 30 s without a line: one line, whatever the fraction
    assert out == ["  ppo-cartpole seed 0: 50/1000 steps (5%) loss=0.5"]
    clock.t += 6
    p.update(100)  # 6 s later but only 5% further: not yet
    p.update(150)  # 10% further and 6 s later: due
    clock.t += 1
    p.update(300)  # far further, only 1 s later: not yet
    assert len(out) == 2 and out[-1].endswith("150/1000 steps (15%)")


def test_overall_estimate_uses_typical_time_then_measured_time():
    clock = Clock()
    jobs = [SimpleNamespace(name="a"), SimpleNamespace(name="a"), SimpleNamespace(name="b")]
    o = Overall(jobs, lambda j: {"a": 10.0, "b": None}[j.name], clock=clock)
    assert o.line() == "0 of 3 runs done, time left unknown"  # b has no typical time and nothing ran yet
    clock.t = 12.0
    o.finished(jobs[0], 12.0)
    assert o.left() == 10.0 + 12.0  # a: typical 10 s; b: the measured mean
    parallel = Overall(jobs, lambda j: {"a": 10.0, "b": 20.0}[j.name], parallel=2, clock=clock)
    assert parallel.left() == (10 + 10 + 20) / 2


def test_overall_counts_a_finished_copy_of_a_job():
    """The process and Ray executors hand back a copy of the job: it still counts as that job (the estimate fell
    only with the local executor before)."""
    clock = Clock()
    jobs = [SimpleNamespace(name="a", seed=s) for s in range(3)] + [SimpleNamespace(name="b", seed=0)]
    o = Overall(jobs, lambda j: {"a": 10.0, "b": 20.0}[j.name], parallel=2, clock=clock)
    assert o.left() == (10 + 10 + 10 + 20) / 2
    o.finished(SimpleNamespace(name="a", seed=1), 11.0)
    o.finished(SimpleNamespace(name="b", seed=0), 19.0)
    assert o.left() == (10 + 10) / 2
    assert o.line() == "2 of 4 runs done, about 10s left"


def test_overall_estimate_per_job_config():
    """The time left may depend on each job's config: a translation run that reads its warm start from another
    run does not count the warm start's training (the estimate was the self-contained run's before)."""
    from dlfrontier.experiments import EXPERIMENTS

    for name in ("backtranslation-en-es", "dual-learning-en-es"):
        exp = EXPERIMENTS.get(name)
        fresh, reading = exp.make_config("quick"), exp.make_config("quick", {"warm_start": "runs"})
        assert exp.seconds_for(fresh) == exp.typical_seconds
        assert exp.seconds_for(reading) <= exp.typical_seconds - 200
    assert EXPERIMENTS.get("dqn-cartpole").seconds_for(None) == EXPERIMENTS.get("dqn-cartpole").typical_seconds
    clock = Clock()
    jobs = [SimpleNamespace(name="a", seed=0, t=10.0), SimpleNamespace(name="a", seed=1, t=30.0)]
    o = Overall(jobs, lambda j: j.t, clock=clock)
    assert o.left() == 40.0
    o.finished(jobs[1], 31.0)
    assert o.left() == 10.0

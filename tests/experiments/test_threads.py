"""Issue 16: a seed's numbers do not depend on the executor (or the core count): torch's thread count is pinned
once per process, before anything is built, by the CLI (``--threads``, default 1) and by every pool worker."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SHORT = ["--set", "total_steps=4000", "--set", "eval_every=2000"]  # A2C: orthogonal init, then training


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    return subprocess.run([sys.executable, "-m", "dlfrontier", *args], capture_output=True, text=True, timeout=300,
                          env=env)


def _run(out: Path, executor: str) -> tuple[dict, dict]:
    p = _cli("run", "a2c-cartpole", "--seeds", "0", "--out", str(out), "--executor", executor, *SHORT)
    assert p.returncode == 0, p.stderr
    (run,) = (out / "a2c-cartpole").iterdir()
    summary = json.loads((run / "summary.json").read_text())
    return summary["metrics"], json.loads((run / "config.json").read_text())


@pytest.mark.slow
def test_local_and_process_executors_give_identical_numbers(tmp_path):
    # failed before: the local process built the networks on torch's default 2 threads and trained on 1, a pool
    # worker did both on 1, and the losses differed in the 7th digit
    local, local_cfg = _run(tmp_path / "local", "local")
    pool, pool_cfg = _run(tmp_path / "process", "process")
    same = {k for k in local if not k.startswith("time/")}
    assert same and "train/policy_loss" in same
    assert {k: local[k] for k in same} == {k: pool[k] for k in same}
    assert local_cfg["threads"] == pool_cfg["threads"] == 1


def test_pinned_threads_win_over_cpu_threads_and_a_second_count_is_refused():
    code = """
import torch
from dlfrontier.errors import ConfigError
from dlfrontier.runtime import cpu_threads, pin_threads, pinned_threads
assert pinned_threads() is None
with cpu_threads(1):
    assert torch.get_num_threads() == 1
pin_threads(2)
assert pinned_threads() == 2 and torch.get_num_threads() == 2
with cpu_threads(1):
    assert torch.get_num_threads() == 2  # pinned: the library's own one-thread blocks do not switch
pin_threads(2)
for bad in (1, 0, -1, True):
    try:
        pin_threads(bad)
    except ConfigError as e:
        assert "--threads" in str(e)
    else:
        raise AssertionError(bad)
print("ok")
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


@pytest.mark.parametrize("value", ["0", "-3"])
def test_bad_threads_is_one_line_before_any_run_folder(tmp_path, value):
    p = _cli("run", "a2c-cartpole", "--threads", value, "--out", str(tmp_path / "runs"), *SHORT)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "--threads" in p.stderr.strip().splitlines()[-1] and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_a_saved_config_with_the_retired_threads_key_still_loads_and_resumes(tmp_path):
    from dlfrontier.experiments import EXPERIMENTS
    from dlfrontier.experiments.runner import saved_config

    exp = EXPERIMENTS.get("context-seg-none")
    values = saved_config(exp, {"config": {"epochs": 2, "threads": 1}})
    assert values == {"epochs": 2}
    assert exp.config(**values).epochs == 2
    assert saved_config(exp, {"config": {"epochs": 2, "bogus": 1}}) == {"epochs": 2, "bogus": 1}  # still refused

"""`dlfrontier run NAME --seeds ...` trains the seeds as one population and writes, per seed, what the seed's own
run writes: the same evaluation metrics at every point, a checkpoint a single run resumes exactly, the summary."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dlfrontier.cli import main
from dlfrontier.experiments.executors import Job, population_batches, run_jobs
from dlfrontier.experiments.runner import plan_run
from dlfrontier.rl.population import runs
from dlfrontier.tracking import RunDir
from tests.rl.population.common import same_rows

TINY = {
    "dqn-cartpole": {"total_steps": "600", "eval_every": "200", "eval_episodes": "2", "algo.learning_starts": "100",
                     "algo.train_freq": "20", "algo.gradient_steps": "4", "algo.target_update_interval": "100",
                     "algo.hidden": "32,32", "algo.buffer_size": "1000"},
    "sac-pendulum": {"total_steps": "500", "eval_every": "200", "eval_episodes": "1", "algo.learning_starts": "100",
                     "algo.batch_size": "32", "algo.hidden": "32,32"},
    "td3-inverted-pendulum": {"total_steps": "500", "eval_every": "200", "eval_episodes": "1",
                              "algo.learning_starts": "100", "algo.batch_size": "32", "algo.hidden": "32,32"},
    "a2c-cartpole": {"total_steps": "800", "eval_every": "320", "eval_episodes": "1", "algo.hidden": "32,32"},
    "ppo-pendulum": {"total_steps": "768", "eval_every": "256", "eval_episodes": "1", "algo.n_envs": "2",
                     "algo.n_steps": "64", "algo.batch_size": "64", "algo.n_epochs": "2", "algo.hidden": "32,32"},
}

# continuous actions: the stacked networks' outputs may differ from a single network's in the last bit on some CPUs
# (see tests/rl/population/common.py), so their rows are compared within 1e-5
CONTINUOUS = {"sac-pendulum", "td3-inverted-pendulum", "ppo-pendulum"}


def _eval_rows(run: Path) -> list[tuple[str, str, str]]:
    with (run / "metrics.csv").open() as f:
        return [(r["step"], r["key"], r["value"]) for r in csv.DictReader(f)
                if r["key"].startswith(("eval/", "train/"))]


def _jobs(name: str, seeds: list[int], out: Path, batch: bool, **overrides: str) -> list[Job]:
    return [Job(plan_run(name, s, device="cpu", overrides={**TINY[name], **overrides}, out=out), tensorboard=False,
                batch_seeds=batch) for s in seeds]


@pytest.mark.parametrize("name", list(TINY))
def test_population_folders_equal_the_single_runs_folders(name: str, tmp_path: Path) -> None:
    batched = _jobs(name, [0, 1, 2], tmp_path / "pop", True)
    assert [len(g) for g in population_batches(batched)] == [3]
    pop = run_jobs(batched)
    single = run_jobs(_jobs(name, [0, 1, 2], tmp_path / "one", False))
    assert all(o.summary and o.summary["status"] == "done" for o in pop + single)
    for p, s in zip(sorted(pop, key=lambda o: o.job.seed), sorted(single, key=lambda o: o.job.seed), strict=True):
        rows = _eval_rows(Path(p.summary["run_dir"]))
        same_rows(rows, _eval_rows(Path(s.summary["run_dir"])), exact=name not in CONTINUOUS)
        assert sum(1 for r in rows if r[1] == "eval/return") == 4  # steps 0, 200 (256), ...
        pm, sm = p.summary["metrics"], s.summary["metrics"]
        assert pm["eval/return"] == pytest.approx(sm["eval/return"], rel=0 if name not in CONTINUOUS else 1e-5)
        assert pm["time/population"] == 3.0
        assert p.summary["criteria"] == s.summary["criteria"]


def _same(a: Any, b: Any, path: str = "") -> None:
    """Checkpoint states equal: floats within 1e-6 (stacked vs single arithmetic), everything else exactly."""
    if isinstance(a, dict):
        assert sorted(a) == sorted(b), path
        for k in a:
            _same(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif torch.is_tensor(a) and a.is_floating_point():
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0, msg=path)
    elif torch.is_tensor(a):
        assert torch.equal(a, b), path
    elif isinstance(a, np.ndarray):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0, err_msg=path)
    elif path.endswith(("train_seconds", "sps")):
        pass  # wall-clock timers
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-6, nan_ok=True), path
    else:
        assert a == b or (a != a and b != b), path


def _interrupted(name: str, out: Path, batch: bool, monkeypatch, at: int) -> None:
    """Run seeds 0 and 1 and press Ctrl-C right after both have checkpointed at step ``at``."""
    original = runs.Evaluator.__call__
    calls = []

    def interrupt(self, agent):
        original(self, agent)
        calls.append(agent.num_steps)
        if calls.count(at) == (2 if batch else 1):
            raise KeyboardInterrupt

    monkeypatch.setattr(runs.Evaluator, "__call__", interrupt)
    for jobs in ([_jobs(name, [0, 1], out, True)] if batch else [_jobs(name, [s], out, False) for s in (0, 1)]):
        calls.clear()
        with pytest.raises(KeyboardInterrupt):
            run_jobs(jobs)
    monkeypatch.setattr(runs.Evaluator, "__call__", original)


@pytest.mark.parametrize("name", list(TINY))
def test_an_interrupted_population_resumes_per_seed_as_a_single_run_would(name: str, tmp_path: Path,
                                                                          monkeypatch) -> None:
    at = int(TINY[name]["eval_every"]) * 2
    _interrupted(name, tmp_path / "pop", True, monkeypatch, at)
    _interrupted(name, tmp_path / "one", False, monkeypatch, at)
    for seed in (0, 1):  # a population member's checkpoint is the single run's checkpoint
        pop, one = RunDir.newest(tmp_path / "pop", name, seed), RunDir.newest(tmp_path / "one", name, seed)
        assert pop.read_summary()["status"] == one.read_summary()["status"] == "interrupted"
        a, b = pop.load_checkpoint(name).state, one.load_checkpoint(name).state
        assert a["agent"]["num_steps"] == at
        _same(a, b)
    resumed = {out: [Job(plan_run(name, s, device="cpu", overrides=TINY[name], out=tmp_path / out, resume=True),
                         tensorboard=False) for s in (0, 1)] for out in ("pop", "one")}
    assert [len(g) for g in population_batches(resumed["pop"])] == [1, 1]  # each seed continues as a single run
    done = {out: run_jobs(jobs) for out, jobs in resumed.items()}
    for r, s in zip(done["pop"], done["one"], strict=True):
        assert r.summary["status"] == s.summary["status"] == "done"
        same_rows(_eval_rows(Path(r.summary["run_dir"])), _eval_rows(Path(s.summary["run_dir"])),
                  exact=name not in CONTINUOUS)


def test_no_batch_seeds_and_unsupported_configs_run_one_by_one(tmp_path: Path) -> None:
    assert [len(g) for g in population_batches(_jobs("dqn-cartpole", [0, 1], tmp_path, False))] == [1, 1]
    prio = _jobs("dqn-cartpole", [0, 1], tmp_path, True, **{"algo.prioritized": "true"})
    assert [len(g) for g in population_batches(prio)] == [1, 1]  # PopulationDQN has no prioritized replay yet
    assert [len(g) for g in population_batches(_jobs("dqn-cartpole", [0], tmp_path, True))] == [1]
    sets = [a for k, v in TINY["dqn-cartpole"].items() for a in ("--set", f"{k}={v}")]
    assert main(["run", "dqn-cartpole", "--seeds", "0-1", "--no-batch-seeds", "--device", "cpu", "--out",
                 str(tmp_path / "cli"), *sets]) == 0


def test_the_process_executor_splits_a_population_across_its_workers(tmp_path: Path) -> None:
    from dlfrontier.experiments.executors import split_population

    jobs = _jobs("sac-pendulum", [0, 1, 2], tmp_path / "pool", True)
    assert [[j.seed for j in part] for part in split_population(jobs, 2)] == [[0, 1], [2]]
    assert [[j.seed for j in part] for part in split_population(jobs, 5)] == [[0], [1], [2]]
    pooled = run_jobs(jobs, executor="process", workers=2)  # seeds 0-1 as one population, seed 2 as a single run
    single = run_jobs(_jobs("sac-pendulum", [0, 1, 2], tmp_path / "one", False))
    assert sorted(o.summary["metrics"].get("time/population", 1.0) for o in pooled) == [1.0, 2.0, 2.0]
    for p, s in zip(sorted(pooled, key=lambda o: o.job.seed), sorted(single, key=lambda o: o.job.seed), strict=True):
        assert p.summary["status"] == s.summary["status"] == "done"
        assert _eval_rows(Path(p.summary["run_dir"])) == _eval_rows(Path(s.summary["run_dir"]))

"""``dlfrontier bench executor``: what does running configs x seeds through ``process`` or ``ray`` cost beyond the
runs themselves?

Issue 23's measure: 2 configs x 3 seeds of a ~1-minute experiment (dqn-cartpole, quick budget, n-step 1 and 3;
``--quick``: 10,000 steps) on this machine's cores, each executor with as many parallel runs as cores. Reported:
the wall time against the ideal (the runs' own wall seconds, summed, over the cores: what a perfect scheduler
would take), and the overhead per run, ``(wall x cores - sum of run seconds) / runs``: process starts, imports,
Ray's scheduling and the shipping of folders back to the driver, all together. Ray runs on a single-node
instance this benchmark starts (``num_cpus`` = cores) before timing; its start is reported apart, since a cluster
is started once, not per sweep. Ray binds a port on this machine's address: to keep it to loopback, run the
benchmark inside a network namespace (``unshare -n sh -c 'ip link set lo up && dlfrontier bench executor'``).

Every run pins torch to one thread (the CLI's default), so ``process`` and ``ray`` do the same work. The 1-minute
load average before and after each executor is recorded: on a machine other work shares, the runs' own wall
seconds grow with it too, and the ratio to the ideal is only as good as the machine is quiet.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from dlfrontier.bench import benchmark
from dlfrontier.errors import require
from dlfrontier.tracking import atomic_write_json

NAME = "dqn-cartpole"
CONFIGS = ({"algo.n_step": "1"}, {"algo.n_step": "3"})
SEEDS = (0, 1, 2)
QUICK = {"total_steps": "10000", "eval_every": "5000"}


def _measure(executor: str, cores: int, quick: bool) -> dict[str, Any]:
    from dlfrontier.experiments.executors import Job, run_jobs
    from dlfrontier.experiments.runner import plan_run

    row: dict[str, Any] = {"executor": executor, "cores": cores, "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as out:
        jobs = [Job(plan_run(NAME, s, overrides={**cfg, **(QUICK if quick else {})}, out=out, device="cpu"),
                    tensorboard=True, threads=1) for cfg in CONFIGS for s in SEEDS]
        if executor == "ray":
            import logging

            import ray

            start = time.perf_counter()
            ray.init(num_cpus=cores, include_dashboard=False, logging_level=logging.WARNING)
            row["ray_start_s"] = time.perf_counter() - start
        try:
            start = time.perf_counter()
            outcomes = run_jobs(jobs, executor=executor, workers=cores)
            wall = time.perf_counter() - start
        finally:
            if executor == "ray":
                ray.shutdown()
    runs = [float(o.summary["wall_seconds"]) for o in outcomes if o.summary]
    ideal = sum(runs) / cores
    row.update(runs=len(jobs), done=sum(1 for o in outcomes if o.summary and o.summary["status"] == "done"),
               wall_s=wall, run_s_sum=sum(runs), run_s_mean=sum(runs) / max(1, len(runs)), ideal_s=ideal,
               wall_over_ideal=wall / ideal if ideal else None,
               overhead_per_run_s=(wall * cores - sum(runs)) / len(jobs), load_after=os.getloadavg()[0])
    return row


@benchmark("executor", summary="2 configs x 3 seeds of dqn-cartpole through process and ray: wall vs ideal, "
                               "overhead per run")
def run(quick: bool, out: Path) -> dict[str, Any]:
    """Measure both executors one after the other; write ``executor.json``; print the table."""
    import torch

    ray = require("ray", "ray")  # before anything runs
    cores = min(2, os.cpu_count() or 1)
    rows = [_measure(executor, cores, quick) for executor in ("process", "ray")]

    result = {"benchmark": "executor", "quick": quick, "experiment": NAME, "configs": list(CONFIGS),
              "seeds": list(SEEDS), "overrides": QUICK if quick else {}, "cores": cores, "threads_per_run": 1,
              "torch": torch.__version__, "ray": ray.__version__, "rows": rows}
    atomic_write_json(Path(out) / "executor.json", result)
    print(f"{'executor':<9} {'runs':>4} {'wall s':>7} {'ideal s':>7} {'wall/ideal':>10} {'overhead/run s':>14}")
    for r in rows:
        print(f"{r['executor']:<9} {r['done']:>2}/{r['runs']:<1} {r['wall_s']:>7.1f} {r['ideal_s']:>7.1f} "
              f"{r['wall_over_ideal']:>10.3f} {r['overhead_per_run_s']:>14.2f}")
    if "ray_start_s" in rows[-1]:
        print(f"(Ray's single-node start, not counted above: {rows[-1]['ray_start_s']:.1f} s)")
    return result

"""Population DQN versus K separate DQN runs: wall time for K = 1, 2, 5, 10 seeds on CartPole-v1 (issue 17).

Settings: the dqn-cartpole experiment's (rl-baselines3-zoo's CartPole-v1 DQN = the DQNConfig defaults, 256x256,
plus Double DQN, dueling head, 3-step returns, learning rate 1e-3 decayed linearly). For each K the population
(``PopulationDQN(seeds=range(K))``) and the K single runs (``DQN(seed=k)``, one after another, same process) are
timed back to back, the order alternating between K values, after an untimed warm-up; one repetition each.
The member returns are checked against the single runs' (member k must equal the run with seed k).

Usage: ``OMP_NUM_THREADS=1 python benchmarks/population_dqn.py [--steps 10000] [--ks 1 2 5 10]``; writes
``benchmarks/results/population_dqn.json``. A benchmark, not a test: the numbers depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlfrontier.rl import DQN
from dlfrontier.rl.population import PopulationDQN

DQN_CARTPOLE: dict[str, Any] = {"double": True, "dueling": True, "n_step": 3, "learning_rate": 1e-3, "lr_decay": True}
ENV = "CartPole-v1"


def run_population(k: int, steps: int, **extra: Any) -> tuple[float, list[list[float]]]:
    start = time.perf_counter()
    pop = PopulationDQN(ENV, seeds=list(range(k)), **DQN_CARTPOLE, **extra).learn(steps)
    return time.perf_counter() - start, pop.episode_returns


def run_separate(k: int, steps: int, **extra: Any) -> tuple[float, list[list[float]]]:
    start = time.perf_counter()
    returns = [DQN(ENV, seed=s, **DQN_CARTPOLE, **extra).learn(steps).episode_returns for s in range(k)]
    return time.perf_counter() - start, returns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000, help="env steps per member")
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 5, 10], help="population sizes")
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256], help="MLP widths (rl-zoo: 256 256)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "population_dqn.json")
    args = parser.parse_args()
    extra = {"hidden": tuple(args.hidden)}
    run_population(1, 1_100, **extra)  # warm-up (imports, allocator, first training phase), not timed
    run_separate(1, 1_100, **extra)
    rows = []
    print(f"{'K':>3} {'population s':>13} {'K separate s':>13} {'ratio':>6} {'steps/s (pop)':>14} {'same returns':>13}")
    for i, k in enumerate(args.ks):
        if i % 2 == 0:
            pop_s, pop_returns = run_population(k, args.steps, **extra)
            sep_s, sep_returns = run_separate(k, args.steps, **extra)
        else:
            sep_s, sep_returns = run_separate(k, args.steps, **extra)
            pop_s, pop_returns = run_population(k, args.steps, **extra)
        same = pop_returns == sep_returns
        row = {"k": k, "population_s": round(pop_s, 2), "separate_s": round(sep_s, 2),
               "ratio": round(pop_s / sep_s, 3), "population_env_steps_per_s": round(k * args.steps / pop_s),
               "identical_returns": same,
               "final_return_last20": [round(float(np.mean(r[-20:])), 1) if r else None for r in pop_returns]}
        rows.append(row)
        print(f"{k:>3} {pop_s:>13.1f} {sep_s:>13.1f} {row['ratio']:>6.2f} {row['population_env_steps_per_s']:>14} "
              f"{str(same):>13}", flush=True)
    result = {
        "benchmark": "population_dqn", "env": ENV, "steps_per_member": args.steps, "options": {**DQN_CARTPOLE, **extra},
        "torch": torch.__version__, "python": platform.python_version(), "cpus": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "loadavg_at_end": list(os.getloadavg()),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Benchmark ``rl-population``: five seeds as one population against Stable-Baselines3's five runs (issue 17).

The issue's goals: DQN CartPole-v1 50k steps x 5 seeds and PPO CartPole-v1 100k steps x 5 seeds, our total wall
time <= 0.35x Stable-Baselines3's with SB3 running the seeds in a 2-process pool, at an equal or better IQM of the
final return; SAC Pendulum-v1 20k x 5 <= 0.4x; and how wall time grows with the population size K (which seeds are
nearly free).

Ours, twice: :class:`~dlfrontier.rl.population.PopulationDQN` / :class:`~dlfrontier.rl.population.PopulationPPO` /
:class:`~dlfrontier.rl.population.PopulationSAC` in this process on one torch thread (one core: the pool gives SB3
two), and as two populations of consecutive seeds in a 2-process pool (both cores, as ``dlfrontier run --executor
process --workers 2`` trains them; every seed's return is the same either way). SB3: one run per seed in a spawn
pool of 2 workers, one torch thread each, the same hyperparameters (:mod:`dlfrontier.rl.bench`: rl-zoo DQN with
256x256 networks; PPO with SB3's defaults and 8 envs; SAC with SB3's defaults and learning rate 1e-3). Per
algorithm the order is ours on one core, SB3, ours on two, so they see similar machine load. Final returns: 10
deterministic episodes per seed from seed 10,000.

The scaling curve trains DQN for ``scale_steps`` env steps with K = 1, 2, 5, 10, 20 members and one single DQN
for the same steps: ``population seconds / (K x single seconds)`` is the price of a seed in a population.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path
from typing import Any

import numpy as np

from dlfrontier.bench import benchmark
from dlfrontier.rl.bench import DQN_ZOO, ENVS, EVAL_EPISODES, _run, raw_env_sps

ENV = "CartPole-v1"
PPO_OPTIONS: dict[str, Any] = {"n_envs": 8}
DQN_OPTIONS: dict[str, Any] = {"hidden": (256, 256), **DQN_ZOO}


def _population_returns(pop: Any) -> list[float]:
    import gymnasium as gym

    from dlfrontier.rl.common.evaluation import evaluate_policy, greedy

    env = gym.make(pop.env_id)
    return [float(np.mean(evaluate_policy(greedy(pop.member(k)), env, EVAL_EPISODES, seed=10_000)))
            for k in range(pop.k)]


def train_population(algo: str, seeds: list[int], steps: int) -> dict[str, Any]:
    """One population of ``algo`` (its env of :data:`ENVS`) in this process (one torch thread): wall time and
    returns."""
    from dlfrontier.rl.population import PopulationDQN, PopulationPPO, PopulationSAC
    from dlfrontier.runtime import cpu_threads

    with cpu_threads(1):
        t = time.perf_counter()
        if algo == "dqn":
            pop: Any = PopulationDQN(ENV, seeds=seeds, **DQN_OPTIONS).learn(steps)
        elif algo == "sac":
            pop = PopulationSAC(ENVS["sac"], seeds=seeds, learning_rate=1e-3).learn(steps)
        else:
            pop = PopulationPPO(ENV, seeds=seeds, **PPO_OPTIONS).learn(steps)
        wall = time.perf_counter() - t
        return {"wall_s": wall, "returns": _population_returns(pop)}


def _train_population_task(args: tuple[str, list[int], int]) -> dict[str, Any]:
    return train_population(*args)


def train_population_pool(algo: str, seeds: list[int], steps: int, workers: int = 2) -> dict[str, Any]:
    """The seeds split into ``workers`` populations of consecutive seeds (0-2 and 3-4 for five seeds on two), each
    trained in its own process of a spawn pool (one torch thread each), as ``dlfrontier run --executor process``
    does: the pool's wall time (process start-up included, as for SB3's pool) and each seed's return."""
    n = min(workers, len(seeds))
    chunks = [list(c) for c in np.array_split(np.asarray(seeds), n)]
    ctx = mp.get_context("spawn")
    t = time.perf_counter()
    with ctx.Pool(processes=n, maxtasksperchild=1) as pool:
        runs = pool.map(_train_population_task, [(algo, [int(s) for s in c], steps) for c in chunks], chunksize=1)
    return {"wall_s": time.perf_counter() - t, "returns": [r for run in runs for r in run["returns"]]}


def train_sb3_pool(algo: str, seeds: list[int], steps: int) -> dict[str, Any]:
    """Stable-Baselines3's runs of ``seeds`` in a 2-process pool: the pool's wall time and each seed's return."""
    ctx = mp.get_context("spawn")
    t = time.perf_counter()
    with ctx.Pool(processes=min(2, len(seeds)), maxtasksperchild=1) as pool:
        runs = pool.map(_run, [("sb3", algo, s, steps) for s in seeds], chunksize=1)
    return {"wall_s": time.perf_counter() - t, "returns": [r["final_return"] for r in runs]}


def scaling(ks: list[int], steps: int) -> list[dict[str, float]]:
    """DQN wall time for K members against K single runs (one single run timed, times K)."""
    from dlfrontier.rl import DQN
    from dlfrontier.rl.population import PopulationDQN
    from dlfrontier.runtime import cpu_threads

    rows = []
    with cpu_threads(1):
        t = time.perf_counter()
        DQN(ENV, seed=0, **DQN_OPTIONS).learn(steps)
        single = time.perf_counter() - t
        for k in ks:
            t = time.perf_counter()
            PopulationDQN(ENV, seeds=list(range(k)), **DQN_OPTIONS).learn(steps)
            wall = time.perf_counter() - t
            rows.append({"k": k, "wall_s": wall, "single_s": single, "ratio": wall / (k * single)})
    return rows


@benchmark("rl-population", summary="5 seeds as one population (DQN, PPO on CartPole-v1, SAC on Pendulum-v1) vs "
                                    "Stable-Baselines3's 5 runs in a 2-process pool; wall time vs population size")
def population_vs_sb3(quick: bool, out: Path) -> dict[str, Any]:
    """``quick``: 2 seeds, 5k / 10k / 500 steps and K up to 5 over 2k steps (a noisy but real ratio); otherwise the
    issue's budgets."""
    from rich.console import Console
    from rich.table import Table

    from dlfrontier.errors import require
    from dlfrontier.stats import iqm
    from dlfrontier.tracking import atomic_write_json

    require("stable_baselines3", "dev")
    seeds = [0, 1] if quick else [0, 1, 2, 3, 4]
    budgets = {"dqn": 5_000, "ppo": 10_000, "sac": 500} if quick else {"dqn": 50_000, "ppo": 100_000, "sac": 20_000}
    results: dict[str, Any] = {"quick": quick, "seeds": seeds, "budgets": budgets, "raw_env_sps": raw_env_sps(ENV),
                               "algorithms": {}}
    table = Table(title=f"{len(seeds)} seeds: one population vs Stable-Baselines3 (2-process pool); raw CartPole env "
                        f"{results['raw_env_sps']:,.0f} steps/s")
    for col in ("algo", "steps", "ours 1 proc s", "ours 2 procs s", "SB3 s", "ours/SB3 (1 proc)",
                "ours/SB3 (2 procs)", "ours IQM", "SB3 IQM", "ours returns", "SB3 returns"):
        table.add_column(col)
    for algo, steps in budgets.items():
        ours = train_population(algo, seeds, steps)
        sb3 = train_sb3_pool(algo, seeds, steps)
        ours2 = train_population_pool(algo, seeds, steps)
        row = {"steps": steps, "ours_wall_s": ours["wall_s"], "ours_2proc_wall_s": ours2["wall_s"],
               "sb3_wall_s": sb3["wall_s"], "ratio": ours["wall_s"] / sb3["wall_s"],
               "ratio_2proc": ours2["wall_s"] / sb3["wall_s"], "ours_returns": ours["returns"],
               "ours_2proc_returns": ours2["returns"], "sb3_returns": sb3["returns"], "ours_iqm": iqm(ours["returns"]),
               "sb3_iqm": iqm(sb3["returns"]), "ours_train_sps": steps * len(seeds) / ours["wall_s"],
               "ours_2proc_train_sps": steps * len(seeds) / ours2["wall_s"]}
        results["algorithms"][algo] = row
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "rl_population.json", results)  # partial results survive an interrupted run
        print(f"{algo}: ours {row['ours_wall_s']:.1f} s (1 proc), {row['ours_2proc_wall_s']:.1f} s (2 procs), SB3 "
              f"{row['sb3_wall_s']:.1f} s: ratio {row['ratio']:.2f} / {row['ratio_2proc']:.2f}, IQM "
              f"{row['ours_iqm']:.1f} vs {row['sb3_iqm']:.1f}", flush=True)
        table.add_row(algo, f"{steps:,}", f"{row['ours_wall_s']:.1f}", f"{row['ours_2proc_wall_s']:.1f}",
                      f"{row['sb3_wall_s']:.1f}", f"{row['ratio']:.2f}", f"{row['ratio_2proc']:.2f}",
                      f"{row['ours_iqm']:.1f}", f"{row['sb3_iqm']:.1f}",
                      " ".join(f"{r:.0f}" for r in ours["returns"]), " ".join(f"{r:.0f}" for r in sb3["returns"]))
    console = Console()
    console.print(table)
    ks = [1, 2, 5] if quick else [1, 2, 5, 10, 20]
    results["scaling"] = scaling(ks, 2_000 if quick else 10_000)
    scale = Table(title="DQN (256x256): population wall time / (K x one single run)")
    for col in ("K", "population s", "single s", "ratio"):
        scale.add_column(col)
    for r in results["scaling"]:
        scale.add_row(str(r["k"]), f"{r['wall_s']:.1f}", f"{r['single_s']:.1f}", f"{r['ratio']:.2f}")
    console.print(scale)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "rl_population.json", results)
    return results

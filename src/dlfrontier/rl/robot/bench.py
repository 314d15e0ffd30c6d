"""Benchmark ``mujoco``: our SAC and TD3 against Stable-Baselines3's on HalfCheetah-v5, same hyperparameters.

Paper: Raffin et al., "Stable-Baselines3: Reliable Reinforcement Learning Implementations" (JMLR 2021,
https://jmlr.org/papers/v22/20-1364.html).

Both libraries train with the same settings (SB3's SAC and TD3 defaults; 256x256 networks for both so the
arithmetic is the same; 1,000 warm-up steps so the 20k-step budget is mostly gradient steps). Runs are interleaved
(ours, SB3, ours, SB3, ...) in a pool of two workers with one torch thread each, so both libraries see the same
load. Reported per algorithm: the wall-time ratio ours/SB3, steps per second, the IQM of the final deterministic
evaluation return (10 episodes from seed 10,000) and the raw env step rate (random actions, no learning: what a
CPU training loop could reach at best).
"""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path
from typing import Any

import numpy as np

from dlfrontier.bench import benchmark

ENV_ID = "HalfCheetah-v5"
STEPS = 20_000
EVAL_EPISODES = 10
# the values both libraries get (SB3's defaults, written out; ours take the same names where they differ)
COMMON: dict[str, Any] = {"learning_rate": 3e-4, "batch_size": 256, "buffer_size": 1_000_000,
                          "learning_starts": 1_000, "gamma": 0.99, "tau": 0.005}
TD3_LR = 1e-3  # SB3's TD3 default learning rate (and the TD3 paper's)


def raw_env_sps(env_id: str = ENV_ID, steps: int = 20_000) -> float:
    """Env steps per second with random actions and nothing else (one env, Python loop)."""
    from dlfrontier.rl.bench import raw_env_sps as raw

    return raw(env_id, steps)


def _run(task: tuple[str, str, int, int]) -> dict[str, Any]:
    """One training run in a worker: ``(library, algorithm, seed, steps)`` -> wall seconds and final return."""
    from dlfrontier.runtime import cpu_threads

    with cpu_threads(1):  # the two workers share the cores
        return _train_and_score(*task)


def _ours(algo: str, seed: int, steps: int) -> Any:
    from dlfrontier.rl import SAC, TD3

    if algo == "sac":
        return SAC(ENV_ID, seed=seed, hidden=(256, 256), **COMMON).learn(steps)
    return TD3(ENV_ID, seed=seed, hidden=(256, 256), **{**COMMON, "learning_rate": TD3_LR}).learn(steps)


def _sb3(algo: str, seed: int, steps: int) -> Any:
    from dlfrontier.errors import require

    sb3 = require("stable_baselines3", "dev")
    from stable_baselines3.common.noise import NormalActionNoise

    kwargs = {"seed": seed, "policy_kwargs": {"net_arch": [256, 256]}, **COMMON}
    if algo == "sac":
        model = sb3.SAC("MlpPolicy", ENV_ID, **kwargs)
    else:
        from dlfrontier.rl.common.env import make_env

        dim = int(np.prod(make_env(ENV_ID).action_space.shape or ()))  # bounds [-1, 1]: std 0.1, as our TD3's default
        noise = NormalActionNoise(np.zeros(dim), 0.1 * np.ones(dim))
        model = sb3.TD3("MlpPolicy", ENV_ID, action_noise=noise, **{**kwargs, "learning_rate": TD3_LR})
    return model.learn(steps)


def _train_and_score(lib: str, algo: str, seed: int, steps: int) -> dict[str, Any]:
    from dlfrontier.rl.common.env import make_env
    from dlfrontier.rl.common.evaluation import evaluate_policy, greedy

    t = time.perf_counter()
    agent = _ours(algo, seed, steps) if lib == "ours" else _sb3(algo, seed, steps)
    wall = time.perf_counter() - t
    if lib == "ours":
        predict = greedy(agent)
    else:
        def predict(obs: np.ndarray) -> np.ndarray:
            return agent.predict(obs, deterministic=True)[0]
    returns = evaluate_policy(predict, make_env(ENV_ID), EVAL_EPISODES, seed=10_000)
    return {"lib": lib, "algo": algo, "seed": seed, "steps": steps, "wall_s": wall, "sps": steps / wall,
            "final_return": float(np.mean(returns))}


@benchmark("mujoco", summary="SAC and TD3 on HalfCheetah-v5 (20k steps): wall time and return, ours vs SB3")
def mujoco_vs_sb3(quick: bool, out: Path) -> dict[str, Any]:
    """Seeds 0-2 (``quick``: seed 0), each run 20k steps; interleaved ours/SB3 in two workers."""
    from rich.console import Console
    from rich.table import Table

    from dlfrontier.errors import require
    from dlfrontier.stats import iqm
    from dlfrontier.tracking import atomic_write_json

    require("mujoco", "mujoco")
    require("stable_baselines3", "dev")
    seeds = [0] if quick else [0, 1, 2]
    tasks = [(lib, algo, s, STEPS) for algo in ("sac", "td3") for s in seeds for lib in ("ours", "sb3")]
    env_sps = raw_env_sps()
    with mp.get_context("spawn").Pool(processes=2, maxtasksperchild=1) as pool:
        runs = pool.map(_run, tasks, chunksize=1)
    results: dict[str, Any] = {"quick": quick, "seeds": seeds, "steps": STEPS, "env": ENV_ID,
                               "raw_env_sps": env_sps, "runs": runs, "algorithms": {}}
    table = Table(title=f"ours vs Stable-Baselines3 on {ENV_ID}, {STEPS:,} steps (raw env: {env_sps:,.0f} steps/s)")
    for col in ("algo", "ours s", "SB3 s", "ours/SB3", "ours IQM", "SB3 IQM", "ours sps", "SB3 sps"):
        table.add_column(col)
    for algo in ("sac", "td3"):
        mine = [r for r in runs if r["algo"] == algo and r["lib"] == "ours"]
        theirs = [r for r in runs if r["algo"] == algo and r["lib"] == "sb3"]
        ours_wall = float(np.mean([r["wall_s"] for r in mine]))
        sb3_wall = float(np.mean([r["wall_s"] for r in theirs]))
        row = {"ours_wall_s": ours_wall, "sb3_wall_s": sb3_wall, "ratio": ours_wall / sb3_wall,
               "ours_iqm": iqm([r["final_return"] for r in mine]), "sb3_iqm": iqm([r["final_return"] for r in theirs]),
               "ours_returns": [r["final_return"] for r in mine], "sb3_returns": [r["final_return"] for r in theirs],
               "ours_sps": STEPS / ours_wall, "sb3_sps": STEPS / sb3_wall}
        results["algorithms"][algo] = row
        table.add_row(algo, f"{ours_wall:.1f}", f"{sb3_wall:.1f}", f"{row['ratio']:.2f}", f"{row['ours_iqm']:.1f}",
                      f"{row['sb3_iqm']:.1f}", f"{row['ours_sps']:,.0f}", f"{row['sb3_sps']:,.0f}")
    Console().print(table)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "mujoco.json", results)
    return results

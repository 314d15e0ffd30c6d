"""Benchmark ``rl``: our DQN and PPO against Stable-Baselines3 with the same env, budget and hyperparameters.

Paper: Raffin et al., "Stable-Baselines3: Reliable Reinforcement Learning Implementations" (JMLR 2021,
https://jmlr.org/papers/v22/20-1364.html); DQN settings from rl-baselines3-zoo (hyperparams/dqn.yml,
CartPole-v1), PPO with SB3's defaults and 8 envs.

Runs are interleaved (ours, SB3, ours, SB3, ...) in one process pool, each worker with one torch thread, so
both libraries see the same machine load. Reports per algorithm the wall-time ratio ours/SB3, the IQM of the
final deterministic evaluation return of both, training steps per second, and the raw env steps per second
(random actions, no learning: the physical limit of a CPU training loop).
"""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path
from typing import Any

import numpy as np

from dlfrontier.bench import benchmark

# rl-baselines3-zoo DQN CartPole-v1 (our DQNConfig defaults are the same values)
DQN_ZOO: dict[str, Any] = {
    "learning_rate": 2.3e-3, "batch_size": 64, "buffer_size": 100_000, "learning_starts": 1_000, "gamma": 0.99,
    "target_update_interval": 10, "train_freq": 256, "gradient_steps": 128, "exploration_fraction": 0.16,
    "exploration_final_eps": 0.04,
}
EVAL_EPISODES = 10


def raw_env_sps(env_id: str = "CartPole-v1", steps: int = 20_000) -> float:
    """Env steps per second with random actions and nothing else (one env, Python loop)."""
    import gymnasium as gym

    env = gym.make(env_id)
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(1000)]
    t = time.perf_counter()
    for i in range(steps):
        _, _, term, trunc, _ = env.step(actions[i % 1000])
        if term or trunc:
            env.reset()
    return steps / (time.perf_counter() - t)


def _run(task: tuple[str, str, int, int]) -> dict[str, Any]:
    """One training run in a worker: ``(library, algorithm, seed, steps)`` -> wall seconds and final return."""
    from dlfrontier.runtime import cpu_threads

    with cpu_threads(1):  # several workers share the cores
        return _train_and_score(*task)


ENVS = {"dqn": "CartPole-v1", "ppo": "CartPole-v1", "sac": "Pendulum-v1"}  # SAC: SB3's defaults, lr 1e-3 (zoo)


def _train_and_score(lib: str, algo: str, seed: int, steps: int) -> dict[str, Any]:
    import gymnasium as gym

    from dlfrontier.rl.common.evaluation import evaluate_policy, greedy

    eval_env = gym.make(ENVS[algo])
    t = time.perf_counter()
    if lib == "ours":
        from dlfrontier.rl import DQN, PPO, SAC

        if algo == "dqn":
            agent: Any = DQN("CartPole-v1", seed=seed, hidden=(256, 256), **DQN_ZOO).learn(steps)
        elif algo == "sac":
            agent = SAC("Pendulum-v1", seed=seed, learning_rate=1e-3).learn(steps)
        else:
            agent = PPO("CartPole-v1", seed=seed, n_envs=8).learn(steps)
        wall = time.perf_counter() - t
        returns = evaluate_policy(greedy(agent), eval_env, EVAL_EPISODES, seed=10_000)
    else:
        from dlfrontier.errors import require

        sb3 = require("stable_baselines3", "dev")
        from stable_baselines3.common.env_util import make_vec_env

        if algo == "dqn":
            model = sb3.DQN("MlpPolicy", "CartPole-v1", seed=seed, policy_kwargs={"net_arch": [256, 256]}, **DQN_ZOO)
        elif algo == "sac":
            model = sb3.SAC("MlpPolicy", "Pendulum-v1", seed=seed, learning_rate=1e-3)
        else:
            model = sb3.PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=8, seed=seed), seed=seed)
        model.learn(steps)
        wall = time.perf_counter() - t
        def predict(obs: np.ndarray) -> np.ndarray:
            return model.predict(obs, deterministic=True)[0]

        returns = evaluate_policy(predict, eval_env, EVAL_EPISODES, seed=10_000)
    return {"lib": lib, "algo": algo, "seed": seed, "steps": steps, "wall_s": wall, "sps": steps / wall,
            "final_return": float(np.mean(returns))}


def _iqm(x: list[float]) -> float:
    from dlfrontier.stats import iqm

    return iqm(x)


@benchmark("rl", summary="DQN and PPO on CartPole-v1: wall time and final return, ours vs Stable-Baselines3")
def rl_vs_sb3(quick: bool, out: Path) -> dict[str, Any]:
    """Run the comparison over 5 seeds; ``quick`` runs seed 0 only (same budgets: a noisy but real ratio)."""
    from dlfrontier.errors import require
    from dlfrontier.tracking import atomic_write_json

    require("stable_baselines3", "dev")
    seeds = [0] if quick else [0, 1, 2, 3, 4]
    budgets = {"dqn": 50_000, "ppo": 100_000}
    tasks = [(lib, algo, s, budgets[algo]) for algo in budgets for s in seeds for lib in ("ours", "sb3")]
    env_sps = raw_env_sps()
    ctx = mp.get_context("spawn")
    with ctx.Pool(processes=min(2, len(tasks)), maxtasksperchild=1) as pool:
        runs = pool.map(_run, tasks, chunksize=1)
    results: dict[str, Any] = {"quick": quick, "seeds": seeds, "budgets": budgets, "raw_env_sps": env_sps,
                               "runs": runs, "algorithms": {}}
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"ours vs Stable-Baselines3 on CartPole-v1 (raw env: {env_sps:,.0f} steps/s)")
    for col in ("algo", "steps", "ours s", "SB3 s", "ours/SB3", "ours IQM", "SB3 IQM", "ours sps", "SB3 sps"):
        table.add_column(col)
    for algo in budgets:
        mine = [r for r in runs if r["algo"] == algo and r["lib"] == "ours"]
        theirs = [r for r in runs if r["algo"] == algo and r["lib"] == "sb3"]
        ours_wall = float(np.mean([r["wall_s"] for r in mine]))
        sb3_wall = float(np.mean([r["wall_s"] for r in theirs]))
        row = {
            "steps": budgets[algo], "ours_wall_s": ours_wall, "sb3_wall_s": sb3_wall, "ratio": ours_wall / sb3_wall,
            "ours_iqm": _iqm([r["final_return"] for r in mine]), "sb3_iqm": _iqm([r["final_return"] for r in theirs]),
            "ours_sps": budgets[algo] / ours_wall, "sb3_sps": budgets[algo] / sb3_wall,
        }
        results["algorithms"][algo] = row
        table.add_row(algo, f"{row['steps']:,}", f"{ours_wall:.1f}", f"{sb3_wall:.1f}", f"{row['ratio']:.2f}",
                      f"{row['ours_iqm']:.1f}", f"{row['sb3_iqm']:.1f}", f"{row['ours_sps']:,.0f}",
                      f"{row['sb3_sps']:,.0f}")
    Console().print(table)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "rl.json", results)
    return results

"""Benchmark ``atari``: raw env steps/s, training steps/s of DQN and PPO and replay memory, MinAtar and ALE Breakout.

Paper: Mnih et al., "Human-level control through deep reinforcement learning" (Nature 2015,
https://www.nature.com/articles/nature14236) for the 1M-transition replay memory whose size is measured here.

Everything runs in this process with one torch thread. Raw rates use uniform random actions and no learning
(single env; Gymnasium sync and async vector envs of 8; EnvPool when installed). Training rates are measured
after ``learning_starts`` (DQN) or over whole rollouts and updates (PPO) and reported with their ratio to the
raw single-env rate. Replay memory: bytes per transition of the frame buffer against stacked storage.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from dlfrontier.bench import benchmark
from dlfrontier.runtime import cpu_threads

N_VEC = 8


def _raw_single(env_id: str, seconds: float) -> float:
    env = gym.make(env_id)
    env.reset(seed=0)
    env.action_space.seed(0)
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        n += 1
        if term or trunc:
            env.reset()
    env.close()
    return n / (time.perf_counter() - t)


def _raw_vector(envs: Any, seconds: float) -> float:
    envs.reset(seed=0)
    space = envs.single_action_space if hasattr(envs, "single_action_space") else envs.action_space
    rng = np.random.default_rng(0)
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        envs.step(rng.integers(0, space.n, size=N_VEC))
        n += N_VEC
    rate = n / (time.perf_counter() - t)
    envs.close()
    return rate


def _train_rate(make_agent: Any, warmup: int, steps: int) -> float:
    agent = make_agent()
    agent.learn(warmup)
    t = time.perf_counter()
    agent.learn(steps)
    return steps / (time.perf_counter() - t)


@benchmark("atari", summary="MinAtar and ALE Breakout: raw env steps/s, DQN/PPO training steps/s, replay bytes")
def atari_bench(quick: bool, out: Path) -> dict[str, Any]:
    """Measure env and training throughput and replay memory; ``quick`` shortens every measurement."""
    from rich.console import Console
    from rich.table import Table

    from dlfrontier.errors import require
    from dlfrontier.rl import DQN, PPO
    from dlfrontier.rl.atari.buffer import FrameReplayBuffer
    from dlfrontier.rl.atari.minatar import minatar_id
    from dlfrontier.rl.atari.networks import minatar_cnn, nature_cnn
    from dlfrontier.rl.atari.vector import envpool_available, make_vector_env
    from dlfrontier.rl.atari.wrappers import atari_id
    from dlfrontier.rl.common.buffers import ReplayBuffer
    from dlfrontier.tracking import atomic_write_json

    require("minatar", "minatar")
    require("ale_py", "atari")
    secs = 3.0 if quick else 10.0
    games = {"minatar_breakout": minatar_id("Breakout"), "ale_breakout": atari_id("Breakout")}
    results: dict[str, Any] = {"quick": quick, "torch_threads": 1, "envs": {}, "replay": {}}
    dqn_cfg: dict[str, dict[str, Any]] = {
        "minatar_breakout": dict(features=minatar_cnn(), buffer_size=100_000, batch_size=32, train_freq=4,
                                 gradient_steps=1, target_update_interval=1_000, learning_starts=1_000,
                                 learning_rate=2.5e-4),
        "ale_breakout": dict(features=nature_cnn(), buffer_size=20_000, frame_buffer=True, batch_size=32,
                             train_freq=4, gradient_steps=1, target_update_interval=1_000, learning_starts=1_000,
                             learning_rate=1e-4),
    }
    ppo_cfg: dict[str, dict[str, Any]] = {
        "minatar_breakout": dict(features=minatar_cnn(), n_envs=8, n_steps=128, batch_size=256, n_epochs=4,
                                 share_features=True),
        "ale_breakout": dict(features=nature_cnn(), n_envs=8, n_steps=128, batch_size=256, n_epochs=4,
                             share_features=True),
    }
    with cpu_threads(1):
        for key, env_id in games.items():
            row: dict[str, Any] = {"env_id": env_id}
            row["raw_single_sps"] = _raw_single(env_id, secs)
            row["raw_sync8_sps"] = _raw_vector(make_vector_env(env_id, N_VEC, backend="sync"), secs)
            row["raw_async8_sps"] = _raw_vector(make_vector_env(env_id, N_VEC, backend="async"), secs)
            if key == "ale_breakout" and envpool_available():
                row["raw_envpool8_sps"] = _raw_vector(make_vector_env(env_id, N_VEC, backend="envpool"), secs)
            dqn_steps = (4_000 if quick else 20_000) if key == "minatar_breakout" else (400 if quick else 2_000)
            row["dqn_train_sps"] = _train_rate(lambda k=key, e=env_id: DQN(e, seed=0, **dqn_cfg[k]), 1_000, dqn_steps)
            ppo_steps = 1024 * (2 if quick else 8) if key == "minatar_breakout" else 1024 * (1 if quick else 3)
            row["ppo_train_sps"] = _train_rate(lambda k=key, e=env_id: PPO(e, seed=0, **ppo_cfg[k]), 1024, ppo_steps)
            row["dqn_ratio"] = row["dqn_train_sps"] / row["raw_single_sps"]
            row["ppo_ratio"] = row["ppo_train_sps"] / row["raw_single_sps"]
            results["envs"][key] = row

    # replay memory per 1M transitions: frames once vs stacked obs + next_obs (bytes per transition x 1e6)
    frame_buf = FrameReplayBuffer(100_000, (4, 84, 84))
    env = gym.make(atari_id("Breakout"))
    obs, _ = env.reset(seed=0)
    n_fill = 2_000 if quick else 10_000
    for _ in range(n_fill):  # real frames: measures frames written per transition (episode starts included)
        nxt, r, term, trunc, _ = env.step(env.action_space.sample())
        frame_buf.add(obs, 0, float(r), nxt, term, 0.99)
        obs = nxt if not (term or trunc) else env.reset()[0]
    per_frame = frame_buf.frames.nbytes / frame_buf.frame_capacity
    measured = frame_buf.frames_written / n_fill * per_frame + (frame_buf.bytes_per_transition() - per_frame * (
        frame_buf.frame_capacity / frame_buf.capacity))
    stacked = ReplayBuffer(10, (4, 84, 84), np.uint8)
    stacked_per = sum(a.nbytes for a in (stacked.obs, stacked.next_obs, stacked.actions, stacked.rewards,
                                         stacked.dones, stacked.discounts)) / 10
    minatar_plain = ReplayBuffer(10, (10, 10, 4), np.uint8)
    minatar_per = sum(a.nbytes for a in (minatar_plain.obs, minatar_plain.next_obs, minatar_plain.actions,
                                         minatar_plain.rewards, minatar_plain.dones, minatar_plain.discounts)) / 10
    results["replay"] = {
        "frame_buffer_bytes_per_transition_allocated": frame_buf.bytes_per_transition(),
        "frame_buffer_bytes_per_transition_measured": measured,
        "frames_written_per_transition": frame_buf.frames_written / n_fill,
        "frame_buffer_gib_per_1m": measured * 1e6 / 2**30,
        "stacked_bytes_per_transition": stacked_per,
        "stacked_gib_per_1m": stacked_per * 1e6 / 2**30,
        "minatar_bytes_per_transition": minatar_per,
        "minatar_gib_per_1m": minatar_per * 1e6 / 2**30,
    }

    console = Console()
    table = Table(title="Atari throughput (steps/s, 1 torch thread)")
    for col in ("env", "raw single", "sync x8", "async x8", "envpool x8", "DQN train", "DQN/raw", "PPO train",
                "PPO/raw"):
        table.add_column(col)
    for key, row in results["envs"].items():
        ep = f"{row['raw_envpool8_sps']:,.0f}" if "raw_envpool8_sps" in row else "not installed"
        table.add_row(key, f"{row['raw_single_sps']:,.0f}", f"{row['raw_sync8_sps']:,.0f}",
                      f"{row['raw_async8_sps']:,.0f}", ep, f"{row['dqn_train_sps']:,.0f}", f"{row['dqn_ratio']:.3f}",
                      f"{row['ppo_train_sps']:,.0f}", f"{row['ppo_ratio']:.3f}")
    console.print(table)
    rp = results["replay"]
    console.print(f"replay per 1M transitions: frame buffer {rp['frame_buffer_gib_per_1m']:.2f} GiB "
                  f"({rp['frame_buffer_bytes_per_transition_measured']:,.0f} B/transition, "
                  f"{rp['frames_written_per_transition']:.3f} frames written per transition); stacked "
                  f"{rp['stacked_gib_per_1m']:.1f} GiB; MinAtar {rp['minatar_gib_per_1m']:.2f} GiB")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "atari.json", results)
    return results

"""Peer measurement: Stable-Baselines3's SAC or TD3 on Hopper-v5 with rl-zoo's MuJoCo settings, our evaluation protocol.

What it answers: does the peer's implementation reach `sac-hopper`'s / `td3-hopper`'s quick criterion (>= 1,000 at
100k steps) with the settings our one-step runs use? It trains SB3 (rl-baselines3-zoo hyperparams for MuJoCo:
SB3 defaults with ``learning_starts`` 10,000; TD3: Gaussian action noise 0.1; 256x256 networks for both, as ours) and
evaluates the deterministic policy like our experiments do: 10 episodes on a separate env from seed 10,000, every
``--eval-every`` steps. (SAC's network is SB3's default; the SAC numbers in docs/robot.md hold for this version.)

Paper: Raffin et al., "Stable-Baselines3: Reliable Reinforcement Learning Implementations" (JMLR 2021,
https://jmlr.org/papers/v22/20-1364.html).

Usage: ``python benchmarks/sb3_peer_hopper.py --algo sac --seeds 0 1 2 [--steps 100000] [--out FILE.json]``; one
torch thread; the seeds run one after another; the JSON is rewritten (atomically) after every evaluation.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

ENV_ID = "Hopper-v5"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", choices=("sac", "td3"), default="sac")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--eval-every", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "sb3_peer_hopper.json")
    args = parser.parse_args()

    import torch
    from stable_baselines3 import SAC, TD3
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.noise import NormalActionNoise

    from dlfrontier.rl.common.env import make_env
    from dlfrontier.rl.common.evaluation import EVAL_SEED, evaluate_policy
    from dlfrontier.tracking import atomic_write_json

    torch.set_num_threads(1)
    results: dict[str, Any] = {"env": ENV_ID, "algo": args.algo, "steps": args.steps, "runs": {}}

    class Evaluate(BaseCallback):
        def __init__(self, seed: int) -> None:
            super().__init__()
            self.seed, self.env, self.t0 = seed, make_env(ENV_ID), time.perf_counter()
            self.rows: list[dict[str, float]] = []

        def _on_step(self) -> bool:
            if self.num_timesteps % args.eval_every == 0:
                model = self.model

                def predict(obs: np.ndarray) -> np.ndarray:
                    return model.predict(obs, deterministic=True)[0]

                ret = float(np.mean(evaluate_policy(predict, self.env, 10, seed=EVAL_SEED)))
                self.rows.append({"step": self.num_timesteps, "eval_return": ret,
                                  "wall_s": time.perf_counter() - self.t0})
                results["runs"][str(self.seed)] = self.rows
                atomic_write_json(args.out, results)
                print(f"seed {self.seed} step {self.num_timesteps}: {ret:.1f}", flush=True)
            return True

    for seed in args.seeds:
        # 256x256 for both, as ours (SB3's TD3 default is 400x300)
        common: dict[str, Any] = {"seed": seed, "learning_starts": 10_000, "verbose": 0,
                                  "policy_kwargs": {"net_arch": [256, 256]}}
        if args.algo == "sac":
            model = SAC("MlpPolicy", ENV_ID, **common)
        else:
            dim = int(np.prod(make_env(ENV_ID).action_space.shape or ()))
            noise = NormalActionNoise(np.zeros(dim), 0.1 * np.ones(dim))
            model = TD3("MlpPolicy", ENV_ID, action_noise=noise, **common)
        model.learn(args.steps, callback=Evaluate(seed))


if __name__ == "__main__":
    main()

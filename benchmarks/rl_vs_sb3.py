"""Our DQN and PPO versus Stable-Baselines3 on CartPole-v1 (wall time, final return); see dlfrontier.rl.bench.

Paper: Raffin et al., "Stable-Baselines3: Reliable Reinforcement Learning Implementations" (JMLR 2021,
https://jmlr.org/papers/v22/20-1364.html).

Usage: ``python benchmarks/rl_vs_sb3.py [--quick]`` (the same as ``dlfrontier bench rl [--quick]``); results go
to ``benchmarks/results/rl.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dlfrontier.rl.bench import rl_vs_sb3

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seed 0 only (5 seeds without it)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    rl_vs_sb3(args.quick, args.out)

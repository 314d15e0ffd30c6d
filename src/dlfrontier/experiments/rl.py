"""Deep RL experiments: DQN, REINFORCE, A2C, PPO and SAC on classic-control Gymnasium tasks.

Papers: Mnih et al., "Human-level control through deep reinforcement learning" (2015,
https://www.nature.com/articles/nature14236); Williams (1992, https://doi.org/10.1007/BF00992696); Mnih et al.,
"Asynchronous Methods for Deep RL" (2016, https://arxiv.org/abs/1602.01783); Schulman et al., "Proximal Policy
Optimization Algorithms" (2017, https://arxiv.org/abs/1707.06347); Haarnoja et al., "Soft Actor-Critic
Algorithms and Applications" (2018, https://arxiv.org/abs/1812.05905).

Each experiment's config is its algorithm's config plus the run settings (steps, evaluation). Evaluation uses a
separate env, deterministic actions and a fixed number of episodes from a fixed seed; each evaluation point
logs ``eval/return``, ``rollout/return``, the algorithm's ``train/*`` statistics and ``time/sps``, and saves a
checkpoint (the agent's full training state, replay buffer included) that ``--resume`` continues from.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from dlfrontier.experiments.base import Anchor, Expect, RunContext, experiment, rng_state, set_rng_state
from dlfrontier.rl import A2C, DQN, PPO, REINFORCE, SAC, Algorithm
from dlfrontier.rl.a2c import A2CConfig
from dlfrontier.rl.common.evaluation import evaluate_policy
from dlfrontier.rl.dqn import DQNConfig
from dlfrontier.rl.ppo import PPOConfig
from dlfrontier.rl.reinforce import REINFORCEConfig
from dlfrontier.rl.sac import SACConfig

EVAL_SEED = 10_000  # every run and every evaluation point sees the same evaluation episodes


@dataclass
class RunSettings:
    total_steps: int = field(default=50_000, metadata={"help": "environment steps to train"})
    eval_every: int = field(default=5_000, metadata={"help": "env steps between evaluations (and checkpoints)"})
    eval_episodes: int = field(default=10, metadata={"help": "deterministic evaluation episodes"})


@dataclass
class DQNRun(DQNConfig, RunSettings):
    pass


@dataclass
class PPORun(PPOConfig, RunSettings):
    pass


@dataclass
class A2CRun(A2CConfig, RunSettings):
    pass


@dataclass
class REINFORCERun(REINFORCEConfig, RunSettings):
    pass


@dataclass
class SACRun(SACConfig, RunSettings):
    pass


def train_and_evaluate(ctx: RunContext, cfg: Any, algo_cls: type[Algorithm], env_id: str) -> dict[str, float]:
    """Train ``algo_cls`` on ``env_id`` with evaluation points, checkpoints and resume; the final metrics."""
    run_keys = {f.name for f in dataclasses.fields(RunSettings)}
    algo_kwargs = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in run_keys}
    agent = algo_cls(env_id, seed=ctx.seed, device=ctx.device, **algo_kwargs)
    threads = torch.get_num_threads()
    if agent.device.type == "cpu":
        torch.set_num_threads(1)  # small MLPs: extra threads cost more in synchronization than they save
    try:
        return _train(ctx, cfg, agent)
    finally:
        torch.set_num_threads(threads)


def _train(ctx: RunContext, cfg: Any, agent: Algorithm) -> dict[str, float]:
    eval_env = agent.make_eval_env()

    def eval_metrics(a: Algorithm) -> dict[str, float]:
        returns = evaluate_policy(a.predict, eval_env, cfg.eval_episodes, seed=EVAL_SEED)
        return {"eval/return": float(returns.mean()), "eval/return_std": float(returns.std()),
                "rollout/return": a.recent_return()}

    return train_with_evaluations(ctx, cfg, agent, eval_metrics)


def train_with_evaluations(
    ctx: RunContext,
    cfg: Any,
    agent: Algorithm,
    eval_metrics: Callable[[Algorithm], dict[str, float]],
    *,
    include_buffer: bool = True,
) -> dict[str, float]:
    """Train ``agent`` for ``cfg.total_steps`` with an evaluation point and checkpoint every ``cfg.eval_every``
    steps (and at the end), resuming from ``ctx.resume_state``; returns the last evaluation's finite metrics.

    ``eval_metrics(agent)`` plays the evaluation games (``eval/return`` first); steps per second and the
    algorithm's own statistics are added. ``include_buffer``: checkpoint the replay buffer (exact resume).
    """
    train_seconds = 0.0
    if ctx.resume_state is not None:
        agent.load_state_dict(ctx.resume_state["agent"])
        set_rng_state(ctx.resume_state["rng"])
        train_seconds = float(ctx.resume_state["train_seconds"])
    ctx.progress.start(cfg.total_steps)
    last: dict[str, float] = {}
    clock = {"t": time.perf_counter(), "steps": agent.num_steps}
    evaluated_at = [-1]

    def evaluate(a: Algorithm) -> None:
        nonlocal train_seconds
        now = time.perf_counter()
        train_seconds += now - clock["t"]
        sps = (a.num_steps - clock["steps"]) / max(now - clock["t"], 1e-9)
        metrics = {**eval_metrics(a), "time/sps": float(sps), **a.stats}
        ctx.logger.log(metrics, a.num_steps)
        ctx.progress.update(a.num_steps, eval_return=metrics["eval/return"])
        last.clear()
        last.update(metrics)
        state = {"agent": a.state_dict(include_buffer=include_buffer), "rng": rng_state(),
                 "train_seconds": train_seconds}
        ctx.save_checkpoint(state, a.num_steps)
        clock["t"], clock["steps"] = time.perf_counter(), a.num_steps
        evaluated_at[0] = a.num_steps

    remaining = cfg.total_steps - agent.num_steps
    if remaining > 0:
        agent.learn(remaining, callback=evaluate, callback_every=cfg.eval_every)
    if evaluated_at[0] != agent.num_steps:
        evaluate(agent)  # the final policy is always evaluated
    out = {k: v for k, v in last.items() if np.isfinite(v)}
    out["time/train_seconds"] = train_seconds
    out["time/sps"] = agent.num_steps / max(train_seconds, 1e-9)
    return out


# ---------------------------------------------------------------------------------------------------------
# DQN

# rl-baselines3-zoo hyperparams/dqn.yml, CartPole-v1 (the DQNConfig defaults), plus Double DQN, a dueling head,
# 3-step returns and a learning rate of 1e-3 annealed to 0: with the zoo settings alone the final policy of
# 1 in 3 seeds oscillates (as SB3's does, see docs/rl.md)
DQN_CARTPOLE_QUICK: dict[str, Any] = {
    "total_steps": 50_000, "eval_every": 10_000, "double": True, "dueling": True, "n_step": 3, "learning_rate": 1e-3,
    "lr_decay": True,
}


@experiment(
    "dqn-cartpole",
    group="rl",
    summary="DQN (Double, replay, target net; rl-zoo settings) on CartPole-v1",
    topic="value-based deep RL: DQN with experience replay and a target network",
    config=DQNRun,
    budgets={"quick": DQN_CARTPOLE_QUICK, "full": {**DQN_CARTPOLE_QUICK, "total_steps": 500_000, "eval_every": 25_000}},
    anchor=Anchor("eval/return", 488.7, "CleanRL dqn.py CartPole-v1 488.7±16.1 at 500k steps; rl-zoo DQN 500±0 at 50k"),
    expect=Expect("eval/return", ">=", 475.0),
    curve="eval/return",
    demo=True,
)
def dqn_cartpole(ctx: RunContext, cfg: DQNRun) -> dict[str, float]:
    return train_and_evaluate(ctx, cfg, DQN, "CartPole-v1")


# rl-baselines3-zoo hyperparams/dqn.yml, Acrobot-v1, with Double DQN; the quick budget halves the zoo's 100k steps
# and does 1 gradient step per 4 env steps instead of 4 (8x fewer updates, for 2 CPU cores)
DQN_ACROBOT: dict[str, Any] = {
    "total_steps": 50_000, "eval_every": 10_000, "learning_rate": 6.3e-4, "batch_size": 128, "buffer_size": 50_000,
    "learning_starts": 0, "gamma": 0.99, "target_update_interval": 250, "train_freq": 4, "gradient_steps": 1,
    "exploration_fraction": 0.12, "exploration_final_eps": 0.1, "hidden": (256, 256), "double": True,
    # Not in rl-zoo: the learning rate decays linearly to 0. With a constant rate the greedy policy at the last
    # evaluation failed to swing up (-500 / -425) on 2 of 5 seeds; with the decay those seeds end at -78 / -86.
    "lr_decay": True,
}


@experiment(
    "dqn-acrobot",
    group="rl",
    summary="Double DQN (rl-zoo Acrobot settings) on Acrobot-v1",
    topic="value-based deep RL: DQN with experience replay and a target network",
    config=DQNRun,
    budgets={"quick": DQN_ACROBOT, "full": {**DQN_ACROBOT, "total_steps": 100_000, "gradient_steps": 4}},
    anchor=Anchor("eval/return", -76.6, "rl-zoo benchmark.md: DQN Acrobot-v1 -76.6±11.8 at 100k steps (one run)"),
    expect=Expect("eval/return", ">=", -150.0),
    curve="eval/return",
)
def dqn_acrobot(ctx: RunContext, cfg: DQNRun) -> dict[str, float]:
    return train_and_evaluate(ctx, cfg, DQN, "Acrobot-v1")


# ---------------------------------------------------------------------------------------------------------
# PPO

# rl-baselines3-zoo hyperparams/ppo.yml, CartPole-v1 (lin_ schedules -> anneal=True)
PPO_CARTPOLE: dict[str, Any] = {
    "total_steps": 100_000, "eval_every": 20_480, "n_envs": 8, "n_steps": 32, "batch_size": 256,
    "gae_lambda": 0.8, "gamma": 0.98, "n_epochs": 20, "ent_coef": 0.0, "learning_rate": 1e-3, "clip_range": 0.2,
    "anneal": True,
}


@experiment(
    "ppo-cartpole",
    group="rl",
    summary="PPO (clip, GAE, 8 envs; rl-zoo settings) on CartPole-v1",
    topic="actor-critic deep RL: proximal policy optimization",
    config=PPORun,
    budgets={"quick": PPO_CARTPOLE, "full": {**PPO_CARTPOLE, "total_steps": 500_000, "eval_every": 25_600}},
    anchor=Anchor("eval/return", 490.0, "CleanRL ppo.py CartPole-v1 490.0±6.1 at 500k steps"),
    expect=Expect("eval/return", ">=", 475.0),
    curve="eval/return",
)
def ppo_cartpole(ctx: RunContext, cfg: PPORun) -> dict[str, float]:
    return train_and_evaluate(ctx, cfg, PPO, "CartPole-v1")


# rl-baselines3-zoo hyperparams/ppo.yml, Pendulum-v1, without gSDE (a state-independent log std instead)
PPO_PENDULUM: dict[str, Any] = {
    "total_steps": 100_000, "eval_every": 16_384, "n_envs": 4, "n_steps": 1024, "gae_lambda": 0.95,
    "gamma": 0.9, "n_epochs": 10, "ent_coef": 0.0, "learning_rate": 1e-3, "clip_range": 0.2, "batch_size": 64,
}


@experiment(
    "ppo-pendulum",
    group="rl",
    summary="PPO (Gaussian policy, 4 envs; rl-zoo settings without gSDE) on Pendulum-v1",
    topic="actor-critic deep RL: proximal policy optimization, continuous actions",
    config=PPORun,
    budgets={"quick": PPO_PENDULUM, "full": {**PPO_PENDULUM, "total_steps": 1_000_000, "eval_every": 40_960}},
    anchor=Anchor("eval/return", -169.9, "rl-zoo benchmark.md: PPO Pendulum-v0 -169.9±104.9 (gSDE, 2M steps, one run)"),
    expect=Expect("eval/return", ">=", -300.0),  # random: about -1200
    curve="eval/return",
)
def ppo_pendulum(ctx: RunContext, cfg: PPORun) -> dict[str, float]:
    return train_and_evaluate(ctx, cfg, PPO, "Pendulum-v1")


# ---------------------------------------------------------------------------------------------------------
# A2C and REINFORCE

# rl-baselines3-zoo hyperparams/a2c.yml, CartPole-v1: 8 envs, ent_coef 0, SB3 defaults otherwise
A2C_CARTPOLE: dict[str, Any] = {"total_steps": 200_000, "eval_every": 40_000, "n_envs": 8, "ent_coef": 0.0}


@experiment(
    "a2c-cartpole",
    group="rl",
    summary="A2C (8 envs, 5-step returns; rl-zoo settings) on CartPole-v1",
    topic="actor-critic deep RL: advantage actor-critic",
    config=A2CRun,
    budgets={"quick": A2C_CARTPOLE, "full": {**A2C_CARTPOLE, "total_steps": 500_000, "eval_every": 25_000}},
    anchor=Anchor("eval/return", 500.0, "rl-zoo benchmark.md: A2C CartPole-v1 500±0 at 500k steps (one run)"),
    expect=Expect("eval/return", ">=", 300.0),
    curve="eval/return",
)
def a2c_cartpole(ctx: RunContext, cfg: A2CRun) -> dict[str, float]:
    return train_and_evaluate(ctx, cfg, A2C, "CartPole-v1")


REINFORCE_CARTPOLE: dict[str, Any] = {"total_steps": 100_000, "eval_every": 20_000}


@experiment(
    "reinforce-cartpole",
    group="rl",
    summary="REINFORCE with a learned baseline on CartPole-v1",
    topic="policy-based deep RL: Monte Carlo policy gradient",
    config=REINFORCERun,
    budgets={"quick": REINFORCE_CARTPOLE, "full": {**REINFORCE_CARTPOLE, "total_steps": 500_000, "eval_every": 25_000}},
    anchor=Anchor("eval/return", 500.0, "CartPole-v1 maximum return (500); random policy about 22"),
    expect=Expect("eval/return", ">=", 300.0),
    curve="eval/return",
)
def reinforce_cartpole(ctx: RunContext, cfg: REINFORCERun) -> dict[str, float]:
    return train_and_evaluate(ctx, cfg, REINFORCE, "CartPole-v1")


# ---------------------------------------------------------------------------------------------------------
# SAC

# rl-baselines3-zoo hyperparams/sac.yml, Pendulum-v1 (lr 1e-3, SB3 defaults otherwise); the quick budget uses
# 64x64 networks and 10k of the zoo's 20k steps (SAC solves Pendulum in about 5k steps; 4x less CPU per step)
SAC_PENDULUM: dict[str, Any] = {"total_steps": 10_000, "eval_every": 1_000, "learning_rate": 1e-3, "hidden": (64, 64)}
SAC_PENDULUM_FULL: dict[str, Any] = {"total_steps": 20_000, "eval_every": 2_000, "learning_rate": 1e-3}


@experiment(
    "sac-pendulum",
    group="rl",
    summary="SAC (twin critics, automatic temperature; rl-zoo settings) on Pendulum-v1",
    topic="maximum-entropy actor-critic: soft actor-critic",
    config=SACRun,
    budgets={"quick": SAC_PENDULUM, "full": SAC_PENDULUM_FULL},
    anchor=Anchor("eval/return", -157.0, "rl-zoo benchmark.md: SAC Pendulum-v0 -157.0±88.7 at 20k steps (one run)"),
    expect=Expect("eval/return", ">=", -200.0),
    curve="eval/return",
)
def sac_pendulum(ctx: RunContext, cfg: SACRun) -> dict[str, float]:
    return train_and_evaluate(ctx, cfg, SAC, "Pendulum-v1")

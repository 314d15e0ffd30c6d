"""Figures of the business experiments: the learning curve against the baselines and one held-out episode.

Every function writes a PNG (matplotlib, Agg backend) and returns its path. The episode traces take
``{name: (policy, env)}`` (the agent and the best baseline, each in the env it acts in) and play the same
scenario seed with each.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

Runs = Mapping[str, tuple[Any, gym.Env]]
STAGES = ["retailer", "distributor", "manufacturer", "stage 3", "stage 4"]


def play_episode(env: gym.Env, policy: Any, seed: int) -> dict[str, Any]:
    """Play one episode with deterministic actions and return a copy of the env's ``history``."""
    obs, _ = env.reset(seed=seed)
    if hasattr(policy, "reset"):
        policy.reset()
    done = False
    while not done:
        a = policy.predict(obs, deterministic=True)
        obs, _, term, trunc, _ = env.step(a[0] if isinstance(a, tuple) else a)
        done = term or trunc
    return copy.deepcopy(env.unwrapped.history)  # type: ignore[attr-defined]


def _figure(rows: int, cols: int, size: tuple[float, float]) -> tuple[Any, Any, np.ndarray]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    return plt, fig, axes


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_learning_curve(path: Path, evaluations: Sequence[tuple[int, float]], rollouts: Sequence[tuple[int, float]],
                        baselines: Mapping[str, float]) -> Path:
    """The agent's held-out return at each evaluation point (deterministic, the baselines' scenarios) and its
    training-episode return (stochastic), with each baseline's held-out return as a dashed line."""
    plt, fig, axes = _figure(1, 1, (6, 3.5))
    ax = axes[0, 0]
    if evaluations:
        s, r = zip(*evaluations, strict=True)
        ax.plot(s, r, "o-", color="C0", label="PPO (held-out, deterministic)")
    finite = [(s, r) for s, r in rollouts if np.isfinite(r)]
    if finite:
        s, r = zip(*finite, strict=True)
        ax.plot(s, r, color="C0", alpha=0.4, label="PPO (training episodes, stochastic)")
    for i, (name, v) in enumerate(baselines.items()):
        ax.axhline(v, ls="--", color=f"C{i + 1}", label=f"{name} (held-out)")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    ax.legend(fontsize=8)
    return _save(plt, fig, Path(path))


def inventory_trace(path: Path, runs: Runs, seed: int) -> Path:
    """Stock and orders per stage, and the demand, over one episode for each policy (a column each)."""
    plt, fig, axes = _figure(2, len(runs), (4.5 * len(runs), 5.5))
    for col, (name, (pol, env)) in enumerate(runs.items()):
        h = play_episode(env, pol, seed)
        stock, orders = np.asarray(h["on_hand"]), np.asarray(h["orders"])
        for i in range(stock.shape[1]):
            axes[0, col].plot(stock[:, i], label=STAGES[i])
            axes[1, col].step(range(len(orders)), orders[:, i], where="post", label=STAGES[i])
        axes[1, col].plot(h["demand"], "k:", label="demand")
        axes[0, col].set_title(f"{name}: profit {sum(h['profit']):.0f}")
        axes[0, col].set_ylabel("on-hand stock")
        axes[1, col].set_ylabel("orders shipped")
        axes[1, col].set_xlabel("period")
    axes[0, 0].legend(fontsize=7)
    axes[1, 0].legend(fontsize=7)
    return _save(plt, fig, Path(path))


def portfolio_trace(path: Path, runs: Runs, seed: int, *, agent: str = "ppo") -> Path:
    """Wealth of each policy over one episode (bear days shaded) and the agent's weights."""
    plt, fig, axes = _figure(2, 1, (8, 5.5))
    for name, (pol, env) in runs.items():
        h = play_episode(env, pol, seed)
        axes[0, 0].plot(np.exp(h["log_wealth"]), label=name)
        if name == agent:
            w, regime = np.asarray(h["weights"]), np.asarray(h["regime"])
            axes[1, 0].stackplot(range(len(w)), w.T, labels=[f"asset {i}" for i in range(w.shape[1] - 1)] + ["cash"])
            for ax in (axes[0, 0], axes[1, 0]):
                for t in np.flatnonzero(regime == 1):
                    ax.axvspan(t, t + 1, color="red", alpha=0.08, lw=0)
    axes[0, 0].set_ylabel("wealth")
    axes[0, 0].set_title("held-out scenario (red: bear regime)")
    axes[0, 0].legend(fontsize=8)
    axes[1, 0].set_ylabel(f"{agent} weights")
    axes[1, 0].set_xlabel("day")
    axes[1, 0].legend(fontsize=7, loc="upper right")
    return _save(plt, fig, Path(path))


def dispatch_trace(path: Path, runs: Runs, seed: int) -> Path:
    """Cumulative served and expired requests, and idle drivers, over one day for each policy."""
    plt, fig, axes = _figure(1, 2, (10, 3.8))
    for i, (name, (pol, env)) in enumerate(runs.items()):
        h = play_episode(env, pol, seed)
        axes[0, 0].plot(np.cumsum(h["served"]), color=f"C{i}", label=f"{name} served")
        axes[0, 0].plot(np.cumsum(h["expired"]), color=f"C{i}", ls="--", label=f"{name} expired")
        axes[0, 1].plot(h["idle"], color=f"C{i}", label=name)
    axes[0, 0].set_xlabel("step (time of day)")
    axes[0, 0].set_ylabel("cumulative requests")
    axes[0, 0].legend(fontsize=8)
    axes[0, 1].set_xlabel("step (time of day)")
    axes[0, 1].set_ylabel("idle drivers before repositioning")
    axes[0, 1].legend(fontsize=8)
    return _save(plt, fig, Path(path))


__all__ = ["dispatch_trace", "inventory_trace", "play_episode", "plot_learning_curve", "portfolio_trace"]

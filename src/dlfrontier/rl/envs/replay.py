"""``dlfrontier eval`` of the business PPO runs: the run's agent replayed on its env (see
:func:`dlfrontier.rl.common.replay.replay_run`); ``--gif`` draws the env's own frames.

Each run's PPO and env are rebuilt from its config as ``experiments/business.py`` builds them (the same case
builders of :mod:`~dlfrontier.rl.envs.compare` and the same features factory).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import gymnasium as gym
import torch

from dlfrontier.rl.common.networks import FeaturesFactory
from dlfrontier.rl.common.replay import LoadedRunLike, replay_run
from dlfrontier.rl.envs.compare import BusinessCase, dispatch_case, inventory_case, portfolio_case
from dlfrontier.rl.envs.features import portfolio_summary_features
from dlfrontier.rl.envs.portfolio import PortfolioEnv
from dlfrontier.rl.ppo import PPO

Kind = Literal["inventory", "portfolio", "dispatch"]


def business_setup(kind: Kind, cfg: Any) -> tuple[BusinessCase, FeaturesFactory | None]:
    """The case and the PPO features factory of a business run config (``InventoryRun``, ``PortfolioRun``,
    ``DispatchRun``)."""
    if kind == "inventory":
        return inventory_case(backlog=cfg.backlog), None
    if kind == "portfolio":
        n_assets = PortfolioEnv(cost=cfg.cost).n
        features = portfolio_summary_features(n_assets, tuple(cfg.algo.hidden)) if cfg.summary_features else None
        return portfolio_case(cost=cfg.cost, action_mode=cfg.action_mode), features
    if kind == "dispatch":
        return dispatch_case(n_drivers=cfg.n_drivers, action_mode=cfg.action_mode), None
    raise ValueError(f"unknown business case {kind!r}")


def evaluate_business(loaded: LoadedRunLike, *, kind: Kind, **kwargs: Any) -> dict[str, float]:
    """``dlfrontier eval`` of a ``ppo-<kind>`` run; ``kwargs``: see :func:`~dlfrontier.rl.common.replay.replay_run`."""
    case, features = business_setup(kind, loaded.config)

    def make_env(cfg: Any, render_mode: str | None) -> gym.Env:
        return gym.make(case.env_id, **case.env_kwargs, **({"render_mode": render_mode} if render_mode else {}))

    def build(cfg: Any, seed: int, device: torch.device) -> PPO:
        return PPO(make_env(cfg, None), features=features, seed=seed, device=device, **dataclasses.asdict(cfg.algo))

    return replay_run(loaded, build=build, make_env=make_env, **kwargs)


__all__ = ["business_setup", "evaluate_business"]

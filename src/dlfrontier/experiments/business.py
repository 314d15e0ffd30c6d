"""Deep RL for business decisions: PPO against the classic operations-research policies on held-out scenarios.

References: Hubbs et al., "OR-Gym: A Reinforcement Learning Library for Operations Research Problems" (2020,
https://arxiv.org/abs/2008.06319), who compare PPO with DFO-tuned base-stock policies (inventory) and with
mean-variance models (asset allocation); Lin et al., KDD 2018 (https://arxiv.org/abs/1802.06444) for RL
repositioning against greedy dispatch. The environments, the baselines and the comparison protocol (baselines
tuned on training scenarios, every policy played on the same held-out scenarios) live in
:mod:`dlfrontier.rl.envs` (:mod:`~dlfrontier.rl.envs.compare`, :mod:`~dlfrontier.rl.envs.plots`).

Each run: the baselines are tuned and scored first; PPO then trains with an evaluation point at step 0 (the
untrained policy) and every ``eval_every`` steps, which logs the training-episode return, PPO's statistics and
PPO's deterministic score on the held-out scenarios (``eval/gap_vs_best``...), and checkpoints; after training
the final comparison writes ``tables/policies.json``, ``learning_curve.png`` and ``episode_trace.png``.

How the settings were chosen: PPO's algorithm settings are its defaults with 8 envs x 256 steps and minibatches
of 256 (chosen in development on seeds 0-2); the budget-specific choices are stated beside each experiment. All
were chosen on seeds 0-2 (the publishing seeds) in an earlier session and are not re-tuned on seeds >= 100.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

import gymnasium as gym

from dlfrontier.experiments.base import LEARNS, Anchor, Baseline, Budget, Expect, Experiment, register
from dlfrontier.rl.common.networks import FeaturesFactory
from dlfrontier.rl.common.training import resumed_extra_state, train_with_evaluations
from dlfrontier.rl.envs import plots
from dlfrontier.rl.envs.compare import (
    BusinessCase,
    Comparison,
    EvaluationLog,
    dispatch_case,
    inventory_case,
    portfolio_case,
)
from dlfrontier.rl.envs.features import portfolio_summary_features
from dlfrontier.rl.envs.portfolio import PortfolioEnv
from dlfrontier.rl.envs.replay import evaluate_business
from dlfrontier.rl.ppo import PPO, PPOConfig
from dlfrontier.runtime import RunContext, cpu_threads, show_phase

# Seconds per quick run (wall time, 1 torch thread), the ETA of `dlfrontier run` and the time `dlfrontier list` shows:
# measured in the issue-15 re-runs (two runs side by side on 2 cores, beside other work)
TYPICAL_SECONDS: dict[str, float] = {"ppo-inventory": 77, "ppo-portfolio": 50, "ppo-dispatch": 53}


Trace = Callable[[Path, plots.Runs, int], Path]  # plots.inventory_trace, portfolio_trace, dispatch_trace

# The no-learning baselines of the criteria: measured with the quick settings (fit_episodes 20, eval_episodes 30,
# seeds 0-4) by scoring the random policy (RandomPolicy seeded with the run's seed) and the untrained PPO (the
# step-0 evaluation point) against the tuned baselines on the held-out scenarios; each declares the larger mean.
INVENTORY_BASELINE = Baseline(
    -1055.58, "untrained PPO (step-0 evaluation, deterministic) -1055.58 on each of seeds 0-4 (its initial Gaussian "
    "mean is near 0 for every seed: the same orders); uniform random orders -1063.32 (seeds 0-4: -1052.3 to -1088.3); "
    "30 held-out scenarios, best baseline base_stock")
PORTFOLIO_BASELINE = Baseline(
    -0.709, "untrained PPO (step-0 evaluation, deterministic) -0.709 mean over seeds 0-4 (-2.07, -0.06, -1.11, "
    "-0.21, -0.09); uniform random weights -1.039 (seeds 0-4: -0.88 to -1.21); 30 held-out scenarios")
DISPATCH_BASELINE = Baseline(
    -0.921, "untrained PPO (step-0 evaluation, deterministic) -0.921 mean over seeds 0-4 (+2.37, +3.82, -6.59, "
    "-2.45, -1.76: a fixed template rule can match hot spots); uniform random dispatch -31.21 (seeds 0-4: -30.0 to "
    "-32.9); 30 held-out scenarios, best baseline greedy_hotspots")


@dataclass
class BusinessRun:
    """PPO's settings (``algo``) and the run and comparison settings shared by the business experiments."""

    algo: PPOConfig = field(default_factory=PPOConfig, metadata={"help": "PPO's settings"})
    total_steps: int = field(default=100_000, metadata={"help": "PPO environment steps", "range": "[1, inf)"})
    eval_every: int = field(default=10_000, metadata={
        "help": "steps between evaluation points and checkpoints", "range": "[1, inf)"})
    fit_episodes: int = field(default=20, metadata={
        "help": "training scenarios to tune the baselines on", "range": "[1, inf)"})
    eval_episodes: int = field(default=30, metadata={
        "help": "held-out scenarios every policy is evaluated on", "range": "[1, inf)"})


@dataclass
class InventoryRun(BusinessRun):
    backlog: bool = field(default=True, metadata={"help": "backlog unmet demand (False: lost sales)"})


@dataclass
class PortfolioRun(BusinessRun):
    cost: float = field(default=0.001, metadata={"help": "proportional transaction cost", "range": "[0, inf)"})
    summary_features: bool = field(
        default=True, metadata={"help": "the agent sees the window's statistics and weights, not the raw returns"})
    action_mode: Literal["templates", "weights"] = field(
        default="templates",
        metadata={"help": "PPO's action: 'templates' (one of 7 template portfolios, categorical policy) or "
                          "'weights' (continuous scores, Gaussian policy); the baselines always set weights"})


@dataclass
class DispatchRun(BusinessRun):
    n_drivers: int = field(default=10, metadata={"help": "fleet size", "range": "[1, inf)"})
    action_mode: Literal["templates", "policy"] = field(
        default="templates",
        metadata={"help": "PPO's action: 'templates' (one of 7 dispatch rules, categorical policy) or 'policy' "
                          "(radius, target shares and fraction, Gaussian policy); the baselines always use 'policy'"})


def compare_with_baselines(ctx: RunContext, cfg: BusinessRun, case: BusinessCase, trace: Trace, *,
                           features: FeaturesFactory | None = None, trace_also: tuple[str, ...] = ()
                           ) -> dict[str, float]:
    """Tune and score the baselines, train PPO with evaluation points, then the final comparison and figures."""
    with cpu_threads(1):
        show_phase(ctx.progress, f"fitting baselines ({cfg.fit_episodes} scenarios, scored on {cfg.eval_episodes})")
        comparison = Comparison(case, cfg.fit_episodes, cfg.eval_episodes, seed=ctx.seed)
        show_phase(ctx.progress, "training PPO")
        agent = PPO(gym.make(case.env_id, **case.env_kwargs), features=features, seed=ctx.seed, device=ctx.device,
                    **dataclasses.asdict(cfg.algo))
        log = EvaluationLog(comparison, resumed_extra_state(ctx))
        trained = train_with_evaluations(ctx, agent, log.evaluate, total_steps=cfg.total_steps,
                                         eval_every=cfg.eval_every, extra_state=log.state_dict)
        show_phase(ctx.progress, "final comparison with the baselines")
        final = comparison.final(agent, ctx.run_dir)  # PPO's scores again (deterministic) and every baseline's
        plots.plot_learning_curve(ctx.run_dir / "learning_curve.png", log.evaluations, log.rollouts,
                                  {n: float(comparison.results[n]["return"].mean()) for n in comparison.heuristics})
        trace(ctx.run_dir / "episode_trace.png", comparison.trace_runs(agent, trace_also), comparison.eval_seeds[0])
    ctx.logger.log({k: v for k, v in final.items() if k not in trained}, agent.num_steps)
    return {**trained, **final}


def ppo_inventory(ctx: RunContext, cfg: InventoryRun) -> dict[str, float]:
    return compare_with_baselines(ctx, cfg, inventory_case(backlog=cfg.backlog), plots.inventory_trace)


def ppo_portfolio(ctx: RunContext, cfg: PortfolioRun) -> dict[str, float]:
    n_assets = PortfolioEnv(cost=cfg.cost).n
    features = portfolio_summary_features(n_assets, tuple(cfg.algo.hidden)) if cfg.summary_features else None
    return compare_with_baselines(ctx, cfg, portfolio_case(cost=cfg.cost, action_mode=cfg.action_mode),
                                  plots.portfolio_trace, features=features, trace_also=("equal_weight",))


def ppo_dispatch(ctx: RunContext, cfg: DispatchRun) -> dict[str, float]:
    return compare_with_baselines(ctx, cfg, dispatch_case(n_drivers=cfg.n_drivers, action_mode=cfg.action_mode),
                                  plots.dispatch_trace)


PPO_BUSINESS = {"n_envs": 8, "n_steps": 256, "batch_size": 256}  # PPO's defaults otherwise

register(Experiment(
    name="ppo-inventory",
    typical_seconds=TYPICAL_SECONDS["ppo-inventory"],
    group="rl",
    summary="PPO vs base-stock and (s, S) on the OR-Gym 4-stage supply chain (dlfrontier/Inventory-v0)",
    topic="Deep RL for business decisions: inventory management",
    config=InventoryRun,
    run=ppo_inventory,
    evaluate=partial(evaluate_business, kind="inventory"),
    # log_std_init -1: order noise of about a third of the capacity range, enough to explore. 250k steps: at
    # 150k one seed of three had not yet learned to stop ordering near the horizon (docs/business.md). Both
    # chosen on seeds 0-2 in an earlier session; not re-tuned on seeds >= 100.
    budgets={"quick": Budget({"total_steps": 250_000, "algo": {**PPO_BUSINESS, "log_std_init": -1.0}},
                             [Expect("eval/gap_vs_best", ">", 0.0), LEARNS]),
             "full": Budget({"total_steps": 2_000_000, "eval_episodes": 100,
                             "algo": {**PPO_BUSINESS, "log_std_init": -1.0}},
                            [Expect("eval/gap_vs_best", ">", 0.0), LEARNS])},
    anchor=Anchor("eval/gap_vs_best", 0.0, "Hubbs et al. 2020 (OR-Gym), InvManagement: PPO above the DFO-tuned "
                  "static base-stock policy, below the shrinking-horizon LP (no absolute number: our env differs)"),
    baseline=INVENTORY_BASELINE,
    demo=False,  # 250k steps; the demo shows the business envs with ppo-dispatch (60k steps)
))

register(Experiment(
    name="ppo-portfolio",
    typical_seconds=TYPICAL_SECONDS["ppo-portfolio"],
    group="rl",
    summary="PPO vs equal-weight, buy-and-hold and rolling Markowitz in a regime-switching market "
            "(dlfrontier/Portfolio-v0)",
    topic="Deep RL for business decisions: investment allocation",
    config=PortfolioRun,
    run=ppo_portfolio,
    evaluate=partial(evaluate_business, kind="portfolio"),
    # gamma 0.5: with template actions a choice only moves the next day's return and the cost of switching, so a
    # two-day horizon keeps the signal and cuts the variance of the advantages. Chosen on seeds 0-2 (the
    # publishing seeds) in an earlier session, with held-out scenarios: gamma 0.9 beat equal weight on 1 seed of
    # 3, 0.5 on 3 of 3, 0.3 on 2 of 3; not re-tuned on seeds >= 100. A later check on fresh seeds did not confirm
    # it (quick budget, mean sharpe gap): gamma 0.5 -0.33 on seeds 100-105 (3 of 6 above 0), 0.3 -0.02 (3 of 6),
    # 0.9 -0.23 and 0.99 -0.65 on seeds 100-102 (1 and 0 of 3); PPO often ends holding cash (gap -0.78).
    # log_std_init only matters with action_mode=weights (the Gaussian policy).
    budgets={"quick": Budget({"total_steps": 100_000, "algo": {**PPO_BUSINESS, "gamma": 0.5, "log_std_init": -1.5}},
                             [Expect("eval/sharpe_gap_vs_equal_weight", ">", 0.0), LEARNS]),
             "full": Budget({"total_steps": 2_000_000, "eval_episodes": 100,
                             "algo": {**PPO_BUSINESS, "gamma": 0.5, "log_std_init": -1.5}},
                            [Expect("eval/sharpe_gap_vs_equal_weight", ">", 0.0), LEARNS])},
    anchor=Anchor("eval/sharpe_gap_vs_equal_weight", 0.0, "Jiang et al. 2017 and Hubbs et al. 2020: RL allocation "
                  "above equal-weight / mean-variance benchmarks (markets differ; the anchor is the sign)"),
    baseline=PORTFOLIO_BASELINE,
))

register(Experiment(
    name="ppo-dispatch",
    typical_seconds=TYPICAL_SECONDS["ppo-dispatch"],
    group="rl",
    summary="PPO dispatch policy vs greedy nearest-driver and greedy + hot-spot repositioning "
            "(dlfrontier/RideDispatch-v0)",
    topic="Deep RL for business decisions: ride-hailing dispatch",
    config=DispatchRun,
    run=ppo_dispatch,
    evaluate=partial(evaluate_business, kind="dispatch"),
    # gamma 0.99 (a driver sent now pays off some steps later). With the 7 template rules 60k steps learned the
    # time-of-day schedule in development on seeds 0-2 (an earlier session; not re-tuned on seeds >= 100); the
    # continuous policy (action_mode=policy, log_std_init -1) did not beat hot spots at 120k.
    budgets={"quick": Budget({"total_steps": 60_000, "algo": {**PPO_BUSINESS, "log_std_init": -1.0}},
                             [Expect("eval/gap_vs_best", ">", 0.0), LEARNS]),
             "full": Budget({"total_steps": 2_000_000, "eval_episodes": 100,
                             "algo": {**PPO_BUSINESS, "log_std_init": -1.0}},
                            [Expect("eval/gap_vs_best", ">", 0.0), LEARNS])},
    anchor=Anchor("eval/gap_vs_best", 0.0, "Lin et al. 2018 (KDD): RL repositioning above greedy and hot-spot "
                  "heuristics on simulated fleets (city and numbers differ; the anchor is the sign)"),
    baseline=DISPATCH_BASELINE,
    demo=True,
))

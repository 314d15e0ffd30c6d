"""The comparison protocol of the business experiments: an RL agent against the tuned OR baselines.

Protocol: the baselines' parameters (base-stock and (s, S) levels, the Markowitz risk aversion, the hot-spot
repositioning fraction) are tuned on ``fit_episodes`` *training* scenario seeds (``FIT_SEED0, FIT_SEED0 + 1,
...``); then the agent (deterministic actions) and every policy play the same ``eval_episodes`` held-out scenario
seeds (``EVAL_SEED0, ...``: common random numbers, the same demand, prices or requests for each policy). Where
the agent acts through another action mode than the baselines (the template actions of the portfolio and
dispatch envs), the two envs differ only in how an action is read: a seed draws the same scenario in both.

:class:`Comparison` fits and evaluates the baselines once; :meth:`Comparison.evaluate` scores an agent on the
held-out scenarios (cheap enough to call at every evaluation point of training, so the step-0 point shows the
untrained policy); :meth:`Comparison.final` returns every policy's metrics and writes ``tables/policies.json``.
Reference: Hubbs et al., "OR-Gym" (2020, https://arxiv.org/abs/2008.06319), whose protocol this follows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from dlfrontier.rl.envs import dispatch, portfolio
from dlfrontier.rl.envs.baselines import (
    BuyAndHoldPolicy,
    EqualWeightPolicy,
    RandomPolicy,
    evaluate_episodes,
    fit_base_stock,
    fit_hotspot_dispatch,
    fit_markowitz,
    fit_s_S,
    greedy_dispatch,
)
from dlfrontier.stats import bootstrap_ci

FIT_SEED0 = 10_000  # baselines are tuned on scenario seeds FIT_SEED0, FIT_SEED0 + 1, ...
EVAL_SEED0 = 20_000  # every policy is evaluated on EVAL_SEED0, EVAL_SEED0 + 1, ... (held out)

Results = dict[str, np.ndarray]  # {"return": [E], metric: [E]} over the held-out scenarios
FitBaselines = Callable[[gym.Env, range], dict[str, Any]]


@dataclass(frozen=True)
class BusinessCase:
    """One business problem: the agent's env, the baselines' env, how the baselines are fitted, the metrics.

    Attributes:
        env_id: the Gymnasium id.
        env_kwargs: build the agent's env.
        fit_baselines: ``(env, fit_seeds) -> {name: policy}`` (the heuristics, tuned on the training seeds).
        metrics: the env's episode metrics shown besides the return.
        primary: the metric that picks the best heuristic (``gap_vs_best`` is the agent's lead on it).
        baseline_env_kwargs: build the env the baselines and the random policy act in (default ``env_kwargs``).
        reference: a heuristic the agent is also compared with on ``primary``
            (``eval/<primary>_gap_vs_<reference>``), e.g. equal weight for portfolios.
    """

    env_id: str
    env_kwargs: Mapping[str, Any]
    fit_baselines: FitBaselines
    metrics: tuple[str, ...]
    primary: str = "return"
    baseline_env_kwargs: Mapping[str, Any] | None = None
    reference: str | None = None

    def make_env(self, baselines: bool = False) -> gym.Env:
        kwargs = self.baseline_env_kwargs if baselines and self.baseline_env_kwargs is not None else self.env_kwargs
        return gym.make(self.env_id, **kwargs).unwrapped


def inventory_baselines(env: gym.Env, seeds: range) -> dict[str, Any]:
    """Echelon base-stock and (s, S) policies, levels tuned by coordinate search on ``seeds``."""
    base, _ = fit_base_stock(env, seeds)
    ss, _ = fit_s_S(env, seeds, base.levels)
    return {"base_stock": base, "s_S": ss}


def portfolio_baselines(env: gym.Env, seeds: range) -> dict[str, Any]:
    """Equal weight, buy and hold, and rolling Markowitz with its risk aversion tuned on ``seeds``."""
    mv, _ = fit_markowitz(env, seeds)
    return {"equal_weight": EqualWeightPolicy(env), "buy_and_hold": BuyAndHoldPolicy(env), "markowitz": mv}


def dispatch_baselines(env: gym.Env, seeds: range) -> dict[str, Any]:
    """Greedy nearest driver, and greedy plus hot-spot repositioning with its fraction tuned on ``seeds``."""
    hot, _ = fit_hotspot_dispatch(env, seeds)
    return {"greedy": greedy_dispatch(env), "greedy_hotspots": hot}


def inventory_case(*, backlog: bool = True) -> BusinessCase:
    return BusinessCase("dlfrontier/Inventory-v0", {"normalize": True, "backlog": backlog}, inventory_baselines,
                        ("profit", "fill_rate"))


def portfolio_case(*, cost: float = 0.001, action_mode: portfolio.ActionMode = "templates") -> BusinessCase:
    return BusinessCase("dlfrontier/Portfolio-v0", {"cost": cost, "action_mode": action_mode}, portfolio_baselines,
                        ("log_wealth", "sharpe", "turnover"), primary="sharpe", baseline_env_kwargs={"cost": cost},
                        reference="equal_weight")


def dispatch_case(*, n_drivers: int = 10, action_mode: dispatch.ActionMode = "templates") -> BusinessCase:
    return BusinessCase("dlfrontier/RideDispatch-v0", {"n_drivers": n_drivers, "action_mode": action_mode},
                        dispatch_baselines, ("served_rate", "expired", "profit"),
                        baseline_env_kwargs={"n_drivers": n_drivers})


@dataclass
class Comparison:
    """The baselines of ``case`` fitted on the training seeds and scored on the held-out seeds, once.

    Args:
        case: the business problem.
        fit_episodes: training scenarios the baselines are tuned on.
        eval_episodes: held-out scenarios every policy plays.
        seed: seeds the random policy.
    """

    case: BusinessCase
    fit_episodes: int
    eval_episodes: int
    seed: int = 0
    policies: dict[str, Any] = field(init=False)
    results: dict[str, Results] = field(init=False)
    fit_seconds: float = field(init=False)

    def __post_init__(self) -> None:
        self.env = self.case.make_env()
        self.base_env = self.env if self.case.baseline_env_kwargs is None else self.case.make_env(baselines=True)
        t0 = time.perf_counter()
        self.policies = {**self.case.fit_baselines(self.base_env, self.fit_seeds),
                         "random": RandomPolicy(self.base_env.action_space, seed=self.seed)}
        self.fit_seconds = time.perf_counter() - t0
        self.results = {n: evaluate_episodes(p, self.base_env, self.eval_seeds) for n, p in self.policies.items()}
        self.heuristics = [n for n in self.policies if n != "random"]
        primary = self.case.primary
        self.best = max(self.heuristics, key=lambda n: float(self.results[n][primary].mean()))

    @property
    def fit_seeds(self) -> range:
        return range(FIT_SEED0, FIT_SEED0 + self.fit_episodes)

    @property
    def eval_seeds(self) -> range:
        return range(EVAL_SEED0, EVAL_SEED0 + self.eval_episodes)

    def play(self, agent: Any) -> Results:
        """The agent's (deterministic) results on the held-out scenarios."""
        return evaluate_episodes(agent, self.env, self.eval_seeds)

    def scores(self, results: Results) -> dict[str, float]:
        """An agent's metrics against the baselines: ``eval/return``, ``eval/<metric>``, ``eval/gap_vs_best``
        (its lead over the best heuristic on the primary metric), ``eval/win_rate_vs_best`` (the share of
        held-out scenarios where it beats that heuristic: paired by scenario), and the reference gap if any."""
        p, best = self.case.primary, self.results[self.best][self.case.primary]
        out = {f"eval/{m}": float(results[m].mean()) for m in ("return", *self.case.metrics)}
        out["eval/gap_vs_best"] = out[f"eval/{p}"] - float(best.mean())
        out["eval/win_rate_vs_best"] = float(np.mean(results[p] > best))
        if self.case.reference is not None:
            out[f"eval/{p}_gap_vs_{self.case.reference}"] = (
                out[f"eval/{p}"] - float(self.results[self.case.reference][p].mean()))
        return out

    def evaluate(self, agent: Any) -> dict[str, float]:
        """:meth:`scores` of the agent's held-out play (an evaluation point of training)."""
        return self.scores(self.play(agent))

    def policy_scores(self, name: str) -> dict[str, float]:
        """:meth:`scores` of one of the fitted policies (``"random"`` included): its no-learning reference."""
        return self.scores(self.results[name])

    def final(self, agent: Any, run_dir: Path | None = None) -> dict[str, float]:
        """The agent's scores plus every policy's mean metrics (``eval/<policy>/<metric>``), and, with
        ``run_dir``, the table ``tables/policies.json`` (mean and 95% bootstrap CI per policy and metric)."""
        ppo = self.play(agent)
        out = self.scores(ppo)
        for m in ("return", *self.case.metrics):
            for n in self.policies:
                out[f"eval/{n}/{m}"] = float(self.results[n][m].mean())
        out["time/baseline_fit_seconds"] = self.fit_seconds
        if run_dir is not None:
            write_table(run_dir, self.table({"ppo": ppo, **self.results}))
        return out

    def trace_runs(self, agent: Any, also: tuple[str, ...] = ()) -> dict[str, tuple[Any, gym.Env]]:
        """``{name: (policy, env)}`` for an episode trace: the agent, the best heuristic and the ``also`` ones."""
        names = [self.best, *(n for n in also if n != self.best)]
        return {"ppo": (agent, self.env), **{n: (self.policies[n], self.base_env) for n in names}}

    def table(self, results: Mapping[str, Results]) -> dict[str, Any]:
        """The policies table: a row per policy (the best heuristic marked), a column per metric."""
        metrics = ("return", *self.case.metrics)
        rows = [[name + (" (best baseline)" if name == self.best else ""), *(ci_cell(r[m]) for m in metrics)]
                for name, r in results.items()]
        return {"title": f"{self.case.env_id}: PPO vs baselines on {self.eval_episodes} held-out scenarios (mean "
                         f"[95% bootstrap CI]); best baseline chosen by {self.case.primary}",
                "columns": ["policy", *metrics], "rows": rows}


class EvaluationLog:
    """The evaluate function of an agent's training against a :class:`Comparison`, and the curves it records.

    Each call (an evaluation point) returns :meth:`Comparison.evaluate`'s held-out scores (``eval/return``
    first) and the training-episode return (``rollout/return``, once episodes have finished); the training
    recipe adds the agent's ``train/*`` statistics. It plays only the agent's deterministic actions on the
    comparison's own env: the training's random generators are untouched. :meth:`state_dict` and the
    ``state`` argument carry the recorded curves through a checkpoint.
    """

    def __init__(self, comparison: Comparison, state: Mapping[str, Any] | None = None) -> None:
        self.comparison = comparison
        self.evaluations: list[tuple[int, float]] = []  # (step, held-out return)
        self.rollouts: list[tuple[int, float]] = []  # (step, mean return of the last training episodes)
        if state is not None:
            self.load_state_dict(state)

    def evaluate(self, agent: Any) -> dict[str, float]:
        ret = float(agent.recent_return())
        out = self.comparison.evaluate(agent)
        if np.isfinite(ret):
            out["rollout/return"] = ret
        self.evaluations.append((int(agent.num_steps), out["eval/return"]))
        if np.isfinite(ret):
            self.rollouts.append((int(agent.num_steps), ret))
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"evaluations": list(self.evaluations), "rollouts": list(self.rollouts)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.evaluations = [(int(s), float(r)) for s, r in state.get("evaluations", [])]
        self.rollouts = [(int(s), float(r)) for s, r in state.get("rollouts", [])]


def ci_cell(x: np.ndarray) -> str:
    """``"mean [lo, hi]"`` with a 95% bootstrap CI of the mean."""
    lo, hi = bootstrap_ci(x, np.mean)
    return f"{x.mean():.3f} [{lo:.3f}, {hi:.3f}]"


def write_table(run_dir: Path, table: Mapping[str, Any]) -> Path:
    path = Path(run_dir) / "tables" / "policies.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, indent=1))
    return path


__all__ = ["EVAL_SEED0", "FIT_SEED0", "BusinessCase", "Comparison", "EvaluationLog", "ci_cell",
           "dispatch_baselines", "dispatch_case", "inventory_baselines", "inventory_case", "portfolio_baselines",
           "portfolio_case", "write_table"]

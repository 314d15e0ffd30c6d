"""The seeds of one ``dlfrontier run`` as one population: one run folder per seed, the single runs' contract.

:func:`run_population_classic` is :func:`~dlfrontier.rl.common.training.run_classic` for K seeds at once (the
experiment's ``population`` hook; :func:`~dlfrontier.experiments.runner.execute_population` opens the folders). Each
seed's folder gets what the seed's own run writes, because member k *is* the single run with seed k:

* the step-0 evaluation of the untrained member, then an evaluation point every ``eval_every`` env steps (the same
  :class:`~dlfrontier.rl.common.training.Evaluator` and evaluation episodes), logged in the seed's own metrics;
* at each point a checkpoint of the member as an ordinary single agent (:meth:`member`), with the global RNG states
  the single run would hold (Python's and NumPy's as seeded, torch's from the member's generator): ``--resume`` of
  a seed continues it as a single run, exactly where the population left it;
* the final metrics. ``time/train_seconds`` and ``time/sps`` are the population's (all K members trained in that
  time; a member's interval also holds the evaluation of the members before it at a point), and
  ``time/population`` records K.

Resuming is per seed: a ``--resume`` of interrupted population runs continues each seed from its own checkpoint
as a single run (the runner only batches fresh runs).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import numpy as np
import torch

from dlfrontier.rl.common.evaluation import EVAL_SEED, ReturnEvaluation
from dlfrontier.rl.common.training import Evaluator
from dlfrontier.runtime import RunContext, cpu_threads, rng_state, set_rng_state


@contextmanager
def single_run_rng(seed: int, torch_state: torch.Tensor) -> Iterator[None]:
    """Inside the block the global generators hold what a single run with ``seed`` holds: Python's and NumPy's
    as ``seed_everything`` left them (agents never draw from them), torch's ``torch_state``; restored after."""
    saved = rng_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.set_rng_state(torch_state)
    try:
        yield
    finally:
        set_rng_state(saved)


def population_path(population: type, env_id: str) -> dict[str, Any]:
    """An experiment's ``population`` and ``population_supports`` for ``population`` on ``env_id``."""
    return {"population": partial(run_population_classic, population=population, env_id=env_id),
            "population_supports": supports(population)}


def supports(population: Any) -> Any:
    """``cfg -> bool`` for an experiment's ``population_supports``: the population class can train ``cfg.algo``."""

    def check(cfg: Any) -> bool:
        return population.unsupported(cfg.algo) is None

    return check


def run_population_classic(ctxs: list[RunContext], cfg: Any, *, population: type, env_id: str
                           ) -> list[dict[str, float]]:
    """Train ``cfg.algo`` on ``env_id`` for every context's seed as one ``population``; each seed's final metrics.

    Args:
        ctxs: one fresh run context per seed (folders opened by the runner).
        cfg: the experiment's :class:`~dlfrontier.rl.common.training.RLRun` config.
        population: :class:`~dlfrontier.rl.population.PopulationDQN` or
            :class:`~dlfrontier.rl.population.PopulationPPO`.
    """
    pop = population(env_id, seeds=[c.seed for c in ctxs], device=ctxs[0].device, **dataclasses.asdict(cfg.algo))
    evaluators = [Evaluator(ctx, ReturnEvaluation(m.make_eval_env(), cfg.eval_episodes, seed=EVAL_SEED),
                            eval_every=cfg.eval_every) for ctx, m in zip(ctxs, pop.members, strict=True)]

    def point(p: Any) -> None:  # an evaluation point and checkpoint of every member, then the clocks restart
        for k, ev in enumerate(evaluators):
            with single_run_rng(ctxs[k].seed, p.torch_rng_state(k)):
                ev(p.member(k))
        for ev in evaluators:
            ev.start_clock(_Steps(p.num_steps))

    with cpu_threads(1 if pop.device.type == "cpu" else None):
        for ctx, ev, m in zip(ctxs, evaluators, pop.members, strict=True):
            ctx.progress.start(cfg.total_steps)
            ev.evaluate_untrained(m)  # the members still hold their initial parameters
            ev.start_clock(m)
        pop.learn(cfg.total_steps, callback=point, callback_every=cfg.eval_every)
        if evaluators[0].evaluated_at != pop.num_steps:
            point(pop)  # the final policy is always evaluated
    out = []
    for ev in evaluators:
        metrics = ev.final_metrics(_Steps(pop.num_steps))
        metrics["time/population"] = float(pop.k)
        out.append(metrics)
    return out


@dataclasses.dataclass
class _Steps:
    """What the evaluator's clock reads from an agent: its step count."""

    num_steps: int


__all__ = ["population_path", "run_population_classic", "single_run_rng", "supports"]

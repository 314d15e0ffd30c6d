"""The one RL run recipe: train with an evaluation point and a checkpoint every N env steps, resumable.

In the spirit of Stable-Baselines3's ``EvalCallback`` (Raffin et al., "Stable-Baselines3: Reliable Reinforcement
Learning Implementations", JMLR 2021, https://jmlr.org/papers/v22/20-1364.html): an :class:`Evaluator` is the
callback an agent's ``learn`` calls every ``eval_every`` steps; it plays the evaluation episodes, logs them with the
algorithm's ``train/*`` statistics and the training speed, and saves a checkpoint that ``--resume`` continues from.
:func:`train_with_evaluations` wraps it into a run: restore, evaluate the untrained policy at step 0 (the report's
no-learning point), train, evaluate at the end.

Example (a run function of an experiment)::

    agent = DQN("CartPole-v1", seed=ctx.seed, device=ctx.device, **dataclasses.asdict(cfg.algo))
    evaluate = ReturnEvaluation(agent.make_eval_env(), cfg.eval_episodes, seed=EVAL_SEED)
    return train_with_evaluations(ctx, agent, evaluate, total_steps=cfg.total_steps, eval_every=cfg.eval_every)
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from dlfrontier.rl.common.algorithm import Algorithm
from dlfrontier.rl.common.evaluation import EVAL_SEED, ReturnEvaluation
from dlfrontier.runtime import RunContext, cpu_threads, rng_state, set_rng_state

EvaluateFn = Callable[[Algorithm], dict[str, float]]


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Restore Python's, NumPy's and torch's global generators (CUDA's too, where initialised) after the block.

    The step-0 evaluation runs inside it, so a run with it draws exactly the random numbers of a run without it.
    """
    saved = rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        set_rng_state(saved)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def finite(metrics: Mapping[str, float]) -> dict[str, float]:
    """The metrics whose value is a finite number (no episode finished yet gives ``nan``)."""
    return {k: float(v) for k, v in metrics.items() if math.isfinite(float(v))}


class Evaluator:
    """Evaluation points of a training run: the callback of ``agent.learn(..., callback=evaluator)``.

    Each call plays ``evaluate(agent)`` (its metrics, ``eval/return`` first), adds ``time/sps`` (env steps per
    second of training since the previous point) and the algorithm's ``train/*`` statistics, logs them at
    ``agent.num_steps``, reports progress and saves a checkpoint: the agent's training state (replay buffer too when
    ``include_buffer``), the global RNG states, :meth:`state` and ``extra_state()``.

    Args:
        ctx: the run's context (logger, progress, checkpoint).
        evaluate: ``agent -> metrics`` (plays the evaluation episodes).
        eval_every: env steps between evaluation points.
        include_buffer: checkpoint the replay buffer (exact resume; large for Atari).
        extra_state: ``() -> dict`` of the run's own state to checkpoint (a curve it keeps, say); a resumed run
            finds it in :attr:`extra` (and :func:`resumed_extra_state`).

    Attributes:
        train_seconds: seconds spent training (evaluation excluded), over all sessions of the run.
        sps: env steps per second of training between the last two evaluation points.
        evaluated_at: the step of the last evaluation point (-1: none yet).
        last: the last evaluation point's metrics.
        untrained: the step-0 evaluation's metrics (``{}`` when the run did not start at step 0).
        extra: the extra state restored by :meth:`restore` (``{}`` for a fresh run).
    """

    def __init__(self, ctx: RunContext, evaluate: EvaluateFn, *, eval_every: int, include_buffer: bool = True,
                 extra_state: Callable[[], dict[str, Any]] | None = None) -> None:
        if eval_every < 1:
            raise ValueError(f"eval_every={eval_every}: expected a positive number of env steps")
        self.ctx = ctx
        self.evaluate = evaluate
        self.eval_every = int(eval_every)
        self.include_buffer = include_buffer
        self.extra_state = extra_state
        self.train_seconds = 0.0
        self.sps = float("nan")
        self.evaluated_at = -1
        self.last: dict[str, float] = {}
        self.untrained: dict[str, float] = {}
        self.extra: dict[str, Any] = {}
        self._clock = time.perf_counter()
        self._clock_steps = 0

    # -- checkpoint --------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The evaluator's own part of a checkpoint: timers, the last point and its metrics."""
        return {"train_seconds": self.train_seconds, "evaluated_at": self.evaluated_at, "last": dict(self.last),
                "untrained": dict(self.untrained)}

    def load_state(self, state: Mapping[str, Any]) -> None:
        self.train_seconds = float(state.get("train_seconds", 0.0))
        self.evaluated_at = int(state.get("evaluated_at", -1))
        self.last = {k: float(v) for k, v in state.get("last", {}).items()}
        self.untrained = {k: float(v) for k, v in state.get("untrained", {}).items()}

    def checkpoint(self, agent: Algorithm) -> dict[str, Any]:
        """What :meth:`__call__` saves (and :meth:`restore` reads)."""
        state = {"agent": agent.state_dict(include_buffer=self.include_buffer), "rng": rng_state(),
                 "evaluator": self.state()}
        if self.extra_state is not None:
            state["extra"] = self.extra_state()
        return state

    def restore(self, agent: Algorithm, state: Mapping[str, Any]) -> None:
        """Continue from a checkpoint written by :meth:`__call__`: agent, global RNGs, timers and extra state."""
        agent.load_state_dict(state["agent"])
        set_rng_state(state["rng"])
        self.load_state(state.get("evaluator", {}))
        self.extra = dict(state.get("extra", {}))

    # -- evaluation points -------------------------------------------------------------------------------
    def start_clock(self, agent: Algorithm) -> None:
        """Start timing training from now (after restoring, after the step-0 evaluation)."""
        self._clock, self._clock_steps = time.perf_counter(), agent.num_steps

    def evaluate_untrained(self, agent: Algorithm) -> dict[str, float]:
        """Evaluate the policy before any training and log it at step 0, leaving every global RNG as it was.

        Not checkpointed: a run interrupted before its first evaluation point starts over.
        """
        with preserved_rng():
            metrics = finite(self.evaluate(agent))
        self.ctx.logger.log(metrics, agent.num_steps)
        self.ctx.progress.update(agent.num_steps, eval_return=metrics.get("eval/return", float("nan")))
        self.untrained = dict(metrics)
        return metrics

    def __call__(self, agent: Algorithm) -> None:
        now = time.perf_counter()
        self.train_seconds += now - self._clock
        self.sps = (agent.num_steps - self._clock_steps) / max(now - self._clock, 1e-9)
        metrics = {**self.evaluate(agent), "time/sps": float(self.sps), **agent.stats}
        self.ctx.logger.log(metrics, agent.num_steps)
        self.ctx.progress.update(agent.num_steps, eval_return=metrics.get("eval/return", float("nan")))
        self.last = dict(metrics)
        self.evaluated_at = agent.num_steps
        self.ctx.save_checkpoint(self.checkpoint(agent), agent.num_steps)
        self.start_clock(agent)

    def final_metrics(self, agent: Algorithm) -> dict[str, float]:
        """The last point's finite metrics with ``time/train_seconds``, the run's mean ``time/sps`` and
        ``eval/return_gain``: the final ``eval/return`` minus the untrained policy's (did this run learn?)."""
        out = finite(self.last)
        if "eval/return" in out and "eval/return" in self.untrained:
            out["eval/return_gain"] = out["eval/return"] - self.untrained["eval/return"]
        out["time/train_seconds"] = self.train_seconds
        out["time/sps"] = agent.num_steps / max(self.train_seconds, 1e-9)
        return out


def resumed_extra_state(ctx: RunContext) -> dict[str, Any]:
    """The ``extra_state()`` saved by the run being resumed (``{}`` for a fresh run), to rebuild what it holds
    before :func:`train_with_evaluations` is called."""
    if ctx.resume_state is None:
        return {}
    return dict(ctx.resume_state.get("extra", {}))


def train_with_evaluations(
    ctx: RunContext,
    agent: Algorithm,
    evaluate: EvaluateFn,
    *,
    total_steps: int,
    eval_every: int,
    include_buffer: bool = True,
    extra_state: Callable[[], dict] | None = None,
) -> dict[str, float]:
    """Train ``agent`` to ``total_steps`` env steps with an evaluation point and checkpoint every ``eval_every``.

    Resumes from ``ctx.resume_state`` (agent, RNGs, timers; the run's extra state is :func:`resumed_extra_state`);
    a fresh run first evaluates the untrained policy and logs it at step 0 without drawing from any global
    generator; the final policy is always evaluated. Small networks on CPU train on one torch thread.

    Returns:
        the last evaluation's finite metrics, ``time/train_seconds`` and ``time/sps``.
    """
    evaluator = Evaluator(ctx, evaluate, eval_every=eval_every, include_buffer=include_buffer,
                          extra_state=extra_state)
    with cpu_threads(1 if agent.device.type == "cpu" else None):
        if ctx.resume_state is not None:
            evaluator.restore(agent, ctx.resume_state)
        ctx.progress.start(total_steps)
        if agent.num_steps == 0:
            evaluator.evaluate_untrained(agent)
        evaluator.start_clock(agent)
        remaining = total_steps - agent.num_steps
        if remaining > 0:
            agent.learn(remaining, callback=evaluator, callback_every=eval_every)
        if evaluator.evaluated_at != agent.num_steps:
            evaluator(agent)  # the final policy is always evaluated
    return evaluator.final_metrics(agent)


@dataclass
class RLRun:
    """The run settings of every Gymnasium-env experiment; each subclass adds its algorithm's config as ``algo``."""

    total_steps: int = field(default=50_000, metadata={"help": "environment steps to train", "range": "[1, inf)"})
    eval_every: int = field(default=5_000, metadata={
        "help": "env steps between evaluations (and checkpoints)", "range": "[1, inf)"})
    eval_episodes: int = field(default=10, metadata={"help": "deterministic evaluation episodes", "range": "[1, inf)"})


def run_classic(ctx: RunContext, cfg: Any, *, algo: type[Algorithm], env_id: str) -> dict[str, float]:
    """An experiment's run: ``algo`` (options ``cfg.algo``) on ``env_id`` with evaluation points (``eval_episodes``
    deterministic episodes from ``EVAL_SEED`` on a separate env), checkpoints and resume; the final metrics."""
    agent = algo(env_id, seed=ctx.seed, device=ctx.device, **dataclasses.asdict(cfg.algo))
    evaluate = ReturnEvaluation(agent.make_eval_env(), cfg.eval_episodes, seed=EVAL_SEED)
    return train_with_evaluations(ctx, agent, evaluate, total_steps=cfg.total_steps, eval_every=cfg.eval_every)


__all__ = ["EvaluateFn", "Evaluator", "RLRun", "finite", "preserved_rng", "resumed_extra_state", "run_classic",
           "train_with_evaluations"]

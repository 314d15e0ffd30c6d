"""The RL run recipe: step-0 evaluation, evaluation points every N steps, checkpoints, exact resume."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dlfrontier.rl import DQN, PPO, Algorithm
from dlfrontier.rl.common.evaluation import ReturnEvaluation
from dlfrontier.rl.common.training import Evaluator, preserved_rng, resumed_extra_state, train_with_evaluations
from dlfrontier.runtime import RunContext, seed_everything

PPO_TINY: dict[str, Any] = {"n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1, "hidden": (16,)}


class ListLogger:
    def __init__(self) -> None:
        self.rows: list[tuple[int, dict[str, float]]] = []

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.rows.append((step, dict(metrics)))

    def steps(self, metric: str = "eval/return") -> list[int]:
        return [step for step, m in self.rows if metric in m]


def make_ctx(tmp_path: Path, resume_state: dict[str, Any] | None = None) -> tuple[RunContext, dict[int, Any]]:
    saved: dict[int, Any] = {}

    def hook(state: dict[str, Any], step: int) -> None:
        saved[step] = copy.deepcopy(state)  # the runner writes it to disk at once; here a copy does

    ctx = RunContext(experiment="test", seed=0, budget="quick", device=torch.device("cpu"), run_dir=tmp_path,
                     logger=ListLogger(), resume_state=resume_state, checkpoint_hook=hook)
    return ctx, saved


def params(agent: Algorithm) -> list[torch.Tensor]:
    return [p.detach().clone() for m in agent._modules().values() if isinstance(m, torch.nn.Module)
            for p in m.parameters()]


def global_rngs() -> tuple[Any, ...]:
    return random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state().clone()


def rng_consuming_eval(agent: Algorithm) -> dict[str, float]:
    """An evaluation that draws from every global generator (as sampled actions or an env might)."""
    random.random()
    np.random.rand(3)
    torch.rand(3)
    return {"eval/return": float(agent.num_steps), "rollout/return": float("nan")}


def test_evaluates_the_untrained_policy_at_step_0_then_every_n_steps(tmp_path: Path):
    ctx, saved = make_ctx(tmp_path)
    seed_everything(0)
    agent = DQN("CartPole-v1", seed=0, learning_starts=100, train_freq=50, gradient_steps=2, hidden=(16,))
    out = train_with_evaluations(ctx, agent, ReturnEvaluation(agent.make_eval_env(), 2), total_steps=600,
                                 eval_every=200)
    logger = ctx.logger
    assert logger.steps() == [0, 200, 400, 600]
    step0 = logger.rows[0][1]
    assert "rollout/return" not in step0 and "time/sps" not in step0  # no finished episode yet: nan is dropped
    assert sorted(saved) == [200, 400, 600]  # the step-0 point is logged, not checkpointed
    assert {"eval/return", "time/sps", "time/train_seconds"} <= set(out) and out["eval/return"] == logger.rows[-1][1][
        "eval/return"]
    assert saved[600]["evaluator"]["evaluated_at"] == 600 and "buffer" in saved[600]["agent"]["extra"]
    # did this run learn? the final evaluation minus the untrained policy's, kept through checkpoints
    assert out["eval/return_gain"] == out["eval/return"] - step0["eval/return"]
    assert saved[200]["evaluator"]["untrained"]["eval/return"] == step0["eval/return"]


def test_step_0_evaluation_leaves_the_global_generators_as_they_were(tmp_path: Path):
    seed_everything(3)
    agent = PPO("CartPole-v1", seed=3, **PPO_TINY)
    before = global_rngs()
    with preserved_rng():
        rng_consuming_eval(agent)
    after = global_rngs()
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and torch.equal(before[2], after[2])
    Evaluator(make_ctx(tmp_path)[0], rng_consuming_eval, eval_every=10).evaluate_untrained(agent)
    again = global_rngs()
    assert before[0] == again[0] and np.array_equal(before[1], again[1]) and torch.equal(before[2], again[2])


def test_same_seed_with_and_without_the_step_0_evaluation_gives_identical_parameters(tmp_path: Path):
    """PPO samples its training actions from torch's global generator: a step-0 evaluation that drew from it
    would change every later update."""

    def step0_only(agent: Algorithm) -> dict[str, float]:
        return rng_consuming_eval(agent) if agent.num_steps == 0 else {"eval/return": 0.0}

    seed_everything(0)
    with_eval = PPO("CartPole-v1", seed=0, **PPO_TINY)
    train_with_evaluations(make_ctx(tmp_path)[0], with_eval, step0_only, total_steps=512, eval_every=256)
    seed_everything(0)
    without = PPO("CartPole-v1", seed=0, **PPO_TINY).learn(512)
    assert all(torch.equal(a, b) for a, b in zip(params(with_eval), params(without), strict=True))
    seed_everything(0)
    disturbed = PPO("CartPole-v1", seed=0, **PPO_TINY)
    torch.rand(1)  # the control: one unrestored draw changes the result
    disturbed.learn(512)
    assert not all(torch.equal(a, b) for a, b in zip(params(disturbed), params(without), strict=True))


@pytest.mark.parametrize("algo", ["PPO", "DQN"])
def test_resume_continues_from_the_checkpoint_alone(algo: str, tmp_path: Path):
    """Resumed twice from one checkpoint with different ambient seeds: the same final parameters and metrics, the
    remaining evaluation points only, the run's extra state back. (Env episodes restart on resume, so a resumed
    run is not bit-identical to an uninterrupted one; the agent's and the generators' states are, see below.)"""

    def make() -> Algorithm:
        if algo == "PPO":
            return PPO("CartPole-v1", seed=0, **PPO_TINY)
        return DQN("CartPole-v1", seed=0, learning_starts=100, train_freq=50, gradient_steps=2, hidden=(16,))

    total, every = (768, 256) if algo == "PPO" else (600, 200)
    curve: list[int] = []

    def evaluate(agent: Algorithm) -> dict[str, float]:
        curve.append(agent.num_steps)
        return {"eval/return": float(np.random.rand())}  # draws: the RNG state must be checkpointed after it

    ctx, saved = make_ctx(tmp_path)
    seed_everything(0)
    train_with_evaluations(ctx, make(), evaluate, total_steps=total, eval_every=every,
                           extra_state=lambda: {"curve": list(curve)})
    assert ctx.logger.steps() == list(range(0, total + 1, every))

    results = []
    for ambient in (123, 7):
        ctx2, _ = make_ctx(tmp_path, resume_state=copy.deepcopy(saved[every]))  # as if read from disk
        curve[:] = resumed_extra_state(ctx2)["curve"]
        assert curve == [0, every]
        seed_everything(ambient)  # the resumed run must restore every generator itself
        agent = make()
        out = train_with_evaluations(ctx2, agent, evaluate, total_steps=total, eval_every=every,
                                     extra_state=lambda: {"curve": list(curve)})
        assert ctx2.logger.steps() == list(range(2 * every, total + 1, every))  # no step-0 point, nothing repeated
        assert out["time/train_seconds"] >= saved[every]["evaluator"]["train_seconds"]
        results.append((params(agent), out["eval/return"]))
    assert all(torch.equal(a, b) for a, b in zip(results[0][0], results[1][0], strict=True))
    assert results[0][1] == results[1][1]


def test_restore_brings_back_the_agent_and_the_generators_exactly(tmp_path: Path):
    ctx, saved = make_ctx(tmp_path)
    seed_everything(0)
    agent = DQN("CartPole-v1", seed=0, learning_starts=100, train_freq=50, gradient_steps=2, hidden=(16,))
    train_with_evaluations(ctx, agent, rng_consuming_eval, total_steps=400, eval_every=200)
    state = saved[400]
    seed_everything(99)
    other = DQN("CartPole-v1", seed=5, learning_starts=100, train_freq=50, gradient_steps=2, hidden=(16,))
    ev = Evaluator(make_ctx(tmp_path)[0], rng_consuming_eval, eval_every=200)
    ev.restore(other, state)
    assert all(torch.equal(a, b) for a, b in zip(params(agent), params(other), strict=True))
    assert other.num_steps == 400 and np.array_equal(other.buffer.obs, agent.buffer.obs)
    assert torch.equal(torch.get_rng_state(), state["rng"]["torch"]) and random.getstate() == state["rng"]["python"]
    assert ev.evaluated_at == 400 and ev.last["eval/return"] == 400.0


def test_a_run_resumed_after_its_last_point_returns_its_metrics_without_evaluating_again(tmp_path: Path):
    ctx, saved = make_ctx(tmp_path)
    seed_everything(0)
    agent = PPO("CartPole-v1", seed=0, **PPO_TINY)
    first = train_with_evaluations(ctx, agent, ReturnEvaluation(agent.make_eval_env(), 1), total_steps=256,
                                   eval_every=128)
    ctx2, saved2 = make_ctx(tmp_path, resume_state=saved[256])
    again = PPO("CartPole-v1", seed=0, **PPO_TINY)
    out = train_with_evaluations(ctx2, again, ReturnEvaluation(again.make_eval_env(), 1), total_steps=256,
                                 eval_every=128)
    assert ctx2.logger.rows == [] and saved2 == {}
    assert out["eval/return"] == first["eval/return"]


def test_evaluator_state_round_trips_and_rejects_a_bad_interval(tmp_path: Path):
    ctx, _ = make_ctx(tmp_path)
    ev = Evaluator(ctx, rng_consuming_eval, eval_every=5)
    ev.train_seconds, ev.evaluated_at, ev.last = 2.5, 10, {"eval/return": 1.0}
    other = Evaluator(ctx, rng_consuming_eval, eval_every=5)
    other.load_state(ev.state())
    assert (other.train_seconds, other.evaluated_at, other.last) == (2.5, 10, {"eval/return": 1.0})
    assert resumed_extra_state(ctx) == {}
    with pytest.raises(ValueError, match="eval_every"):
        Evaluator(ctx, rng_consuming_eval, eval_every=0)

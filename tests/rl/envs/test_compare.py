"""The comparison protocol: baselines tuned on training seeds, every policy on the same held-out seeds."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

from dlfrontier.rl.envs.baselines import evaluate_episodes
from dlfrontier.rl.envs.compare import (
    EVAL_SEED0,
    FIT_SEED0,
    Comparison,
    EvaluationLog,
    dispatch_case,
    inventory_case,
    portfolio_case,
)


@pytest.fixture(scope="module")
def inventory() -> Comparison:
    return Comparison(inventory_case(), fit_episodes=2, eval_episodes=3, seed=0)


@pytest.fixture(scope="module")
def portfolio() -> Comparison:
    return Comparison(portfolio_case(), fit_episodes=2, eval_episodes=3, seed=0)


def test_seeds_are_disjoint_and_fixed(inventory: Comparison) -> None:
    assert list(inventory.fit_seeds) == [FIT_SEED0, FIT_SEED0 + 1]
    assert list(inventory.eval_seeds) == [EVAL_SEED0, EVAL_SEED0 + 1, EVAL_SEED0 + 2]
    assert not set(inventory.fit_seeds) & set(inventory.eval_seeds)


def test_best_is_the_best_heuristic_on_the_primary_metric(inventory: Comparison) -> None:
    assert inventory.heuristics == ["base_stock", "s_S"]
    assert set(inventory.results) == {"base_stock", "s_S", "random"}
    means = {n: inventory.results[n]["return"].mean() for n in inventory.heuristics}
    assert inventory.best == max(means, key=means.get)
    assert all(len(r["return"]) == 3 for r in inventory.results.values())


def test_scores_of_the_best_baseline_are_a_zero_gap(inventory: Comparison) -> None:
    s = inventory.policy_scores(inventory.best)
    assert s["eval/gap_vs_best"] == 0.0 and s["eval/win_rate_vs_best"] == 0.0
    assert inventory.policy_scores("random")["eval/gap_vs_best"] < 0  # random ordering loses clearly


def test_evaluate_plays_the_same_scenarios(inventory: Comparison) -> None:
    """Common random numbers: scoring a baseline as an agent reproduces its stored results."""
    best = inventory.policies[inventory.best]
    assert inventory.evaluate(best) == inventory.policy_scores(inventory.best)
    assert inventory.evaluate(best) == inventory.evaluate(best)


def test_reference_gap_for_portfolio(portfolio: Comparison) -> None:
    assert portfolio.case.primary == "sharpe"
    s = portfolio.policy_scores("equal_weight")
    assert s["eval/sharpe_gap_vs_equal_weight"] == 0.0
    r = portfolio.policy_scores("random")
    expected = r["eval/sharpe"] - portfolio.results["equal_weight"]["sharpe"].mean()
    assert r["eval/sharpe_gap_vs_equal_weight"] == pytest.approx(expected)


def test_agent_and_baselines_act_in_their_own_envs() -> None:
    """Dispatch: PPO picks one of 7 templates, the baselines act through the continuous policy; same scenarios."""
    comp = Comparison(dispatch_case(n_drivers=4), fit_episodes=1, eval_episodes=2, seed=0)
    assert isinstance(comp.env.action_space, gym.spaces.Discrete)
    assert isinstance(comp.base_env.action_space, gym.spaces.Box)
    constant = type("Constant", (), {"predict": lambda self, obs, deterministic=True: 0})()
    assert np.isfinite(comp.evaluate(constant)["eval/gap_vs_best"])
    runs = comp.trace_runs(constant, also=("greedy",))
    assert list(runs)[0] == "ppo" and runs["ppo"][1] is comp.env and runs[comp.best][1] is comp.base_env
    assert "greedy" in runs


def test_final_writes_the_table(inventory: Comparison, tmp_path) -> None:
    best = inventory.policies[inventory.best]
    out = inventory.final(best, tmp_path)
    for n in ("base_stock", "s_S", "random"):
        for m in ("return", "profit", "fill_rate"):
            assert out[f"eval/{n}/{m}"] == pytest.approx(inventory.results[n][m].mean())
    table = json.loads((tmp_path / "tables" / "policies.json").read_text())
    assert table["columns"] == ["policy", "return", "profit", "fill_rate"]
    assert [r[0] for r in table["rows"]][0] == "ppo"
    assert f"{inventory.best} (best baseline)" in [r[0] for r in table["rows"]]


class _Agent:
    """A stand-in agent: a fixed policy with the counters an evaluation point reads."""

    def __init__(self, policy, steps: int, returns: list[float]) -> None:
        self.policy, self.num_steps, self.returns = policy, steps, returns

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        return self.policy.predict(obs, state, episode_start, deterministic=deterministic)

    def recent_return(self) -> float:
        return float(np.mean(self.returns)) if self.returns else float("nan")


def test_evaluation_log_records_and_round_trips(inventory: Comparison) -> None:
    best = inventory.policies[inventory.best]
    log = EvaluationLog(inventory)
    first = log.evaluate(_Agent(best, 0, []))
    assert "rollout/return" not in first  # no training episode has finished at step 0
    second = log.evaluate(_Agent(best, 100, [1.0, 2.0]))
    assert second["rollout/return"] == 1.5 and next(iter(second)) == "eval/return"
    assert [s for s, _ in log.evaluations] == [0, 100] and log.rollouts == [(100, 1.5)]
    again = EvaluationLog(inventory, log.state_dict())
    assert again.evaluations == log.evaluations and again.rollouts == log.rollouts


def test_evaluation_leaves_global_generators_alone(inventory: Comparison) -> None:
    from dlfrontier.rl.ppo import PPO

    agent = PPO(gym.make("dlfrontier/Inventory-v0", normalize=True), seed=0, n_envs=1, n_steps=8, batch_size=8)
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    EvaluationLog(inventory).evaluate(agent)
    assert torch.equal(torch_state, torch.get_rng_state())
    assert np.array_equal(np_state[1], np.random.get_state()[1])


def test_evaluate_episodes_agrees_with_play(inventory: Comparison) -> None:
    best = inventory.policies[inventory.best]
    direct = evaluate_episodes(best, inventory.env, inventory.eval_seeds)
    assert np.array_equal(direct["return"], inventory.play(best)["return"])

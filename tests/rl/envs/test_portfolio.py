"""Portfolio env: costs and log returns by hand, the market model, CSV prices, and the allocation baselines."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import dlfrontier.rl.envs  # noqa: F401
from dlfrontier.rl.envs.baselines import (
    BuyAndHoldPolicy,
    EqualWeightPolicy,
    MarkowitzPolicy,
    RandomPolicy,
    evaluate_episodes,
    mean_variance_weights,
    project_simplex,
)
from dlfrontier.rl.envs.portfolio import PortfolioEnv, portfolio_templates


def env_with_returns(returns: np.ndarray, cost: float = 0.01, window: int = 2) -> PortfolioEnv:
    """A 2-asset env whose scenario is replaced by ``returns [window + horizon, 2]`` after reset."""
    env = PortfolioEnv(n_assets=2, horizon=len(returns) - window, window=window, cost=cost)
    env.reset(seed=0)
    env._start(np.asarray(returns, dtype=np.float64), np.zeros(len(returns), dtype=int))
    return env


def test_two_days_by_hand() -> None:
    up, down = math.log(1.1), math.log(0.9)
    env = env_with_returns(np.array([[0.01, 0.02], [0.03, 0.04], [up, down], [0.0, 0.0]]))
    obs = env._obs()
    # returns in percent, their means [2, 3], standard deviations [1, 1] (twice: window and last 5), weights
    np.testing.assert_allclose(obs, [1, 2, 3, 4, 2, 3, 1, 1, 1, 1, 0, 0, 1], rtol=1e-6)
    # day 1: from cash to 50/50 (turnover 1, cost 1%); assets +10% and -10%: wealth 0.99 * 1.0
    obs, r, term, _, info = env.step(np.array([1, 1, 0], dtype=np.float32))
    assert info["turnover"] == pytest.approx(1.0)
    assert r == pytest.approx(math.log(0.99))
    np.testing.assert_allclose(obs[-3:], [0.55, 0.45, 0.0], rtol=1e-6)  # weights drift with the prices
    assert not term
    # day 2: everything back to cash: turnover 0.55 + 0.45 = 1, cash earns nothing
    obs, r, term, _, info = env.step(np.array([0, 0, 1], dtype=np.float32))
    assert r == pytest.approx(math.log(0.99))
    assert term
    m = env.episode_metrics()
    assert m["log_wealth"] == pytest.approx(2 * math.log(0.99))
    assert m["turnover"] == pytest.approx(2.0)


def test_zero_action_holds_without_cost() -> None:
    env = env_with_returns(np.array([[0, 0], [0, 0], [0.1, -0.1], [0.05, 0.0]]))
    env.step(np.array([1, 1, 0], dtype=np.float32))
    w = env.weights.copy()
    _, r, _, _, info = env.step(np.zeros(3, dtype=np.float32))
    assert info["turnover"] == 0.0
    assert r == pytest.approx(math.log(w @ np.exp([0.05, 0.0, 0.0])))


def test_market_model_regimes_differ() -> None:
    env = PortfolioEnv(horizon=3000, window=1)
    env.reset(seed=0)
    x, regime = env.returns[1:], env.regime[1:]
    assert set(np.unique(regime)) == {0, 1}
    calm, wild = x[regime == 0], x[regime == 1]
    assert wild.std() > 2 * calm.std()  # volatility 2.5% against 1%
    assert calm.mean() > 0 > wild.mean()
    corr = lambda a: np.corrcoef(a, rowvar=False)[np.triu_indices(a.shape[1], 1)].mean()  # noqa: E731
    assert corr(wild) > corr(calm) + 0.3  # correlation 0.7 against 0.2


def test_prices_from_csv(tmp_path: Path) -> None:
    prices = np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, size=(60, 3)), axis=0)) * 100
    path = tmp_path / "prices.csv"
    lines = ["date,A,B,C"] + [f"2024-01-{i:02d}," + ",".join(f"{p:.6f}" for p in row) for i, row in enumerate(prices)]
    path.write_text("\n".join(lines) + "\n")
    env = gym.make("dlfrontier/Portfolio-v0", prices_csv=str(path), horizon=30, window=5).unwrapped
    obs, _ = env.reset(seed=0)
    assert env.n == 3 and obs.shape == (3 * 5 + 3 * 3 + 4,)
    logp = np.log(np.round(prices, 6))
    # the observed window is a run of consecutive log returns of the file
    past = env.recent_returns(obs)
    diffs = np.diff(logp, axis=0)
    starts = [s for s in range(len(diffs) - 5) if np.allclose(diffs[s : s + 5], past, atol=1e-5)]
    assert len(starts) == 1
    path.write_text("date,A\n2024-01-01,-3\n2024-01-02,4\n2024-01-03,5\n")
    with pytest.raises(ValueError, match="positive"):
        gym.make("dlfrontier/Portfolio-v0", prices_csv=str(path))


def test_project_simplex_by_hand() -> None:
    np.testing.assert_allclose(project_simplex(np.array([0.5, 0.5, 0.5])), [1 / 3] * 3)
    np.testing.assert_allclose(project_simplex(np.array([2.0, 0.0])), [1.0, 0.0])
    np.testing.assert_allclose(project_simplex(np.array([0.2, 0.3, 0.5])), [0.2, 0.3, 0.5])


@pytest.mark.parametrize(("risk_aversion", "expected"), [(5.0, 0.5), (1.0, 1.0), (100.0, 0.025)])
def test_mean_variance_against_closed_form(risk_aversion: float, expected: float) -> None:
    # one asset (mean 0.1, variance 0.04) and cash: w = mu / (gamma * var), clipped to [0, 1]
    w = mean_variance_weights(np.array([0.1, 0.0]), np.diag([0.04, 0.0]), risk_aversion)
    np.testing.assert_allclose(w, [expected, 1 - expected], atol=1e-9)


def test_mean_variance_exact_and_iterative_agree() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0.001, 0.01, size=(30, 5))
    mu, cov = np.append(x.mean(0), 0.0), np.zeros((6, 6))
    cov[:5, :5] = np.cov(x, rowvar=False)
    f = lambda w: w @ mu - 10.0 * w @ cov @ w  # noqa: E731
    w_exact = mean_variance_weights(mu, cov, 20.0, exact=True)
    w_iter = mean_variance_weights(mu, cov, 20.0, exact=False, iters=20000)
    assert w_exact.sum() == pytest.approx(1.0) and w_exact.min() >= 0
    assert w_iter.sum() == pytest.approx(1.0) and w_iter.min() >= 0
    assert 0 < np.count_nonzero(w_exact > 1e-9) < 6  # an interior-of-a-face optimum, not a vertex or uniform
    assert f(w_exact) == pytest.approx(f(w_iter), abs=1e-10)
    np.testing.assert_allclose(w_exact, w_iter, atol=1e-3)


def test_markowitz_goes_to_cash_when_everything_falls() -> None:
    env = env_with_returns(np.array([[-0.02, -0.01], [-0.03, -0.02], [-0.01, -0.03], [0, 0]]), window=3)
    a = MarkowitzPolicy(env, risk_aversion=10).predict(env._obs())[0]
    np.testing.assert_allclose(a / a.sum(), [0, 0, 1], atol=1e-9)


def test_baselines_beat_random() -> None:
    env = gym.make("dlfrontier/Portfolio-v0").unwrapped
    seeds = range(8)
    rand = evaluate_episodes(RandomPolicy(env.action_space, seed=0), env, seeds)["log_wealth"]
    for policy in (EqualWeightPolicy(env), BuyAndHoldPolicy(env)):
        lw = evaluate_episodes(policy, env, seeds)["log_wealth"]
        assert lw.mean() > rand.mean() + 0.02, (type(policy).__name__, lw.mean(), rand.mean())


def test_buy_and_hold_trades_once() -> None:
    env = gym.make("dlfrontier/Portfolio-v0").unwrapped
    out = evaluate_episodes(BuyAndHoldPolicy(env), env, [0])
    assert out["turnover"][0] == pytest.approx(1.0, abs=1e-4)  # the first purchase only


# -- action_mode="templates": a discrete choice of portfolio ------------------------------------------------


def test_templates_by_hand() -> None:
    t = portfolio_templates(2)
    np.testing.assert_allclose(t, [[0, 0, 1], [0.5, 0.5, 0], [0.25, 0.25, 0.5], [1, 0, 0], [0, 1, 0]])
    env = PortfolioEnv(n_assets=4, action_mode="templates")
    assert env.action_space == gym.spaces.Discrete(7)
    np.testing.assert_allclose(env.templates.sum(axis=1), 1.0)


def test_templates_two_days_by_hand() -> None:
    up, down = math.log(1.1), math.log(0.9)
    env = PortfolioEnv(n_assets=2, horizon=2, window=2, cost=0.01, action_mode="templates")
    env.reset(seed=0)
    env._start(np.array([[0.0, 0.0], [0.0, 0.0], [up, down], [up, up]]), np.zeros(4, dtype=int))
    # day 1: cash -> half equal weight, half cash [0.25, 0.25, 0.5]: turnover 0.5, cost 0.5%; growth
    # 0.25 * 1.1 + 0.25 * 0.9 + 0.5 = 1.0
    obs, r, term, _, info = env.step(2)
    assert info["turnover"] == pytest.approx(0.5)
    assert r == pytest.approx(math.log(1 - 0.005))
    np.testing.assert_allclose(obs[-3:], [0.275, 0.225, 0.5], rtol=1e-6)
    assert not term
    # day 2: all in asset 0 (template 3): turnover |1 - 0.275| + |0 - 0.225| = 0.95; growth 1.1
    _, r, term, _, info = env.step(np.int64(3))
    assert info["turnover"] == pytest.approx(0.95)
    assert r == pytest.approx(math.log(1 - 0.0095) + up)
    assert term


@pytest.mark.parametrize("bad", [7, -1, 1.0, np.array([1, 0]), "1"])
def test_templates_reject_bad_actions(bad: object) -> None:
    env = PortfolioEnv(action_mode="templates")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="template index"):
        env.step(bad)


def test_templates_same_scenario_as_weights() -> None:
    """Both action modes draw the same market from a seed, so PPO (templates) and the baselines (weights) are
    compared on the same scenarios; the equal-weight template gives the equal-weight policy's return."""
    cont, disc = PortfolioEnv(), PortfolioEnv(action_mode="templates")
    obs_c, _ = cont.reset(seed=5)
    obs_d, _ = disc.reset(seed=5)
    np.testing.assert_array_equal(cont.returns, disc.returns)
    np.testing.assert_array_equal(obs_c, obs_d)
    ew = evaluate_episodes(EqualWeightPolicy(cont), cont, [5])
    tpl = evaluate_episodes(constant_template(1), disc, [5])
    assert tpl["return"][0] == pytest.approx(ew["return"][0], abs=1e-9)


def constant_template(k: int):
    """A policy that always picks template ``k``."""

    class Constant:
        def predict(self, obs: np.ndarray, deterministic: bool = True) -> int:
            return k

    return Constant()


def test_templates_check_env_and_determinism() -> None:
    from gymnasium.utils.env_checker import check_env

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*infinity")
        check_env(PortfolioEnv(action_mode="templates"), skip_render_check=True)
    runs = []
    for _ in range(2):
        env = gym.make("dlfrontier/Portfolio-v0", action_mode="templates")
        env.action_space.seed(0)
        obs, _ = env.reset(seed=3)
        rewards = [env.step(env.action_space.sample())[1] for _ in range(30)]
        runs.append((obs, rewards))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    with pytest.raises(ValueError, match="action_mode"):
        PortfolioEnv(action_mode="simplex")

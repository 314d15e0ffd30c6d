"""The classic operations-research policies the business environments' RL agents must beat.

References: Clark and Scarf, "Optimal Policies for a Multi-Echelon Inventory Problem" (Management Science 1960)
for echelon base-stock policies; Scarf, "The Optimality of (s, S) Policies in the Dynamic Inventory Problem"
(1960); Markowitz, "Portfolio Selection" (J. Finance 1952); Duchi et al., "Efficient Projections onto the
l1-Ball for Learning in High Dimensions" (ICML 2008) for the projection onto the simplex; Lin et al. (KDD 2018)
for the greedy dispatch and hot-spot repositioning baselines. Base-stock levels, (s, S) levels, risk aversion
and dispatch parameters are tuned by search on *training* scenario seeds (as Hubbs et al. do in OR-Gym), and all
policies are then compared on the same held-out seeds.

Every policy has the agent interface of :class:`dlfrontier.rl.common.algorithm.Algorithm` (Stable-Baselines3's):
``predict(obs, state=None, episode_start=None, deterministic=False) -> (action, state)`` (the rules are
deterministic whatever the flag says); stateful ones also have ``reset()``, which :func:`evaluate_episodes` calls at
each episode start.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from numpy.typing import ArrayLike

from dlfrontier.rl.envs.dispatch import RideDispatchEnv
from dlfrontier.rl.envs.inventory import InventoryEnv
from dlfrontier.rl.envs.portfolio import PortfolioEnv


class Policy(Protocol):
    def predict(self, obs: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = False) -> tuple[np.ndarray, Any]: ...


def evaluate_episodes(policy: Any, env: gym.Env, seeds: Sequence[int]) -> dict[str, np.ndarray]:
    """Run one episode per seed (``env.reset(seed=s)``: the same scenario for every policy) and collect the
    return and the env's ``episode_metrics()``.

    Args:
        policy: anything with ``predict(obs, deterministic=True)`` returning ``(action, state)`` as
            Stable-Baselines3 does (or a bare action); an optional ``reset()`` is called before each episode.
        env: the environment (wrapped or not; its unwrapped env must have ``episode_metrics``).
        seeds: scenario seeds.

    Returns:
        ``{"return": [E], <metric>: [E], ...}`` with ``E = len(seeds)``.
    """
    out: dict[str, list[float]] = {}
    for s in seeds:
        obs, _ = env.reset(seed=int(s))
        if hasattr(policy, "reset"):
            policy.reset()
        done, total = False, 0.0
        while not done:
            a = policy.predict(obs, deterministic=True)
            if isinstance(a, tuple):
                a = a[0]
            obs, r, terminated, truncated, _ = env.step(a)
            total += float(r)
            done = terminated or truncated
        metrics = {"return": total, **env.unwrapped.episode_metrics()}  # type: ignore[attr-defined]
        for k, v in metrics.items():
            out.setdefault(k, []).append(float(v))
    return {k: np.asarray(v) for k, v in out.items()}


class BaselinePolicy:
    """The agent interface over a rule ``_action(obs) -> action``."""

    def _action(self, obs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict(self, obs: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = False) -> tuple[np.ndarray, Any]:
        """``(action, state)`` as :meth:`dlfrontier.rl.common.algorithm.Algorithm.predict` (``state`` unchanged)."""
        return self._action(obs), state


class RandomPolicy(BaselinePolicy):
    """Uniformly random actions from the action space (seeded)."""

    def __init__(self, action_space: gym.Space, seed: int = 0) -> None:
        self.space = action_space
        self.space.seed(seed)

    def _action(self, obs: np.ndarray) -> np.ndarray:
        return self.space.sample()


# ---------------------------------------------------------------------------------------------------------
# inventory


class BaseStockPolicy(BaselinePolicy):
    """Echelon base-stock (order-up-to): stage ``i`` orders ``max(0, Z_i - IP_i)``, capped at its capacity.

    Args:
        env: the inventory env (unwrapped or not), to read observations and encode actions.
        levels: echelon order-up-to levels ``Z [S]`` (stock at and below a stage, in units).
    """

    def __init__(self, env: gym.Env, levels: ArrayLike) -> None:
        self.env: InventoryEnv = env.unwrapped  # type: ignore[assignment]
        self.levels = np.asarray(levels, dtype=np.float64)

    def position(self, obs: np.ndarray) -> np.ndarray:
        d = self.env.decode_obs(obs)
        local = d["on_hand"] + np.array([p.sum() for p in d["pipeline"]])
        return np.cumsum(local) - d["backlog"][0] + d["backlog"][1:]

    def _action(self, obs: np.ndarray) -> np.ndarray:
        return self.env.encode_action(np.maximum(0.0, self.levels - self.position(obs)))


class SSPolicy(BaseStockPolicy):
    """(s, S): stage ``i`` orders up to ``S_i`` when its echelon position is at most ``s_i``, else nothing."""

    def __init__(self, env: gym.Env, s: ArrayLike, S: ArrayLike) -> None:
        super().__init__(env, S)
        self.s = np.asarray(s, dtype=np.float64)

    def _action(self, obs: np.ndarray) -> np.ndarray:
        ip = self.position(obs)
        return self.env.encode_action(np.where(ip <= self.s, np.maximum(0.0, self.levels - ip), 0.0))


def coordinate_search(score: Callable[[np.ndarray], float], x0: ArrayLike, steps: Sequence[float],
                      *, low: float = 0.0) -> tuple[np.ndarray, float]:
    """Maximize ``score`` over integer vectors by coordinate search with shrinking steps.

    Tries ``x +- step * e_i`` for each coordinate and keeps any improvement, until no step improves; then the
    next (smaller) step. Deterministic given a deterministic ``score``.
    """
    x = np.asarray(x0, dtype=np.float64)
    best = score(x)
    for step in steps:
        improved = True
        while improved:
            improved = False
            for i, sign in itertools.product(range(x.size), (1, -1)):
                y = x.copy()
                y[i] = max(low, y[i] + sign * step)
                if np.array_equal(y, x):
                    continue
                v = score(y)
                if v > best + 1e-9:
                    x, best, improved = y, v, True
    return x, best


def fit_base_stock(env: gym.Env, seeds: Sequence[int]) -> tuple[BaseStockPolicy, float]:
    """Echelon base-stock levels maximizing the mean return over ``seeds`` (coordinate search from
    ``mean demand * cumulative (lead time + 1)``). Returns the policy and its mean training return."""
    u: InventoryEnv = env.unwrapped  # type: ignore[assignment]
    mean_demand = float(np.mean([_mean_demand(u)]))
    x0 = np.round(mean_demand * np.cumsum(u.L + 1))

    def score(z: np.ndarray) -> float:
        return float(evaluate_episodes(BaseStockPolicy(env, z), env, seeds)["return"].mean())

    z, best = coordinate_search(score, x0, (32, 8, 2, 1))
    return BaseStockPolicy(env, z), best


def fit_s_S(env: gym.Env, seeds: Sequence[int], base_levels: ArrayLike) -> tuple[SSPolicy, float]:
    """(s, S) levels maximizing the mean return over ``seeds``, searched from ``s = S - 1 = base levels``."""
    Z = np.asarray(base_levels, dtype=np.float64)
    S = Z.size

    def score(x: np.ndarray) -> float:
        pol = SSPolicy(env, x[:S], x[:S] + x[S:])
        return float(evaluate_episodes(pol, env, seeds)["return"].mean())

    # parametrized as (s, S - s) so that S >= s always holds
    x, best = coordinate_search(score, np.concatenate([Z - 1, np.ones(S)]), (16, 4, 1))
    return SSPolicy(env, x[:S], x[:S] + x[S:]), best


def _mean_demand(env: InventoryEnv) -> float:
    if env.demand_sequence is not None:
        return float(env.demand_sequence.mean())
    p = env.demand_params
    return {"poisson": lambda: p["mu"], "binomial": lambda: p["n"] * p["p"],
            "uniform": lambda: (p["low"] + p["high"] - 1) / 2, "geometric": lambda: 1 / p["p"]}[env.demand]()


# ---------------------------------------------------------------------------------------------------------
# portfolio


class EqualWeightPolicy(BaselinePolicy):
    """Rebalance to equal weights over the risky assets every day (no cash)."""

    def __init__(self, env: gym.Env) -> None:
        self.n = env.unwrapped.n  # type: ignore[attr-defined]

    def _action(self, obs: np.ndarray) -> np.ndarray:
        return np.append(np.ones(self.n), 0.0).astype(np.float32)


class BuyAndHoldPolicy(BaselinePolicy):
    """Buy equal weights on the first day, then hold (pass the drifted weights back: no trade)."""

    def __init__(self, env: gym.Env) -> None:
        self.n = env.unwrapped.n  # type: ignore[attr-defined]

    def _action(self, obs: np.ndarray) -> np.ndarray:
        w = np.asarray(obs[-(self.n + 1) :], dtype=np.float64)
        if w[-1] > 1 - 1e-9:  # all cash: the first day
            return np.append(np.ones(self.n), 0.0).astype(np.float32)
        return (w / w.max()).astype(np.float32)  # scaled into [0, 1]; the env normalizes it back


def project_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection of ``v [n]`` onto ``{w >= 0, sum w = 1}`` (Duchi et al. 2008)."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1
    k = np.arange(1, v.size + 1)
    rho = int(np.nonzero(u - css / k > 0)[0][-1])
    return np.maximum(v - css[rho] / (rho + 1), 0.0)


def mean_variance_weights(mu: np.ndarray, cov: np.ndarray, risk_aversion: float, *, exact: bool | None = None,
                          iters: int = 300) -> np.ndarray:
    """``argmax_w w.mu - risk_aversion / 2 * w' cov w`` over the simplex.

    ``exact`` (default: up to 8 assets): the optimum is the best feasible solution of the equality-constrained
    problem on one of the ``2^n - 1`` supports (a KKT linear system each, solved as one batch). Otherwise
    ``iters`` steps of projected gradient ascent.

    Shapes:
        mu ``[n]``, cov ``[n, n]``; output ``[n]`` (non-negative, sums to 1).
    """
    n = mu.size
    if exact if exact is not None else n <= 8:
        masks = (np.arange(1, 2**n)[:, None] >> np.arange(n) & 1).astype(bool)  # [M, n] the supports
        M = masks.shape[0]
        # per support: rows i in S hold risk_aversion * cov[i, S] w + lambda = mu_i; rows outside: w_i = 0
        kkt = np.zeros((M, n + 1, n + 1))
        inside = masks[:, :, None] & masks[:, None, :]
        kkt[:, :n, :n] = np.where(inside, risk_aversion * cov, 0.0) + np.where(masks, 0.0, 1.0)[:, :, None] * np.eye(n)
        kkt[:, :n, n] = masks
        kkt[:, n, :n] = masks
        rhs = np.concatenate([np.where(masks, mu, 0.0), np.ones((M, 1))], axis=1)  # [M, n + 1]
        try:
            sol = np.linalg.solve(kkt, rhs[..., None])[..., 0][:, :n]  # [M, n]
        except np.linalg.LinAlgError:  # a singular support (degenerate covariance): fall back to the iteration
            sol = None
        if sol is not None:
            feasible = np.all(sol >= -1e-12, axis=1)
            w = np.maximum(sol[feasible], 0.0)
            value = w @ mu - risk_aversion / 2 * np.einsum("mi,ij,mj->m", w, cov, w)
            best = w[int(np.argmax(value))]
            return best / best.sum()
    lipschitz = max(1e-12, risk_aversion * float(np.linalg.eigvalsh(cov).max()))
    w = np.full(n, 1 / n)
    for _ in range(iters):
        w = project_simplex(w + (mu - risk_aversion * cov @ w) / lipschitz)
    return w


class MarkowitzPolicy(BaselinePolicy):
    """Mean-variance weights over assets and cash from the returns in the observation window (rolling).

    Args:
        env: the portfolio env (to read the window and the risk-free rate).
        risk_aversion: the ``gamma`` of the mean-variance objective (daily returns).
        ridge: added to the covariance's diagonal (shrinkage of a short window's estimate).
    """

    def __init__(self, env: gym.Env, risk_aversion: float = 10.0, ridge: float = 1e-5) -> None:
        self.env: PortfolioEnv = env.unwrapped  # type: ignore[assignment]
        self.risk_aversion, self.ridge = float(risk_aversion), float(ridge)

    def _action(self, obs: np.ndarray) -> np.ndarray:
        x = self.env.recent_returns(obs)  # [window, n]
        n = x.shape[1]
        mu = np.append(x.mean(axis=0), self.env.risk_free)
        cov = np.zeros((n + 1, n + 1))  # cash: no variance
        cov[:n, :n] = np.atleast_2d(np.cov(x, rowvar=False)) + self.ridge * np.eye(n)
        w = mean_variance_weights(mu, cov, self.risk_aversion)
        return (w / max(w.max(), 1e-12)).astype(np.float32)


def fit_markowitz(env: gym.Env, seeds: Sequence[int], grid: Sequence[float] = (1, 3, 10, 30, 100, 300)
                  ) -> tuple[MarkowitzPolicy, float]:
    """The risk aversion of ``grid`` with the best mean Sharpe ratio over ``seeds``."""
    scores = [float(evaluate_episodes(MarkowitzPolicy(env, g), env, seeds)["sharpe"].mean()) for g in grid]
    best = int(np.argmax(scores))
    return MarkowitzPolicy(env, grid[best]), scores[best]


# ---------------------------------------------------------------------------------------------------------
# dispatch


class DispatchRulePolicy(BaselinePolicy):
    """A fixed dispatch rule: pickup ``radius``, repositioning ``fraction`` towards target ``shares``.

    ``greedy_dispatch`` is ``radius = max_pickup, fraction = 0``: every request gets the nearest idle driver.
    """

    def __init__(self, env: gym.Env, shares: np.ndarray | None = None, radius: int | None = None,
                 fraction: float = 0.0) -> None:
        u: RideDispatchEnv = env.unwrapped  # type: ignore[assignment]
        self.shares = shares
        self.radius = u.max_radius if radius is None else int(radius)
        self.fraction = float(fraction)
        self.action = u.encode_action(shares, self.radius, self.fraction)

    def _action(self, obs: np.ndarray) -> np.ndarray:
        return self.action.copy()


def greedy_dispatch(env: gym.Env) -> DispatchRulePolicy:
    """Nearest idle driver for every request, no repositioning."""
    return DispatchRulePolicy(env)


def historical_hotspots(env: gym.Env, seeds: Sequence[int]) -> np.ndarray:
    """The share of requests by origin zone over the training scenarios ``[Z]`` (the historical hot spots)."""
    u: RideDispatchEnv = env.unwrapped  # type: ignore[assignment]
    counts = np.zeros(u.n_zones)
    for s in seeds:
        env.reset(seed=int(s))
        for a in u.arrivals:
            counts += np.bincount(a[:, 0], minlength=u.n_zones) if len(a) else 0
    return counts / max(1.0, counts.sum())


def fit_hotspot_dispatch(env: gym.Env, seeds: Sequence[int], fractions: Sequence[float] = (0.25, 0.5, 1.0)
                         ) -> tuple[DispatchRulePolicy, float]:
    """Greedy matching plus repositioning towards the historical hot spots; the fraction that maximizes the
    mean return over ``seeds``."""
    shares = historical_hotspots(env, seeds)
    best: tuple[DispatchRulePolicy, float] | None = None
    for f in fractions:
        pol = DispatchRulePolicy(env, shares, None, f)
        v = float(evaluate_episodes(pol, env, seeds)["return"].mean())
        if best is None or v > best[1]:
            best = (pol, v)
    assert best is not None
    return best

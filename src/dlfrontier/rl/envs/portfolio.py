"""Portfolio allocation: n risky assets plus cash in a regime-switching market with transaction costs.

References: Hubbs et al., "OR-Gym" (2020, https://arxiv.org/abs/2008.06319) for the framing of investment
allocation as an RL environment; Hamilton, "A New Approach to the Economic Analysis of Nonstationary Time
Series and the Business Cycle" (Econometrica 1989) for the Markov regime-switching return model; Jiang et al.,
"A Deep Reinforcement Learning Framework for the Financial Portfolio Management Problem" (2017,
https://arxiv.org/abs/1706.10059) for the simplex action, proportional costs and the log-return reward.

Each step (a trading day) the agent chooses target weights ``w`` on the simplex over [assets..., cash].
Rebalancing from the drifted weights ``w'`` costs ``cost * sum_i |w_i - w'_i|`` of wealth (over the risky
assets; cash is free), then the assets earn their gross returns ``exp(x_i)``. The reward is the log return of
wealth, so the episode's return is its log-wealth.

Market model: a hidden regime follows a Markov chain; in regime ``k`` the daily log returns are
``N(mu_k, Sigma_k)`` with ``Sigma_k = vol_k^2 * ((1 - rho_k) I + rho_k 11^T)`` (equicorrelated). The default
has a calm bull regime and a volatile, correlated bear regime. A user's price series (``prices_csv``) replaces
the model: episodes are windows of its log returns starting at random days.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

TRADING_DAYS = 252


ActionMode = Literal["weights", "templates"]  # continuous scores, or the index of a template portfolio


def load_prices_csv(path: str | Path) -> np.ndarray:
    """Prices ``[days, assets]`` from a CSV with a header row; a first column that is not numeric (dates) is
    skipped. Raises ``ValueError`` naming the problem (missing file, non-positive or missing prices)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"prices_csv {str(p)!r} does not exist; give a CSV with a header and one column per asset")
    with p.open(newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 3:
        raise ValueError(f"{p}: need a header and at least 2 rows of prices")
    body = rows[1:]

    def numeric(s: str) -> bool:
        try:
            float(s)
            return True
        except ValueError:
            return False

    skip = 0 if numeric(body[0][0]) else 1
    try:
        x = np.array([[float(v) for v in r[skip:]] for r in body if r])
    except ValueError as e:
        raise ValueError(f"{p}: prices must be numbers ({e})") from None
    if x.ndim != 2 or x.shape[1] < 1 or not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise ValueError(f"{p}: prices must be a positive, complete table with one column per asset")
    return x


def portfolio_templates(n_assets: int) -> np.ndarray:
    """The template portfolios of ``action_mode="templates"``, ``[n_assets + 3, n_assets + 1]`` (cash last).

    Row 0: all cash; row 1: equal weights over the risky assets; row 2: half equal weights, half cash; rows
    ``3 .. n_assets + 2``: all in one asset. The set a discretionary allocator switches between: risk on, half
    risk, risk off, and a concentrated bet on each asset.
    """
    n = int(n_assets)
    eye = np.eye(n + 1)
    equal = np.append(np.full(n, 1 / n), 0.0)
    return np.stack([eye[n], equal, (equal + eye[n]) / 2, *eye[:n]])


def simplex_weights(action: np.ndarray, current: np.ndarray) -> np.ndarray:
    """``action / sum(action)``; an all-zero action keeps ``current`` (no trade)."""
    s = float(action.sum())
    return current.copy() if s <= 1e-12 else action / s


class PortfolioEnv(gym.Env):
    """Allocate wealth over ``n_assets`` risky assets and cash each day for ``horizon`` days.

    Observation (``float32``, length ``n_assets * (window + 3) + n_assets + 1``): the last ``window`` daily log
    returns of each asset in percent, oldest first, flattened ``[window, n_assets]``; their mean and standard
    deviation over the window and the standard deviation over the last 5 days ``[3, n_assets]`` (percent; the
    summary statistics a trader would look at, which make a change of regime visible to a small network);
    then the current (drifted) weights ``[n_assets + 1]`` (cash last).

    Action (``action_mode="weights"``, the default): ``Box(0, 1, [n_assets + 1])`` non-negative scores,
    normalized to the target weights (long only, cash last). Values outside [0, 1] are clipped (``strict=True``:
    ``ValueError``); a wrong shape or NaN is always a ``ValueError``; an all-zero action holds the current
    weights. ``action_mode="templates"``: ``Discrete(n_assets + 3)``, the index of a target portfolio of
    :func:`portfolio_templates` (cash, equal weight, half equal weight and half cash, each single asset);
    anything but an integer in range is a ``ValueError``. The costs and the reward are the same in both modes.

    Args:
        n_assets: risky assets (ignored with ``prices_csv``: the CSV's columns).
        horizon: trading days per episode.
        window: days of past returns observed.
        cost: proportional transaction cost (0.001 = 10 basis points per unit turnover).
        risk_free: daily log return of cash.
        regimes: ``(mu, vol, rho)`` per regime: daily drift, daily volatility, correlation of the assets.
        switch: probability per day of leaving each regime.
        asset_spread: drifts of the assets are ``mu * (1 + spread * z_i)`` with fixed ``z`` from -1 to 1,
            so the assets differ.
        prices_csv: a CSV of real prices to use instead of the model.
        action_mode: ``"weights"`` (continuous scores) or ``"templates"`` (a discrete choice of portfolio).
        strict: raise on out-of-bounds actions instead of clipping.
        render_mode: ``"ansi"`` or ``"rgb_array"``.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 10}

    def __init__(
        self,
        n_assets: int = 4,
        horizon: int = 100,
        window: int = 20,
        cost: float = 0.001,
        risk_free: float = 0.0,
        regimes: tuple[tuple[float, float, float], ...] = ((0.0010, 0.010, 0.2), (-0.0020, 0.025, 0.7)),
        switch: tuple[float, ...] = (0.02, 0.05),
        asset_spread: float = 0.5,
        prices_csv: str | None = None,
        action_mode: ActionMode = "weights",
        strict: bool = False,
        render_mode: str | None = None,
    ) -> None:
        for name, v, lo in (("horizon", horizon, 1), ("window", window, 1), ("n_assets", n_assets, 1)):
            if int(v) != v or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
        if not 0 <= cost < 1:
            raise ValueError(f"cost must be in [0, 1), got {cost!r}")
        self.horizon, self.window, self.cost, self.risk_free = int(horizon), int(window), float(cost), float(risk_free)
        self.prices: np.ndarray | None = None
        if prices_csv is not None:
            self.prices = load_prices_csv(prices_csv)
            n_assets = self.prices.shape[1]
            if self.prices.shape[0] < self.horizon + self.window + 1:
                raise ValueError(f"{prices_csv}: {self.prices.shape[0]} days < horizon + window + 1 = "
                                 f"{self.horizon + self.window + 1}; shorten horizon or window")
        self.n = int(n_assets)
        self.regimes = np.asarray(regimes, dtype=np.float64)
        if self.regimes.ndim != 2 or self.regimes.shape[1] != 3:
            raise ValueError(f"regimes must be (mu, vol, rho) triples, got {regimes!r}")
        if np.any(self.regimes[:, 1] <= 0) or np.any(np.abs(self.regimes[:, 2]) >= 1):
            raise ValueError(f"regime volatilities must be > 0 and correlations in (-1, 1), got {regimes!r}")
        self.switch = np.asarray(switch, dtype=np.float64)
        if self.switch.shape != (len(self.regimes),) or np.any(self.switch < 0) or np.any(self.switch > 1):
            raise ValueError(f"switch needs one probability in [0, 1] per regime, got {switch!r}")
        self.asset_spread = float(asset_spread)
        if action_mode not in ("weights", "templates"):
            raise ValueError(f"action_mode must be 'weights' or 'templates', got {action_mode!r}")
        self.action_mode = action_mode
        self.templates = portfolio_templates(self.n)  # [n + 3, n + 1]
        self.strict = bool(strict)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r} not in {self.metadata['render_modes']}")
        self.render_mode = render_mode
        obs_dim = self.n * (self.window + 3) + self.n + 1
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float32)
        self.action_space: spaces.Space = (
            spaces.Discrete(len(self.templates)) if action_mode == "templates"
            else spaces.Box(0.0, 1.0, shape=(self.n + 1,), dtype=np.float32)
        )
        self._start(np.zeros((self.window + self.horizon, self.n)), np.zeros(self.window + self.horizon, dtype=int))

    # -- market ----------------------------------------------------------------------------------------------
    def _simulate(self, days: int) -> tuple[np.ndarray, np.ndarray]:
        """Regimes ``[days]`` and log returns ``[days, n]`` of the model, starting from its stationary law."""
        g, K, n = self.np_random, len(self.regimes), self.n
        leave = np.maximum(self.switch, 1e-12)
        stationary = (1 / leave) / np.sum(1 / leave)  # time spent in a regime is proportional to 1 / leave
        regime = np.zeros(days, dtype=int)
        regime[0] = g.choice(K, p=stationary)
        for d in range(1, days):
            k = regime[d - 1]
            if g.random() < self.switch[k]:
                others = [j for j in range(K) if j != k]
                k = others[int(g.integers(len(others)))] if others else k
            regime[d] = k
        z = np.linspace(-1, 1, n) if n > 1 else np.zeros(1)
        eps = g.standard_normal((days, n))
        common = g.standard_normal((days, 1))
        mu, vol, rho = (self.regimes[regime, j][:, None] for j in range(3))  # [days, 1] each
        # equicorrelated normals: sqrt(rho) * common factor + sqrt(1 - rho) * idiosyncratic
        x = mu * (1 + self.asset_spread * z) + vol * (np.sqrt(rho) * common + np.sqrt(1 - rho) * eps)
        return regime, x

    def _start(self, returns: np.ndarray, regime: np.ndarray) -> None:
        self.returns = returns  # [window + horizon, n] log returns; the first `window` are history
        self.regime = regime  # [window + horizon] (-1 for real data)
        self.t = 0
        self.weights = np.append(np.zeros(self.n), 1.0)  # start in cash
        self.log_wealth = 0.0
        self.step_returns: list[float] = []
        self.turnover = 0.0
        self.history: dict[str, list[Any]] = {"log_wealth": [0.0], "weights": [], "regime": []}

    def _obs(self) -> np.ndarray:
        past = 100 * self.returns[self.t : self.t + self.window]  # [window, n] in percent
        stats = [past.mean(axis=0), past.std(axis=0), past[-5:].std(axis=0)]  # 3 x [n]
        return np.concatenate([past.ravel(), *stats, self.weights]).astype(np.float32)

    def recent_returns(self, obs: np.ndarray) -> np.ndarray:
        """The ``[window, n]`` daily log returns (not percent) in an observation."""
        return np.asarray(obs[: self.n * self.window], dtype=np.float64).reshape(self.window, self.n) / 100

    # -- gymnasium API ---------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        days = self.window + self.horizon
        if self.prices is None:
            regime, x = self._simulate(days)
        else:
            logp = np.log(self.prices)
            start = int(self.np_random.integers(0, logp.shape[0] - days))
            x = np.diff(logp[start : start + days + 1], axis=0)
            regime = np.full(days, -1)
        self._start(x, regime)
        return self._obs(), {}

    def step(self, action: Any):
        if self.t >= self.horizon:
            raise RuntimeError("step() after the episode ended; call reset()")
        target = self.target_weights(action)
        turnover = float(np.abs(target[:-1] - self.weights[:-1]).sum())
        x = self.returns[self.window + self.t]  # [n] today's log returns
        gross = np.append(np.exp(x), np.exp(self.risk_free))  # [n + 1]
        growth = float(target @ gross)
        reward = float(np.log(1 - self.cost * turnover) + np.log(growth))
        self.weights = target * gross / growth
        regime = int(self.regime[self.window + self.t])
        self.t += 1
        self.log_wealth += reward
        self.turnover += turnover
        self.step_returns.append(reward)
        self.history["log_wealth"].append(self.log_wealth)
        self.history["weights"].append(target.copy())
        self.history["regime"].append(regime)
        info = {"turnover": turnover, "regime": regime, "log_wealth": self.log_wealth}
        return self._obs(), reward, self.t >= self.horizon, False, info

    def target_weights(self, action: Any) -> np.ndarray:
        """The target weights ``[n + 1]`` an action asks for (validated as the action mode requires)."""
        if self.action_mode == "templates":
            k = np.asarray(action)
            if k.shape != () or k.dtype.kind not in "iu" or not 0 <= int(k) < len(self.templates):
                raise ValueError(f"action must be an integer template index in [0, {len(self.templates)}), "
                                 f"got {action!r}")
            return self.templates[int(k)].copy()
        a = np.asarray(action, dtype=np.float64)
        if a.shape != self.action_space.shape:
            raise ValueError(f"action must have shape {self.action_space.shape}, got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action has NaN or infinite values: {a.tolist()}")
        if self.strict and (np.any(a < -1e-6) or np.any(a > 1 + 1e-6)):
            raise ValueError(f"action {a.tolist()} outside [0, 1] (strict=True)")
        return simplex_weights(np.clip(a, 0.0, 1.0), self.weights)

    def episode_metrics(self) -> dict[str, float]:
        """Log-wealth, annualized Sharpe ratio of the daily log returns (risk-free subtracted) and turnover."""
        r = np.asarray(self.step_returns) - self.risk_free
        sd = float(r.std()) if r.size > 1 else 0.0
        sharpe = float(r.mean() / sd * np.sqrt(TRADING_DAYS)) if sd > 1e-12 else 0.0
        return {"log_wealth": self.log_wealth, "sharpe": sharpe, "turnover": self.turnover}

    def render(self) -> str | np.ndarray | None:
        if self.render_mode == "ansi":
            w = " ".join(f"{v:.2f}" for v in self.weights)
            return f"day {self.t}/{self.horizon}  wealth {np.exp(self.log_wealth):.4f}  weights [{w}]\n"
        if self.render_mode == "rgb_array":
            # a stacked bar of the weights (one colour per asset, cash grey) over a wealth line
            H, W = 100, 200
            img = np.full((H, W, 3), 255, dtype=np.uint8)
            img[: H // 4] = 200
            colours = np.array([(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)])
            x = 0
            for i, wi in enumerate(self.weights[:-1]):
                dx = int(round(W * wi))
                img[: H // 4, x : x + dx] = colours[i % len(colours)]
                x += dx
            lw = np.asarray(self.history["log_wealth"])
            if lw.size > 1:
                cols = np.linspace(0, W - 1, lw.size).astype(int)
                span = max(1e-9, float(lw.max() - lw.min()))
                rows = (H - 1 - (lw - lw.min()) / span * (H * 3 // 4 - 1)).astype(int)
                img[rows, cols] = (0, 0, 0)
            return img
        return None

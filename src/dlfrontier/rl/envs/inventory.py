"""Multi-echelon inventory management: a serial supply chain with lead times, capacities and stochastic demand.

Reference: Hubbs et al., "OR-Gym: A Reinforcement Learning Library for Operations Research Problems" (2020,
https://arxiv.org/abs/2008.06319), environment ``InvManagement-v0/v1`` (Perez, Hubbs and Sarwar). The
defaults below are OR-Gym's (30 periods, initial inventory [100, 100, 200], price 2, replenishment costs
[1.5, 1.0, 0.75, 0.5], penalties [0.10, 0.075, 0.05, 0.025], holding costs [0.15, 0.10, 0.05], capacities
[100, 90, 80], lead times [3, 5, 10], Poisson demand with mean 20, discount 0.97) and so is the order of
events in a period. Written anew for Gymnasium; differences from OR-Gym are listed in ``docs/business.md``.

Stages are numbered from the customer up: 0 retailer, 1 distributor, 2 manufacturer, 3 supplier (unlimited
raw material, no inventory). Each period ``n``:

1. every stage ``i < M`` orders ``R_i`` from stage ``i + 1`` (plus its own unfilled orders of the last
   period when backlogging); stage ``i + 1`` ships at most its capacity ``c_i`` and its on-hand inventory;
2. shipments placed ``L_i`` periods ago arrive at stage ``i``;
3. customer demand ``D_n`` (plus the customer backlog) arrives at the retailer and is served from stock;
4. unmet demand and unfilled orders are backlogged (``backlog=True``) or lost, both at a penalty ``k``;
5. stock left on hand pays a holding cost ``h``.

Profit of a stage is its sales at its unit price minus its purchases, penalties and holding; the price of a
stage ``i >= 1`` is the replenishment cost ``r_{i-1}`` of the stage it sells to, so internal transfers cancel
and the chain's profit is ``p * sales - r_M * raw material - penalties - holding``. The reward is the chain's
profit of the period discounted by ``discount ** n`` (as in OR-Gym).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

Demand = Literal["poisson", "binomial", "uniform", "geometric"]  # the keys of DISTRIBUTIONS
DISTRIBUTIONS: dict[str, dict[str, float]] = {
    "poisson": {"mu": 20.0},
    "binomial": {"n": 40, "p": 0.5},
    "uniform": {"low": 0, "high": 40},
    "geometric": {"p": 0.05},
}


def _vector(name: str, value: Sequence[float] | float, length: int | None, *, positive: bool = False) -> np.ndarray:
    x = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if x.ndim != 1 or (length is not None and x.size != length):
        raise ValueError(f"{name} must have {length} values, got {list(np.ravel(x))}")
    if not np.all(np.isfinite(x)) or np.any(x < 0) or (positive and np.any(x <= 0)):
        raise ValueError(f"{name} must be {'positive' if positive else 'non-negative'} and finite, got {x.tolist()}")
    return x


class InventoryEnv(gym.Env):
    """A serial supply chain (retailer, distributor, manufacturer, supplier) over ``periods`` periods.

    Observation (``float32``, length ``2 S + 2 + sum(L)`` with ``S = len(initial_inventory)`` stocking
    stages): on-hand inventory of each stocking stage ``[S]``; backlog of the last period ``[S + 1]``
    (customer backlog at the retailer, then the orders of stage ``i`` left unfilled by stage ``i + 1``);
    the pipeline: for stage 0, 1, ... the quantities ordered 1, 2, ..., ``L_i`` periods ago and not yet
    received ``[sum(L)]``; the fraction of the horizon elapsed ``[1]``. With ``normalize=True`` all
    quantities are divided by ``max(capacity)``.

    Action: order quantities ``[S]`` for each stocking stage, a ``Box(0, capacity)``; they are rounded to whole
    units. Values outside the box are clipped (``strict=True``: a ``ValueError``); a wrong shape or a NaN is
    always a ``ValueError``. With ``normalize=True`` the action is ``Box(-1, 1)`` mapped linearly onto
    ``[0, capacity]`` (what a Gaussian policy learns best).

    Args:
        periods: episode length.
        initial_inventory: on-hand stock of stages 0..S-1 at the start.
        price: unit sales price of the retailer.
        replenishment_cost: unit cost ``r`` of an order at each of the ``S + 1`` stages (the last: production).
        penalty: unit cost ``k`` of unmet demand / unfilled orders at each of the ``S + 1`` stages.
        holding_cost: unit cost ``h`` of stock on hand at each stocking stage.
        capacity: most units stage ``i + 1`` can ship to stage ``i`` per period.
        lead_time: periods between an order of stage ``i`` and its arrival.
        backlog: unmet demand and unfilled orders are carried over (True) or lost (False).
        demand: ``"poisson"``, ``"binomial"``, ``"uniform"`` (integers in [low, high)) or ``"geometric"``.
        demand_params: parameters of the demand distribution (defaults in ``DISTRIBUTIONS``).
        demand_sequence: fixed demands, one per period (overrides ``demand``).
        discount: the per-period discount ``alpha`` of the reward.
        normalize: scale observations and actions (see above).
        strict: raise on out-of-bounds actions instead of clipping.
        render_mode: ``"ansi"`` or ``"rgb_array"``.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        periods: int = 30,
        initial_inventory: Sequence[float] = (100, 100, 200),
        price: float = 2.0,
        replenishment_cost: Sequence[float] = (1.5, 1.0, 0.75, 0.5),
        penalty: Sequence[float] = (0.10, 0.075, 0.05, 0.025),
        holding_cost: Sequence[float] = (0.15, 0.10, 0.05),
        capacity: Sequence[float] = (100, 90, 80),
        lead_time: Sequence[int] = (3, 5, 10),
        backlog: bool = True,
        demand: Demand = "poisson",
        demand_params: dict[str, float] | None = None,
        demand_sequence: Sequence[float] | None = None,
        discount: float = 0.97,
        normalize: bool = False,
        strict: bool = False,
        render_mode: str | None = None,
    ) -> None:
        if int(periods) != periods or periods < 1:
            raise ValueError(f"periods must be a positive integer, got {periods!r}")
        self.periods = int(periods)
        self.I0 = _vector("initial_inventory", initial_inventory, None)
        S = self.I0.size
        if S < 1:
            raise ValueError("initial_inventory needs at least one stocking stage")
        self.n_stock = S
        self.price = float(price)
        if not np.isfinite(self.price) or self.price < 0:
            raise ValueError(f"price must be non-negative, got {price!r}")
        self.r = _vector("replenishment_cost", replenishment_cost, S + 1)
        self.k = _vector("penalty", penalty, S + 1)
        self.h = _vector("holding_cost", holding_cost, S)
        self.capacity = _vector("capacity", capacity, S, positive=True)
        lt = _vector("lead_time", lead_time, S)
        if np.any(lt != np.round(lt)):
            raise ValueError(f"lead_time must be whole periods, got {lt.tolist()}")
        self.L = lt.astype(int)
        self.backlog = bool(backlog)
        if demand not in DISTRIBUTIONS:
            raise ValueError(f"demand {demand!r} not in {sorted(DISTRIBUTIONS)}")
        self.demand = demand
        self.demand_params = {**DISTRIBUTIONS[demand], **(demand_params or {})}
        unknown = set(self.demand_params) - set(DISTRIBUTIONS[demand])
        if unknown:
            valid = sorted(DISTRIBUTIONS[demand])
            raise ValueError(f"demand_params {sorted(unknown)} unknown for {demand}; valid: {valid}")
        self.demand_sequence = None
        if demand_sequence is not None:
            self.demand_sequence = _vector("demand_sequence", demand_sequence, self.periods)
        if not 0 < discount <= 1:
            raise ValueError(f"discount must be in (0, 1], got {discount!r}")
        self.discount = float(discount)
        self.normalize = bool(normalize)
        self.strict = bool(strict)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r} not in {self.metadata['render_modes']}")
        self.render_mode = render_mode
        # the price a stage sells at: the retailer's price, then the buyer's replenishment cost
        self.unit_price = np.append(self.price, self.r[:-1])
        self.scale = float(self.capacity.max()) if self.normalize else 1.0

        obs_dim = 2 * S + 2 + int(self.L.sum())
        self.observation_space = spaces.Box(0.0, np.inf, shape=(obs_dim,), dtype=np.float32)
        if self.normalize:
            self.action_space = spaces.Box(-1.0, 1.0, shape=(S,), dtype=np.float32)
        else:
            self.action_space = spaces.Box(0.0, self.capacity.astype(np.float32), dtype=np.float32)
        self._reset_state(np.zeros(self.periods))

    # -- state ---------------------------------------------------------------------------------------------
    def _reset_state(self, demands: np.ndarray) -> None:
        S, T = self.n_stock, self.periods
        self.t = 0
        self.demands = demands  # [T] the scenario, drawn at reset (common random numbers across policies)
        self.on_hand = self.I0.copy()  # [S]
        self.backlogged = np.zeros(S + 1)  # [S + 1] carried into this period
        self.orders = np.zeros((T, S))  # [T, S] shipped orders of each period (what will arrive)
        self.history: dict[str, list[Any]] = {"on_hand": [self.on_hand.copy()], "orders": [], "demand": [],
                                              "sales": [], "profit": []}
        self.total_profit = 0.0

    def _sample_demands(self) -> np.ndarray:
        if self.demand_sequence is not None:
            return self.demand_sequence.copy()
        g, p, T = self.np_random, self.demand_params, self.periods
        if self.demand == "poisson":
            return g.poisson(p["mu"], T).astype(np.float64)
        if self.demand == "binomial":
            return g.binomial(int(p["n"]), p["p"], T).astype(np.float64)
        if self.demand == "uniform":
            return g.integers(int(p["low"]), int(p["high"]), T).astype(np.float64)
        return g.geometric(p["p"], T).astype(np.float64)

    def pipeline(self) -> list[np.ndarray]:
        """For each stage, the quantities ordered 1..L_i periods ago that have not arrived (newest first)."""
        out = []
        for i, L in enumerate(self.L):
            past = [self.orders[self.t - j, i] if self.t - j >= 0 else 0.0 for j in range(1, L + 1)]
            out.append(np.asarray(past))
        return out

    def _obs(self) -> np.ndarray:
        pipe = np.concatenate(self.pipeline()) if self.L.sum() else np.zeros(0)
        q = np.concatenate([self.on_hand, self.backlogged, pipe]) / self.scale
        return np.append(q, self.t / self.periods).astype(np.float32)

    def inventory_position(self) -> np.ndarray:
        """Echelon inventory position of each stage: stock at and below it, plus what is on order from above
        (in transit or backlogged at the supplier), minus the customer backlog. ``[S]``."""
        local = self.on_hand + np.array([p.sum() for p in self.pipeline()])
        return np.cumsum(local) - self.backlogged[0] + self.backlogged[1:]

    def decode_obs(self, obs: np.ndarray) -> dict[str, Any]:
        """Split an observation into ``on_hand``, ``backlog``, ``pipeline`` (list) and ``time``, in units."""
        S = self.n_stock
        x = np.asarray(obs, dtype=np.float64)
        q = x[:-1] * self.scale
        pipe, start = [], 2 * S + 1
        for L in self.L:
            pipe.append(q[start : start + L])
            start += L
        return {"on_hand": q[:S], "backlog": q[S : 2 * S + 1], "pipeline": pipe, "time": x[-1:]}

    def encode_action(self, orders: np.ndarray) -> np.ndarray:
        """The action that orders ``orders`` units (the inverse of the ``normalize`` mapping)."""
        o = np.clip(np.asarray(orders, dtype=np.float64), 0, self.capacity)
        a = 2 * o / self.capacity - 1 if self.normalize else o
        return a.astype(np.float32)

    def _orders_from_action(self, action: Any) -> np.ndarray:
        a = np.asarray(action, dtype=np.float64)
        if a.shape != self.action_space.shape:
            raise ValueError(f"action must have shape {self.action_space.shape}, got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action has NaN or infinite values: {a.tolist()}")
        space: spaces.Box = self.action_space  # type: ignore[assignment]
        low, high = space.low, space.high
        if self.strict and (np.any(a < low - 1e-6) or np.any(a > high + 1e-6)):
            raise ValueError(f"action {a.tolist()} outside [{low.tolist()}, {high.tolist()}] (strict=True)")
        a = np.clip(a, low, high)
        orders = (a + 1) / 2 * self.capacity if self.normalize else a
        return np.rint(orders)

    # -- gymnasium API -------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._reset_state(self._sample_demands())
        return self._obs(), {}

    def step(self, action: Any):
        if self.t >= self.periods:
            raise RuntimeError("step() after the episode ended; call reset()")
        S, n = self.n_stock, self.t
        requested = self._orders_from_action(action)
        if self.backlog:
            requested = requested + self.backlogged[1:]
        # 1. the supplier above ships at most its capacity and its on-hand stock (the top has unlimited stock)
        upstream = np.append(self.on_hand[1:], np.inf)
        shipped = np.minimum(np.minimum(requested, self.capacity), upstream)
        self.orders[n] = shipped
        # 2. shipments placed L periods ago arrive
        arrived = np.array([self.orders[n - L, i] if n - L >= 0 else 0.0 for i, L in enumerate(self.L)])
        on_hand = self.on_hand + arrived
        # 3. demand (with the customer backlog) is served from the retailer's stock
        demand = self.demands[n] + (self.backlogged[0] if self.backlog else 0.0)
        sold = np.append(min(on_hand[0], demand), shipped)  # [S + 1] sales of each stage
        on_hand = on_hand - sold[:-1]
        unmet = np.append(demand, requested) - sold  # [S + 1]
        # 4-5. profit of each stage: sales - purchases (production at the top) - penalties - holding
        purchases = np.append(shipped, shipped[-1])
        stage_profit = self.unit_price * sold - self.r * purchases - self.k * unmet - np.append(self.h * on_hand, 0.0)
        profit = float(stage_profit.sum())
        self.on_hand = on_hand
        self.backlogged = unmet if self.backlog else np.zeros(S + 1)
        self.t += 1
        self.total_profit += profit
        h = self.history
        h["on_hand"].append(on_hand.copy())
        h["orders"].append(shipped.copy())
        h["demand"].append(self.demands[n])
        h["sales"].append(sold[0])
        h["profit"].append(profit)
        reward = self.discount**n * profit
        terminated = self.t >= self.periods
        info = {"profit": profit, "demand": float(self.demands[n]), "sales": float(sold[0]),
                "unmet": float(unmet[0]), "stage_profit": stage_profit}
        return self._obs(), float(reward), terminated, False, info

    def episode_metrics(self) -> dict[str, float]:
        """Business metrics of the episode so far: undiscounted profit and fill rate (sales / demand)."""
        demand = float(np.sum(self.history["demand"]))
        sales = float(np.sum(self.history["sales"]))
        return {"profit": self.total_profit, "fill_rate": sales / demand if demand > 0 else 1.0}

    def render(self) -> str | np.ndarray | None:
        if self.render_mode == "ansi":
            pipe = [int(p.sum()) for p in self.pipeline()]
            return (f"period {self.t}/{self.periods}  on hand {self.on_hand.astype(int).tolist()}  "
                    f"in transit {pipe}  backlog {self.backlogged.astype(int).tolist()}  "
                    f"profit {self.total_profit:.1f}\n")
        if self.render_mode == "rgb_array":
            # one bar per stage: on-hand stock (blue) over in-transit stock (grey), 0..2*max(I0, capacity)
            H, W, S = 120, 40 * self.n_stock, self.n_stock
            img = np.full((H, W, 3), 255, dtype=np.uint8)
            top = 2 * max(self.I0.max(), self.capacity.max())
            for i in range(S):
                stock = int(min(H, H * self.on_hand[i] / top))
                transit = int(min(H - stock, H * self.pipeline()[i].sum() / top))
                x0, x1 = 40 * i + 8, 40 * i + 32
                img[H - stock :, x0:x1] = (40, 90, 200)
                img[H - stock - transit : H - stock, x0:x1] = (170, 170, 170)
            return img
        return None

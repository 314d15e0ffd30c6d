"""Ride-hailing dispatch on a grid city: match idle drivers to requests and reposition the rest.

References: Lin et al., "Efficient Large-Scale Fleet Management via Multi-Agent Deep Reinforcement Learning"
(KDD 2018, https://arxiv.org/abs/1802.06444) for the grid city, time-of-day demand and repositioning of idle
drivers; Qin et al., "Ride-Hailing Order Dispatching at DiDi via Reinforcement Learning" (INFORMS J. Applied
Analytics 2020) for dispatch as a matching of idle drivers to waiting requests with expiring requests.

The city is a ``rows x cols`` grid of zones; a trip or a drive between zones takes one step per zone of
Manhattan distance. Requests arrive each step by zone with a time-of-day pattern: a morning peak from the
residential zones (all but the centre) to downtown (the centre zone) and an evening peak back; in between
requests are spread evenly. A request waits at most ``patience`` steps for a driver and then expires.

The action is a *dispatch policy* for the step rather than one decision per driver (so that its size does not
depend on the fleet): ``Box(-1, 1, [Z + 2])`` with ``Z = rows * cols``:

- ``a[Z]``: the pickup radius, ``round((a + 1) / 2 * max_pickup)`` zones; requests are matched oldest first,
  each to the nearest idle driver within the radius (ties: lowest driver index);
- ``a[:Z]``: where the unmatched idle drivers should be, target shares proportional to ``exp(3 a_z)``;
- ``a[Z + 1]``: the fraction ``(a + 1) / 2`` of each zone's surplus of idle drivers (over its target share)
  that drives towards the zones short of drivers (the largest shortage first, nearest on ties).

With ``action_mode="templates"`` the action is instead ``Discrete(7)``, a choice among the rules a dispatcher
would switch between during the day (always the full pickup radius): 0 greedy matching without repositioning;
then repositioning half (1, 3, 5) or all (2, 4, 6) of the surplus towards even shares (1, 2), towards downtown
(3, 4) or towards the residential zones (5, 6). The targets come from the city's geography only, not from the
demand model.

Reward per step: fares of the matched requests (``fare_base + fare_per_zone * trip length``) minus
``drive_cost`` per zone driven (pickup, trip and repositioning).
"""

from __future__ import annotations

from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

ActionMode = Literal["policy", "templates"]  # the continuous dispatch policy, or one of the template rules


def demand_profile(phase: float, base: float = 0.3, width: float = 0.1) -> tuple[float, float, float]:
    """Weights of the (even, morning, evening) components at ``phase`` in [0, 1) of the day."""
    morning = float(np.exp(-(((phase - 0.25) / width) ** 2)))
    evening = float(np.exp(-(((phase - 0.75) / width) ** 2)))
    return base, morning, evening


class RideDispatchEnv(gym.Env):
    """A fleet of ``n_drivers`` serving requests on a ``rows x cols`` grid for ``horizon`` steps.

    Observation (``float32``, length ``3 Z + 3``), counts divided by ``n_drivers``: idle drivers per zone
    ``[Z]``, waiting requests per origin zone ``[Z]``, busy drivers that become idle in each zone within the
    next two steps ``[Z]``; then ``sin`` and ``cos`` of the time of day and the fraction of the day elapsed.

    Action: see the module docstring. Values outside [-1, 1] are clipped (``strict=True``: ``ValueError``); a
    wrong shape or NaN is always a ``ValueError``. With ``action_mode="templates"`` anything but an integer
    index of :attr:`templates` is a ``ValueError``.

    Args:
        rows: grid rows.
        cols: grid columns.
        n_drivers: fleet size.
        horizon: steps per episode (a day).
        rate: mean requests per step over the day.
        patience: steps a request waits before it expires (1: it must be matched in the step it arrives).
        max_pickup: the farthest (in zones) a driver may be sent to pick a rider up; riders cancel beyond it.
        fare_base: fare of a trip within a zone.
        fare_per_zone: extra fare per zone of trip length.
        drive_cost: cost per zone driven.
        action_mode: ``"policy"`` (the continuous dispatch policy) or ``"templates"`` (a discrete choice of rule).
        strict: raise on out-of-bounds actions instead of clipping.
        render_mode: ``"ansi"`` or ``"rgb_array"``.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        rows: int = 3,
        cols: int = 3,
        n_drivers: int = 10,
        horizon: int = 48,
        rate: float = 4.0,
        patience: int = 2,
        max_pickup: int = 1,
        fare_base: float = 1.0,
        fare_per_zone: float = 0.5,
        drive_cost: float = 0.2,
        action_mode: ActionMode = "policy",
        strict: bool = False,
        render_mode: str | None = None,
    ) -> None:
        for name, v, lo in (("rows", rows, 1), ("cols", cols, 1), ("n_drivers", n_drivers, 1),
                            ("horizon", horizon, 1), ("patience", patience, 1), ("max_pickup", max_pickup, 0)):
            if int(v) != v or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
        for name, x in (("rate", rate), ("fare_base", fare_base), ("fare_per_zone", fare_per_zone),
                        ("drive_cost", drive_cost)):
            if not np.isfinite(x) or x < 0:
                raise ValueError(f"{name} must be non-negative, got {x!r}")
        self.rows, self.cols, self.n_drivers = int(rows), int(cols), int(n_drivers)
        self.horizon, self.rate, self.patience = int(horizon), float(rate), int(patience)
        self.max_pickup = int(max_pickup)
        self.fare_base, self.fare_per_zone, self.drive_cost = float(fare_base), float(fare_per_zone), float(drive_cost)
        self.strict = bool(strict)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r} not in {self.metadata['render_modes']}")
        self.render_mode = render_mode
        Z = self.n_zones = self.rows * self.cols
        r, c = np.divmod(np.arange(Z), self.cols)
        self.distance = (np.abs(r[:, None] - r[None]) + np.abs(c[:, None] - c[None])).astype(int)  # [Z, Z]
        self.max_distance = int(self.distance.max())
        self.max_radius = min(self.max_pickup, self.max_distance)
        self.downtown = np.zeros(Z)
        self.downtown[(self.rows // 2) * self.cols + self.cols // 2] = 1.0
        self.residential = (1 - self.downtown) / max(1.0, float((1 - self.downtown).sum())) if Z > 1 else self.downtown
        self.observation_space = spaces.Box(-1.0, np.inf, shape=(3 * Z + 3,), dtype=np.float32)
        if action_mode not in ("policy", "templates"):
            raise ValueError(f"action_mode must be 'policy' or 'templates', got {action_mode!r}")
        self.action_mode = action_mode
        even = np.full(Z, 1 / Z)
        # (target shares or None, reposition fraction); the pickup radius is always the largest
        self.templates: list[tuple[np.ndarray | None, float]] = [(None, 0.0)] + [
            (shares, fraction) for shares in (even, self.downtown, self.residential) for fraction in (0.5, 1.0)
        ]
        self.action_space: spaces.Space = (
            spaces.Discrete(len(self.templates)) if action_mode == "templates"
            else spaces.Box(-1.0, 1.0, shape=(Z + 2,), dtype=np.float32)
        )
        self._start([np.zeros((0, 2), dtype=int) for _ in range(self.horizon)], np.zeros(self.n_drivers, dtype=int))

    # -- demand ----------------------------------------------------------------------------------------------
    def od_distribution(self, t: int) -> tuple[float, np.ndarray, np.ndarray]:
        """Mean number of requests at step ``t``, origin probabilities ``[Z]`` and destination given origin
        ``[Z, Z]`` (destinations do not depend on the origin in this model, so all rows are equal)."""
        Z = self.n_zones
        even, morning, evening = demand_profile(t / self.horizon)
        total = even + morning + evening
        uniform = np.full(Z, 1 / Z)
        origin = (even * uniform + morning * self.residential + evening * self.downtown) / total
        dest = (even * uniform + morning * self.downtown + evening * self.residential) / total
        # the mean of the profile over a day is about 0.3 + 2 * 0.1 * sqrt(pi) = 0.65
        mean = self.rate * total / (0.3 + 0.2 * np.sqrt(np.pi))
        return mean, origin, np.tile(dest, (Z, 1))

    def _sample_requests(self) -> list[np.ndarray]:
        g, out = self.np_random, []
        for t in range(self.horizon):
            mean, origin, dest = self.od_distribution(t)
            k = int(g.poisson(mean))
            o = g.choice(self.n_zones, size=k, p=origin)
            d = np.array([g.choice(self.n_zones, p=dest[z]) for z in o], dtype=int)
            out.append(np.stack([o, d], axis=1).astype(int) if k else np.zeros((0, 2), dtype=int))
        return out

    # -- state -----------------------------------------------------------------------------------------------
    def _start(self, arrivals: list[np.ndarray], positions: np.ndarray) -> None:
        self.arrivals = arrivals  # per step [k, 2] (origin, destination): the scenario, drawn at reset
        self.t = 0
        self.pos = positions.copy()  # [N] zone a driver is in, or will be in when its job ends
        self.busy = np.zeros(self.n_drivers, dtype=int)  # [N] steps until idle
        self.requests = np.zeros((0, 3), dtype=int)  # [R, 3] waiting requests: origin, destination, age
        self._arrive()
        self.totals = {"requests": 0, "served": 0, "expired": 0, "fare": 0.0, "cost": 0.0}
        self.totals["requests"] = len(self.requests)
        self.history: dict[str, list[float]] = {"served": [], "expired": [], "idle": [], "reward": []}

    def _arrive(self) -> None:
        if self.t < self.horizon and len(self.arrivals[self.t]):
            new = np.concatenate([self.arrivals[self.t], np.zeros((len(self.arrivals[self.t]), 1), dtype=int)], axis=1)
            self.requests = np.concatenate([self.requests, new])

    def _obs(self) -> np.ndarray:
        Z, N = self.n_zones, self.n_drivers
        idle = np.bincount(self.pos[self.busy == 0], minlength=Z)
        waiting = np.bincount(self.requests[:, 0], minlength=Z) if len(self.requests) else np.zeros(Z)
        soon = np.bincount(self.pos[(self.busy > 0) & (self.busy <= 2)], minlength=Z)
        phase = self.t / self.horizon
        time = [np.sin(2 * np.pi * phase), np.cos(2 * np.pi * phase), phase]
        return np.concatenate([idle / N, waiting / N, soon / N, time]).astype(np.float32)

    def decode_action(self, action: Any) -> tuple[np.ndarray, int, float]:
        """``(target shares [Z], pickup radius, reposition fraction)`` of an action."""
        if self.action_mode == "templates":
            k = np.asarray(action)
            if k.shape != () or k.dtype.kind not in "iu" or not 0 <= int(k) < len(self.templates):
                raise ValueError(f"action must be an integer template index in [0, {len(self.templates)}), "
                                 f"got {action!r}")
            shares, fraction = self.templates[int(k)]
            return (np.full(self.n_zones, 1 / self.n_zones) if shares is None else shares.copy(),
                    self.max_radius, fraction)
        a = np.asarray(action, dtype=np.float64)
        if a.shape != self.action_space.shape:
            raise ValueError(f"action must have shape {self.action_space.shape}, got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action has NaN or infinite values: {a.tolist()}")
        if self.strict and np.any(np.abs(a) > 1 + 1e-6):
            raise ValueError(f"action {a.tolist()} outside [-1, 1] (strict=True)")
        a = np.clip(a, -1.0, 1.0)
        Z = self.n_zones
        scores = np.exp(3 * (a[:Z] - a[:Z].max()))
        radius = int(round((a[Z] + 1) / 2 * self.max_radius))
        return scores / scores.sum(), radius, float((a[Z + 1] + 1) / 2)

    def encode_action(self, shares: np.ndarray | None, radius: int, fraction: float) -> np.ndarray:
        """An action with target ``shares`` (``None``: even), pickup ``radius`` and reposition ``fraction``."""
        Z = self.n_zones
        if shares is None:
            a = np.zeros(Z)
        else:
            s = np.maximum(np.asarray(shares, dtype=np.float64), 1e-12)
            a = np.clip(np.log(s / s.max()) / 3, -1.0, 0.0)
        r = 2 * min(radius, self.max_radius) / max(1, self.max_radius) - 1 if self.max_radius else 0.0
        return np.concatenate([a, [r, 2 * fraction - 1]]).astype(np.float32)

    # -- gymnasium API ---------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        arrivals = self._sample_requests()
        positions = self.np_random.integers(0, self.n_zones, self.n_drivers)
        self._start(arrivals, positions)
        return self._obs(), {}

    def _match(self, radius: int) -> tuple[int, float, float]:
        served, fare, cost = 0, 0.0, 0.0
        keep = np.ones(len(self.requests), dtype=bool)
        order: Any = np.argsort(-self.requests[:, 2], kind="stable") if len(self.requests) else []
        for j in order:
            o, d, _ = self.requests[j]
            idle = np.flatnonzero(self.busy == 0)
            if idle.size == 0:
                break
            dist = self.distance[self.pos[idle], o]
            if dist.min() > radius:
                continue
            i = idle[int(np.argmin(dist))]  # argmin: the lowest index among the nearest
            pickup, trip = int(self.distance[self.pos[i], o]), int(self.distance[o, d])
            self.busy[i] = max(1, pickup + trip)
            self.pos[i] = d
            keep[j] = False
            served += 1
            fare += self.fare_base + self.fare_per_zone * trip
            cost += self.drive_cost * (pickup + trip)
        self.requests = self.requests[keep]
        return served, fare, cost

    def _reposition(self, shares: np.ndarray, fraction: float) -> float:
        idle = np.flatnonzero(self.busy == 0)
        if idle.size == 0 or fraction <= 0:
            return 0.0
        count = np.bincount(self.pos[idle], minlength=self.n_zones).astype(float)
        want = shares * idle.size
        shortage = np.maximum(0.0, want - count)
        cost = 0.0
        for z in np.argsort(-(count - want), kind="stable"):  # zones with the largest surplus first
            movers = int(np.floor(fraction * max(0.0, count[z] - want[z]) + 1e-9))
            for i in idle[self.pos[idle] == z][:movers]:
                if shortage.max() <= 0:
                    return cost
                best = np.flatnonzero(shortage >= shortage.max() - 1e-9)
                target = int(best[np.argmin(self.distance[z, best])])
                shortage[target] -= 1
                self.busy[i] = self.distance[z, target]
                self.pos[i] = target
                cost += self.drive_cost * self.distance[z, target]
        return cost

    def step(self, action: Any):
        if self.t >= self.horizon:
            raise RuntimeError("step() after the episode ended; call reset()")
        shares, radius, fraction = self.decode_action(action)
        served, fare, cost = self._match(radius)
        cost += self._reposition(shares, fraction)
        idle_now = int(np.sum(self.busy == 0))
        self.busy = np.maximum(0, self.busy - 1)
        self.requests[:, 2] += 1
        expired = int(np.sum(self.requests[:, 2] >= self.patience))
        self.requests = self.requests[self.requests[:, 2] < self.patience]
        self.t += 1
        before = len(self.requests)
        self._arrive()
        reward = fare - cost
        tot = self.totals
        tot["requests"] += len(self.requests) - before
        tot["served"] += served
        tot["expired"] += expired
        tot["fare"] += fare
        tot["cost"] += cost
        for k, v in (("served", served), ("expired", expired), ("idle", idle_now), ("reward", reward)):
            self.history[k].append(float(v))
        info = {"served": served, "expired": expired, "fare": fare, "cost": cost}
        return self._obs(), float(reward), self.t >= self.horizon, False, info

    def episode_metrics(self) -> dict[str, float]:
        """Served rate (served / requests), served and expired counts, profit (fares - driving cost)."""
        tot = self.totals
        rate = tot["served"] / tot["requests"] if tot["requests"] else 1.0
        return {"served_rate": rate, "served": float(tot["served"]), "expired": float(tot["expired"]),
                "profit": tot["fare"] - tot["cost"]}

    def render(self) -> str | np.ndarray | None:
        Z = self.n_zones
        idle = np.bincount(self.pos[self.busy == 0], minlength=Z)
        waiting = np.bincount(self.requests[:, 0], minlength=Z) if len(self.requests) else np.zeros(Z, dtype=int)
        if self.render_mode == "ansi":
            lines = [f"step {self.t}/{self.horizon}  served {self.totals['served']}  expired {self.totals['expired']}"]
            for r in range(self.rows):
                cells = [f"{idle[r * self.cols + c]}d/{waiting[r * self.cols + c]}r" for c in range(self.cols)]
                lines.append("  ".join(f"{s:>7}" for s in cells))
            return "\n".join(lines) + "\n"
        if self.render_mode == "rgb_array":
            # one cell per zone: green = idle drivers, red = waiting requests
            cell = 32
            img = np.full((self.rows * cell, self.cols * cell, 3), 255, dtype=np.uint8)
            for z in range(Z):
                r, c = divmod(z, self.cols)
                y, x = r * cell, c * cell
                img[y : y + cell, x] = img[y, x : x + cell] = 128
                g = min(cell - 4, 4 * int(idle[z]))
                q = min(cell - 4, 4 * int(waiting[z]))
                img[y + cell - 2 - g : y + cell - 2, x + 4 : x + 14] = (40, 160, 60)
                img[y + cell - 2 - q : y + cell - 2, x + 18 : x + 28] = (200, 40, 40)
            return img
        return None
